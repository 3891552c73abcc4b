"""OData query options of list operations: ``$filter``, ``$select`` and paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from odata_query import ast as q
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser
from starlette.requests import Request

from ._errors import BatchError
from ._store import Document

PAGE_SIZE = 1000
_LEXER, _PARSER = ODataLexer(), ODataParser()


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


def _bad_filter(expression: str, why: str) -> BatchError:
    return BatchError(
        400,
        "InvalidQueryParameterValue",
        f"The $filter is not one localbatch can evaluate: {why}.",
        {"QueryParameterName": "$filter", "QueryParameterValue": expression},
    )


def _parse(expression: str) -> q._Node:
    try:
        tree: q._Node = _PARSER.parse(_LEXER.tokenize(expression))
    except (ODataException, SyntaxError, ValueError, TypeError) as exc:
        raise _bad_filter(expression, str(exc) or type(exc).__name__) from exc
    return tree


def _value(node: q._Node, doc: Document, expression: str) -> Any:
    """A field of the document (``a/b`` for nested ones) or a literal."""
    if isinstance(node, q.Identifier):
        return _field(doc, node.name)
    if isinstance(node, q.Attribute):
        owner = _value(node.owner, doc, expression)
        return owner.get(node.attr) if isinstance(owner, dict) else None
    if isinstance(node, q.Integer):
        return int(node.val)
    if isinstance(node, q.Float):
        return float(node.val)
    if isinstance(node, q.Boolean):
        return node.val.lower() == "true"
    if isinstance(node, q.Null):
        return None
    if isinstance(node, q.String | q.DateTime):
        return node.val
    raise _bad_filter(expression, f"{type(node).__name__} is not supported")


def _comparable(value: Any) -> Any:
    # The service compares enum and string values without regard to case.
    return value.lower() if isinstance(value, str) else value


_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    q.Eq: lambda a, b: a == b,
    q.NotEq: lambda a, b: a != b,
    q.Lt: lambda a, b: a is not None and b is not None and a < b,
    q.LtE: lambda a, b: a is not None and b is not None and a <= b,
    q.Gt: lambda a, b: a is not None and b is not None and a > b,
    q.GtE: lambda a, b: a is not None and b is not None and a >= b,
}


def _holds(node: q._Node, doc: Document, expression: str) -> bool:
    """``eq ne gt ge lt le``, ``and or not``, parentheses and ``startswith(field,'text')``."""
    if isinstance(node, q.BoolOp):
        if isinstance(node.op, q.And):
            return _holds(node.left, doc, expression) and _holds(node.right, doc, expression)
        return _holds(node.left, doc, expression) or _holds(node.right, doc, expression)
    if isinstance(node, q.UnaryOp) and isinstance(node.op, q.Not):
        return not _holds(node.operand, doc, expression)
    if isinstance(node, q.Compare) and type(node.comparator) in _COMPARE:
        left = _comparable(_value(node.left, doc, expression))
        right = _comparable(_value(node.right, doc, expression))
        try:
            return bool(_COMPARE[type(node.comparator)](left, right))
        except TypeError:
            return False  # a string against a number matches nothing, as on the service
    if isinstance(node, q.Call) and node.func.name.lower() == "startswith" and len(node.args) == 2:
        value = _value(node.args[0], doc, expression)
        prefix = _value(node.args[1], doc, expression)
        return isinstance(value, str) and isinstance(prefix, str) and value.lower().startswith(prefix.lower())
    raise _bad_filter(expression, f"{type(node).__name__} is not supported")


def filter_docs(docs: list[Document], expression: str | None) -> list[Document]:
    """``$filter``, parsed with odata-query's OData grammar and evaluated over each document."""
    if not expression:
        return docs
    tree = _parse(expression)
    _check(tree, expression)  # refused whether or not there are documents to evaluate it on
    return [doc for doc in docs if _holds(tree, doc, expression)]


_VALUES = (q.Identifier, q.Attribute, q.Integer, q.Float, q.Boolean, q.Null, q.String, q.DateTime)


def _check(node: q._Node, expression: str) -> None:
    """Every part of the expression is one ``_holds`` evaluates (not only those it reaches)."""
    if isinstance(node, q.BoolOp):
        _check(node.left, expression)
        _check(node.right, expression)
    elif isinstance(node, q.UnaryOp) and isinstance(node.op, q.Not):
        _check(node.operand, expression)
    elif isinstance(node, q.Compare) and type(node.comparator) in _COMPARE:
        for side in (node.left, node.right):
            if not isinstance(side, _VALUES):
                raise _bad_filter(expression, f"{type(side).__name__} is not supported in a comparison")
    elif not (
        isinstance(node, q.Call)
        and node.func.name.lower() == "startswith"
        and len(node.args) == 2
        and all(isinstance(arg, _VALUES) for arg in node.args)
    ):
        raise _bad_filter(expression, f"{type(node).__name__} is not supported")


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
