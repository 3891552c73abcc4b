"""OData query options of list operations: ``$filter``, ``$select`` and paging."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from ._errors import BatchError
from ._store import Document

PAGE_SIZE = 1000
_CLAUSE = re.compile(r"^\s*([A-Za-z/]+)\s+eq\s+'([^']*)'\s*$")


def select(doc: Document, names: str | None) -> Document:
    """``$select``: only the named top-level properties (all without it)."""
    if not names:
        return doc
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    return {name: doc[name] for name in wanted if name in doc}


def _field(doc: Document, path: str) -> Any:
    value: Any = doc
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def filter_docs(docs: list[Document], expression: str | None) -> list[Document]:
    """``$filter`` of ``field eq 'value'`` clauses joined by ``and`` or ``or``."""
    if not expression:
        return docs
    alternatives = []
    for alternative in re.split(r"\s+or\s+", expression):
        clauses = []
        for clause in re.split(r"\s+and\s+", alternative):
            match = _CLAUSE.match(clause.strip("() "))
            if not match:
                raise BatchError(
                    400,
                    "InvalidQueryParameterValue",
                    "localbatch understands $filter clauses of the form field eq 'value', joined by and/or.",
                    {"QueryParameterName": "$filter", "QueryParameterValue": expression},
                )
            clauses.append((match.group(1), match.group(2)))
        alternatives.append(clauses)
    return [
        doc
        for doc in docs
        if any(
            all(str(_field(doc, name)).lower() == value.lower() for name, value in c) for c in alternatives
        )
    ]


def _integer(query: Any, name: str, default: int, minimum: int, maximum: int | None) -> int:
    """A paging parameter as the service checks it: an integer in range, else 400."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise BatchError(
            400,
            "InvalidQueryParameterValue",
            f"The value of {name} must be an integer, {bounds}.",
            {"QueryParameterName": name, "QueryParameterValue": raw},
        )
    return value


def page(request: Request, docs: list[Document]) -> dict[str, Any]:
    """One page of the filtered documents, with ``odata.nextLink`` if more follow."""
    query = request.query_params
    docs = filter_docs(docs, query.get("$filter"))
    size = _integer(query, "maxresults", PAGE_SIZE, 1, PAGE_SIZE)
    start = _integer(query, "$skiptoken", 0, 0, None)
    value = [select(doc, query.get("$select")) for doc in docs[start : start + size]]
    document: dict[str, Any] = {"value": value}
    if start + size < len(docs):
        base = str(request.url.remove_query_params("$skiptoken"))
        document["odata.nextLink"] = f"{base}&$skiptoken={start + size}"
    return document
