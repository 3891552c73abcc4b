"""Shared Key authentication, verified as the Batch service does.

The string to sign (the same one azure-batch's ``BatchSharedKeyAuthPolicy``
builds): the verb; the values of eleven standard headers; every ``ocp-*``
header as ``name:value`` sorted by name; ``/{account}{path}``; every query
parameter as ``\\nname:value`` sorted by name. HMAC-SHA256 with the base64
account key, base64-encoded, in ``Authorization: SharedKey account:signature``.

As the service does, a request must carry its time (``ocp-date``, ``x-ms-date``
or ``Date``) within 15 minutes of the server's, so a captured request cannot be
replayed later; and a query parameter may appear once, so that what is signed
is what is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs

from ._errors import BatchError

MAX_SKEW = timedelta(minutes=15)
DATE_HEADERS = ("ocp-date", "x-ms-date", "date")

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
    _check_time(pairs)
    _check_query(query_string)
    key = accounts.get(account)
    if key is None:
        raise _refused(f"The account {account!r} is not served here.")
    expected = sign(key, string_to_sign(method, raw_path, query_string, pairs, account))
    if not hmac.compare_digest(expected, signature):
        raise _refused(
            "The MAC signature found in the HTTP request is not the same as any computed signature."
        )
    return account


def _check_time(pairs: list[tuple[str, str]]) -> None:
    values = {name.lower(): value for name, value in pairs}
    sent = next((values[name] for name in DATE_HEADERS if values.get(name)), None)
    if sent is None:
        raise _refused("Request date header not specified: send ocp-date, x-ms-date or Date.")
    try:
        when = parsedate_to_datetime(sent)
    except (TypeError, ValueError):
        raise _refused(f"The request date {sent!r} is not an RFC 1123 date.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - when) > MAX_SKEW:
        raise _refused(f"Request date header too old or too far ahead: {sent} (more than 15 minutes off).")


def _check_query(query_string: str) -> None:
    repeated = sorted(
        name for name, values in parse_qs(query_string, keep_blank_values=True).items() if len(values) > 1
    )
    if repeated:
        raise BatchError(
            400,
            "InvalidQueryParameterValue",
            f"The query parameter {repeated[0]} is given more than once.",
            {"QueryParameterName": repeated[0]},
        )
