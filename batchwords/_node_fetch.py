"""Fetch the wheels of a node's install, waiting out what a first deployment goes through.

Runs on the node before nodetask exists, so it uses the standard library only:
``batchwords._pool`` inlines this file into the StartTask's and the job
preparation task's command lines (keep it standalone and short). Batch does not
retry a task whose resource files fail to download, and new role assignments
take up to about 10 minutes to apply: so the wheels are fetched here, with the
pool's managed identity (a token from the instance metadata service) or a SAS
in the URL, retrying for a bounded time and saying what is being waited for.
Every file is checked against the sha256 its release records before it takes
its name, so pip never sees bytes the release does not name.
"""

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

IMDS = "http://169.254.169.254/metadata/identity/oauth2/token"
#: Answers that can turn good: roles still propagating (403), throttling, the service's own errors.
RETRIED = {403, 404, 408, 409, 429, 500, 502, 503, 504}
MAX_DELAY = 60.0


def token(imds: str, identity: str) -> str:
    query = urllib.parse.urlencode(
        {"api-version": "2018-02-01", "resource": "https://storage.azure.com/", "msi_res_id": identity}
    )
    request = urllib.request.Request(imds + "?" + query, headers={"Metadata": "true"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (main checks the schemes)
        return str(json.load(response)["access_token"])


class Refused(Exception):
    """The bytes fetched are not the ones the release names: never retried, never kept."""


def fetch(url: str, target: str, sha256: str, identity: str | None, imds: str) -> None:
    headers = {"x-ms-version": "2021-08-06"}
    if identity:
        try:
            headers["Authorization"] = "Bearer " + token(imds, identity)
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            raise OSError(f"no token for the pool identity from the metadata service: {exc}") from exc
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (main checks the schemes)
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=120) as response, open(target + ".part", "wb") as out:  # noqa: S310
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        os.remove(target + ".part")
        raise Refused(f"its sha256 is {digest.hexdigest()}, the release records {sha256}")
    os.replace(target + ".part", target)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="batchwords-fetch")
    parser.add_argument("--identity", help="resource id of the managed identity to download with")
    parser.add_argument("--imds", default=IMDS)
    parser.add_argument("--wait", type=float, default=900.0, help="seconds to keep retrying")
    parser.add_argument("--delay", type=float, default=5.0, help="first pause between tries")
    parser.add_argument("files", nargs="+", metavar="TARGET URL SHA256")
    args = parser.parse_args(argv)
    files = list(zip(args.files[::3], args.files[1::3], args.files[2::3], strict=False))
    if len(args.files) % 3 or not all(
        url.startswith(("https://", "http://")) and len(sha) == 64 and not sha.strip("0123456789abcdef")
        for _, url, sha in files
    ):
        parser.error("give TARGET URL SHA256 triples, with http(s) URLs and lowercase hex digests")
    if not args.imds.startswith("http://"):
        parser.error("--imds must be an http URL")
    deadline = time.monotonic() + args.wait
    for target, url, sha256 in files:
        shown = url.split("?")[0]
        delay = args.delay
        while True:
            try:
                fetch(url, target, sha256, args.identity, args.imds)
                print("batchwords: fetched " + shown, flush=True)
                break
            except Refused as exc:
                sys.exit(f"batchwords: refused {shown}: {exc} (not installed, not retried)")
            except urllib.error.HTTPError as exc:
                code = exc.headers.get("x-ms-error-code") or exc.reason
                why = f"HTTP {exc.code} {code}"
                if exc.code not in RETRIED:
                    sys.exit(f"batchwords: cannot fetch {shown}: {why} (not retried)")
            except (urllib.error.URLError, OSError) as exc:
                why = str(exc)
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit(
                    f"batchwords: gave up fetching {shown} after {args.wait:.0f} s: {why}. Check that the "
                    "pool identity may read the application container (Storage Blob Data Reader)"
                )
            pause = min(delay, left)
            print(
                f"batchwords: waiting for {shown}: {why} (new role assignments take up to 10 minutes "
                f"to apply); retrying in {pause:.0f} s, giving up in {left:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(pause)
            delay = min(delay * 2, MAX_DELAY)


if __name__ == "__main__":
    main()
