"""Shared Key authentication, verified as the Batch service does.

The string to sign (the same one azure-batch's ``BatchSharedKeyAuthPolicy``
builds): the verb; the values of eleven standard headers; every ``ocp-*``
header as ``name:value`` sorted by name; ``/{account}{path}``; every query
parameter as ``\\nname:value`` sorted by name. HMAC-SHA256 with the base64
account key, base64-encoded, in ``Authorization: SharedKey account:signature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs

from ._errors import BatchError

SIGNED_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)


def string_to_sign(
    method: str, raw_path: str, query_string: str, headers: Iterable[tuple[str, str]], account: str
) -> str:
    values: dict[str, str] = {}
    ocp: list[tuple[str, str]] = []
    for name, value in headers:
        lowered = name.lower()
        if not value:
            continue
        values[lowered] = value
        if "ocp-" in lowered:
            ocp.append((lowered, value))
    if method not in ("GET", "HEAD") and "content-length" not in values:
        values["content-length"] = "0"
    text = method + "\n" + "\n".join(values.get(name, "") for name in SIGNED_HEADERS) + "\n"
    for name, value in sorted(ocp):
        text += f"{name}:{value}\n"
    text += f"/{account}{raw_path}"
    query = parse_qs(query_string)
    for name in sorted(query):
        if query[name][0]:
            text += f"\n{name}:{query[name][0]}"
    return text


def sign(key: str, text: str) -> str:
    digest = hmac.new(base64.b64decode(key), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _refused(reason: str) -> BatchError:
    return BatchError(
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization "
        "header is correctly formed including the signature.",
        {"AuthenticationErrorDetail": reason},
    )


def verify(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    accounts: Mapping[str, str],
) -> str:
    """Check the request's signature; returns the account name or raises 403."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    authorization = next((value for name, value in pairs if name.lower() == "authorization"), "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme != "SharedKey" or ":" not in credentials:
        raise _refused("The Authorization header is missing or is not a SharedKey header.")
    account, _, signature = credentials.partition(":")
    key = accounts.get(account)
    if key is None:
        raise _refused(f"The account {account!r} is not served here.")
    expected = sign(key, string_to_sign(method, raw_path, query_string, pairs, account))
    if not hmac.compare_digest(expected, signature):
        raise _refused(
            "The MAC signature found in the HTTP request is not the same as any computed signature."
        )
    return account
