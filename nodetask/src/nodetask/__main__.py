"""The ``nodetask`` command: count the top N words of one file and upload the result."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from . import _contract as contract
from ._contract import SAS_ENV
from ._count import ENGINES, count_file
from ._exceptions import ExitCode, InputError, NodetaskError, UsageError
from ._inputs import Input, gather_inputs
from ._report import BatchContext, ErrorRecord, WordCountReport, counts_file_bytes

if TYPE_CHECKING:
    from ._upload import OutputBlob, ResultUploader

EXIT_CODES_HELP = "\n".join(f"  {code.value}  {code.name.lower().replace('_', ' ')}" for code in ExitCode)


def _positive(name: str, minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, not {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, not {number}")
        return number

    return parse


def version() -> str:
    """The installed distribution's version ("unknown" when run from a source tree)."""
    try:
        return metadata.version("batchwords-nodetask")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nodetask",
        description=(
            "Count the top N words of UTF-8 text files (the 2016 Azure Batch "
            "tutorial's rule), write each result beside its input and upload it to a "
            "blob container with a write-only SAS. Several inputs are counted one "
            "after the other, each with its own results; one that cannot be counted "
            "is reported (and its _ERROR.json uploaded) and the others still are."
        ),
        epilog=(
            "Words: split on whitespace, ASCII punctuation stripped from both ends, "
            "case-sensitive unless --ignore-case; empty tokens and a leading "
            "byte-order mark are dropped. Ties: count descending, then the word "
            "in code-point order.\n\nExit codes:\n" + EXIT_CODES_HELP
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    given = parser.add_argument_group("inputs (at least one)")
    given.add_argument(
        "--filepath",
        action="append",
        default=[],
        metavar="FILE",
        help="a text file to count, its results under --blob-prefix; repeat for several",
    )
    given.add_argument(
        "--input",
        nargs=2,
        action="append",
        default=[],
        metavar=("FILE", "BLOB_PREFIX"),
        help="a text file to count and the blob prefix of its own results; repeat for several",
    )
    given.add_argument(
        "--manifest",
        metavar="MANIFEST",
        help="a UTF-8 file listing inputs, one per line: FILE, or FILE<TAB>BLOB_PREFIX",
    )
    parser.add_argument(
        "--numwords", type=_positive("--numwords", 1), default=10, help="how many top words (default 10)"
    )
    where = parser.add_argument_group("upload destination")
    where.add_argument(
        "--container-url",
        help="full container URL, e.g. an emulator's http://127.0.0.1:PORT/devstoreaccount1/output",
    )
    where.add_argument("--storageaccount", help="storage account name (with --storagecontainer)")
    where.add_argument("--storagecontainer", help="container name (with --storageaccount)")
    where.add_argument(
        "--endpoint-suffix",
        default="core.windows.net",
        help="blob endpoint suffix (default core.windows.net)",
    )
    where.add_argument(
        "--sastoken",
        help=f"container SAS with create+write permission; prefer the {SAS_ENV} environment variable, "
        "which keeps it off the command line",
    )
    where.add_argument(
        "--blob-prefix", default="", help="prefix for the uploaded blob names, e.g. JOB/ (default none)"
    )
    where.add_argument("--no-upload", action="store_true", help="only write the result locally")
    where.add_argument("--overwrite", action="store_true", help="replace an existing, different result")
    where.add_argument(
        "--retries", type=_positive("--retries", 0), default=3, help="storage retries (default 3)"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", help="where to write the result (default: beside the input)")
    out.add_argument(
        "--format", choices=("text", "json"), default="text", help="result format (default text)"
    )
    out.add_argument(
        "--ignore-case", action="store_true", help="count words case-insensitively (lower-cased)"
    )
    out.add_argument(
        "--errors",
        choices=("strict", "replace"),
        default="strict",
        help="undecodable bytes: fail (strict, default) or count with U+FFFD (replace)",
    )
    out.add_argument("--allow-empty", action="store_true", help="accept an input with no words")
    out.add_argument(
        "--workers",
        type=_positive("--workers", 1),
        default=1,
        help="threads counting one large file with the Arrow engine (default 1)",
    )
    out.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="counting engine: arrow (pyarrow compute), python (the reference, no dependency) or "
        "auto (default: arrow, but python for files under 2 MiB, whose start-up it wins)",
    )
    out.add_argument("--quiet", action="store_true", help="do not print the result table")
    return parser


def _resolve_destination(args: argparse.Namespace) -> tuple[str, str] | None:
    """(container URL without SAS, SAS) or None for --no-upload."""
    if args.no_upload:
        return None
    from ._upload import container_url_for, redact  # noqa: PLC0415 (heavy: see run())

    url: str | None = args.container_url
    if url and (args.storageaccount or args.storagecontainer):
        raise UsageError("give either --container-url or --storageaccount/--storagecontainer, not both")
    if not url:
        if not (args.storageaccount and args.storagecontainer):
            raise UsageError(
                "no upload destination: give --container-url, or --storageaccount and "
                "--storagecontainer, or pass --no-upload to keep the result local"
            )
        url = container_url_for(args.storageaccount, args.storagecontainer, args.endpoint_suffix)
    sas = args.sastoken or ""
    if "?" in url:
        url, _, query = url.partition("?")
        if sas and query:
            raise UsageError("the SAS is given twice: in --container-url and in --sastoken; keep one")
        sas = sas or query
    sas = sas or os.environ.get(SAS_ENV, "")
    if not sas:
        raise UsageError(
            f"no SAS for {redact(url)}: set {SAS_ENV} (or --sastoken) to a container SAS "
            "with create+write permission"
        )
    return url.rstrip("/"), sas


#: Bytes of a local output file name: file systems allow 255, and its temporary name needs room.
MAX_LOCAL_NAME = 200


def local_name(name: str) -> str:
    """A result file's local name: ``name``, or for a very long input name its first bytes,
    a digest of the whole and its suffix (``_OUTPUT.json``); the blob keeps the full name."""
    raw = name.encode("utf-8")
    if len(raw) <= MAX_LOCAL_NAME:
        return name
    cut = max(name.rfind("_OUTPUT"), name.rfind("_COUNTS"))
    stem, tail = (name[:cut], name[cut:]) if cut > 0 else (name, "")
    digest = hashlib.sha256(raw).hexdigest()[:12]
    room = MAX_LOCAL_NAME - len(tail.encode("utf-8")) - len(digest) - 1
    short = stem.encode("utf-8")[: max(room, 1)].decode("utf-8", errors="ignore")
    return f"{short}~{digest}{tail}"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside the target, then rename it into place."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".nodetask-", delete=False) as tmp:
            tmp_name = tmp.name
            tmp.write(data)
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        raise UsageError(
            f"cannot write {path} ({exc.strerror or exc}); choose a writable --output-dir"
        ) from exc


def _progress_for(label: str) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        if total:
            line = f"\rnodetask: {label}{done / total:6.1%} of {total:,} bytes"
            print(line, end="", file=sys.stderr, flush=True)

    return progress


def run(args: argparse.Namespace) -> int:
    inputs = gather_inputs(
        args.filepath,
        args.input,
        args.manifest,
        default_prefix=args.blob_prefix,
        shared_output_dir=args.output_dir is not None,
    )
    destination = _resolve_destination(args)
    uploader: ResultUploader | None = None
    if destination is not None:
        # Imported only to upload: azure-storage-blob is heavy for a local count.
        from ._upload import ResultUploader  # noqa: PLC0415

        container_url, sas = destination
        uploader = ResultUploader(container_url, sas, retries=args.retries)

    failed: list[Input] = []
    for number, item in enumerate(inputs, start=1):
        label = f"[{number}/{len(inputs)}] {item.name}: " if len(inputs) > 1 else ""
        try:
            _count_one(args, item, uploader, label)
        except InputError as exc:
            # One input that cannot be counted does not stop the others; it is reported
            # here, in its own _ERROR.json, and by the exit code.
            print(f"nodetask: error: {exc}", file=sys.stderr)
            failed.append(item)
            if uploader is not None:
                _upload(uploader, _error_blob(item, exc), args.overwrite)
    if failed and len(inputs) > 1:
        names = ", ".join(str(item.path) for item in failed[:10]) + (", ..." if len(failed) > 10 else "")
        summary = f"{len(failed)} of {len(inputs)} inputs could not be counted: {names}"
        print(f"nodetask: {summary}", file=sys.stderr)
    return ExitCode.BAD_INPUT if failed else ExitCode.OK


def _count_one(args: argparse.Namespace, item: Input, uploader: ResultUploader | None, label: str) -> None:
    """Count one input, write its results locally and upload them."""
    input_path = item.path
    show_progress = sys.stderr.isatty() and not args.quiet
    started = time.perf_counter()
    counts = count_file(
        str(input_path),
        ignore_case=args.ignore_case,
        errors=args.errors,
        workers=args.workers,
        progress=_progress_for(label) if show_progress else None,
        engine=args.engine,
    )
    if show_progress:
        print(file=sys.stderr)
    if not counts.counts and not args.allow_empty:
        what = "is empty" if counts.bytes_read == 0 else f"has no words in {counts.bytes_read:,} bytes"
        raise InputError(f"{input_path}: {what}; remove it from the inputs or pass --allow-empty")
    report = WordCountReport(
        input_name=input_path.name,
        counts=counts,
        numwords=args.numwords,
        ignore_case=args.ignore_case,
        errors=args.errors,
        elapsed_seconds=time.perf_counter() - started,
        batch=BatchContext.from_environ(),
    )

    output_dir = Path(args.output_dir) if args.output_dir else input_path.parent
    result_name = contract.result_name(input_path.name, args.format)
    counts_name = contract.counts_name(input_path.name)
    rendered = report.to_json() if args.format == "json" else report.to_text()
    counts_data = counts_file_bytes(counts)
    _write_atomically(output_dir / local_name(counts_name), counts_data)
    _write_atomically(output_dir / local_name(result_name), rendered.encode("utf-8"))
    if not args.quiet:
        sys.stdout.write(rendered)
        written = f"{output_dir / local_name(result_name)} and {local_name(counts_name)}"
        print(f"nodetask: wrote {written}", file=sys.stderr)

    if uploader is not None:
        from ._upload import OutputBlob  # noqa: PLC0415

        content_type = "application/json" if args.format == "json" else "text/plain; charset=utf-8"
        # The counts file first: a result blob means its counts are there too.
        counts_blob = OutputBlob(
            item.blob_prefix + counts_name,
            counts_data,
            "application/gzip",
            digest=hashlib.sha256(counts_data).hexdigest(),
        )
        result_blob = OutputBlob(
            item.blob_prefix + result_name, rendered.encode("utf-8"), content_type, digest=report.digest()
        )
        for blob in (counts_blob, result_blob):
            _upload(uploader, blob, args.overwrite)


def _error_blob(item: Input, exc: InputError) -> OutputBlob:
    """The record of an input that could not be counted (the same bytes on every retry)."""
    from ._upload import OutputBlob  # noqa: PLC0415

    data = ErrorRecord(item.name, int(exc.exit_code), str(exc)).to_json().encode("utf-8")
    name = item.blob_prefix + contract.error_name(item.name)
    return OutputBlob(name, data, "application/json", digest=hashlib.sha256(data).hexdigest())


def _upload(uploader: ResultUploader, blob: OutputBlob, overwrite: bool) -> None:
    outcome = uploader.upload(blob, overwrite=overwrite)
    print(f"nodetask: {outcome} {uploader.describe(blob.name)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run nodetask; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage error
        return int(exc.code or 0)
    try:
        return run(args)
    except NodetaskError as exc:
        print(f"nodetask: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nodetask: interrupted", file=sys.stderr)
        return 130


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
