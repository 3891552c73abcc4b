"""Each operation localbatch serves, against the Batch REST specification's example for it:
status code, response headers and body fields (the cases: ``conformance_cases.py``).

A case's gaps (what the example shows that localbatch lacks) run as cases of their own,
expected to fail: strictly, so that closing a gap fails the suite until its mark goes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from starlette.routing import Route

from localbatch import LocalBatch
from localbatch._app import build_app
from localbatch._http import ADMIN_PREFIX
from tests.localbatch.conformance import CASES, COMMON_HEADERS, Case, Gap, World


def _params() -> Iterator[Any]:
    for case in CASES:
        yield pytest.param(case, None, id=case.name)
        for number, gap in enumerate(case.gaps, 1):
            mark = pytest.mark.xfail(strict=True, reason=gap.reason)
            yield pytest.param(case, gap, id=f"{case.name}-gap{number}", marks=mark)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One localbatch for every case, with the entities they share."""
    with LocalBatch(tmp_path_factory.mktemp("conformance") / "localbatch", scheduler_interval=0.05) as batch:
        yield World(batch).start()


# -- comparing ---------------------------------------------------------------


def _walk(node: Any, parts: list[str], where: str) -> tuple[list[Any], list[str]]:
    """(the values at the path, the places where it is missing)."""
    if not parts:
        return [node], []
    head, rest = parts[0], parts[1:]
    here = f"{where}/{head}" if where else head
    if head == "*" or head.startswith("["):
        if not isinstance(node, list):
            return [], [f"{here} (not a list)"]
        items = list(enumerate(node))
        if head.startswith("["):
            key, _, wanted = head[1:-1].partition("=")
            items = [
                (i, item)
                for i, item in items
                if isinstance(item, dict) and json.dumps(item.get(key)) == wanted
            ]
        if not items:
            return [], [f"{here} (no such item)"]
        values: list[Any] = []
        missing: list[str] = []
        for index, item in items:
            found, lost = _walk(item, rest, f"{where}/{index}" if where else str(index))
            values += found
            missing += lost
        return values, missing
    if not isinstance(node, dict) or node.get(head) is None:
        return [], [here]
    return _walk(node[head], rest, here)


def lookup(body: Any, path: str) -> tuple[list[Any], list[str]]:
    return _walk(body, path.split("/"), "")


def missing_fields(body: Any, paths: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(place for path in paths for place in lookup(body, path)[1]))


def missing_headers(response: requests.Response, names: tuple[str, ...]) -> list[str]:
    present = {name.lower() for name in response.headers}
    return [name for name in names if name.lower() not in present]


def body_of(response: requests.Response) -> Any:
    """The JSON body; a file's bytes (or none) count as an empty one."""
    return response.json() if "json" in response.headers.get("Content-Type", "") else {}


def route_pattern(route: str) -> re.Pattern[str]:
    """``/pools/{pool_id}/files/{file_path:path}`` as a regular expression over request paths."""
    parts = re.split(r"(\{\w+(?::path)?\})", route)
    return re.compile(
        "".join(
            ".+" if part.endswith(":path}") else "[^/]+" if part.startswith("{") else re.escape(part)
            for part in parts
        )
    )


# -- the cases ---------------------------------------------------------------


@pytest.mark.parametrize(("case", "gap"), list(_params()))
def test_the_answer_has_what_the_spec_example_shows(world: World, case: Case, gap: Gap | None) -> None:
    request = case.request(world)
    method, route = case.route.split(" ", 1)
    assert request.method == method, case.route
    assert route_pattern(route).fullmatch(request.path), (request.path, case.route)

    response = world.send(request)

    assert response.status_code == case.status, f"{response.status_code}: {response.text}"
    body = body_of(response)
    if gap is not None:
        missing = missing_headers(response, gap.headers) + missing_fields(body, gap.fields)
        assert not missing, f"{gap.reason}; missing: {missing}"
        return
    missing = missing_headers(response, (*COMMON_HEADERS, *case.headers)) + missing_fields(body, case.fields)
    assert not missing, f"missing: {missing}"
    assert response.headers["client-request-id"] == response.request.headers["client-request-id"]
    for path, expected in case.values.items():
        values, _ = lookup(body, path)
        assert values, path
        assert all(value == expected and type(value) is type(expected) for value in values), (path, values)


def test_every_operation_localbatch_serves_has_a_case(world: World) -> None:
    """Adding an operation to localbatch is adding a case for it (HEAD is GET's, unless a route
    serves HEAD alone)."""
    app = build_app(world.batch.service, {})
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.methods and not route.path.startswith((ADMIN_PREFIX, "/{rest"))
        for method in route.methods
    }
    required = {(method, path) for method, path in served if method != "HEAD" or ("GET", path) not in served}
    covered = {tuple(case.route.split(" ", 1)) for case in CASES}
    assert covered <= served, covered - served
    assert required <= covered, sorted(required - covered)


# -- the comparing itself ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "values", "missing"),
    [
        ("a/b", [1], []),
        ("a/c", [], ["a/c"]),
        ("a/n", [], ["a/n"]),  # null is missing
        ("value/*/id", ["x", "y"], []),
        ("value/*/size", [3], ["value/1/size"]),
        ("value/[dir=false]/size", [3], []),
        ("value/[dir=true]/size", [], ["value/1/size"]),
        ("none/*/id", [], ["none/* (no such item)"]),
        ("value/[dir=null]/id", [], ["value/[dir=null] (no such item)"]),
    ],
)
def test_lookup_finds_fields_in_every_item_and_names_what_is_missing(
    path: str, values: list[Any], missing: list[str]
) -> None:
    body = {
        "a": {"b": 1, "n": None},
        "value": [{"id": "x", "size": 3, "dir": False}, {"id": "y", "dir": True}],
        "none": [],
    }
    assert lookup(body, path) == (values, missing)


@pytest.mark.parametrize(
    ("route", "path", "matches"),
    [
        ("/pools/{pool_id}", "/pools/p-1", True),
        ("/pools/{pool_id}", "/pools/p/nodes", False),
        ("/jobs/{job_id}/tasks/{task_id}/files/{file_path:path}", "/jobs/j/tasks/t/files/wd/a.txt", True),
        ("/jobs/{job_id}/tasks/{task_id}/files/{file_path:path}", "/jobs/j/tasks/t/files", False),
        ("/supportedimages", "/supportedimagesX", False),
    ],
)
def test_a_route_pattern_matches_the_paths_of_its_route(route: str, path: str, matches: bool) -> None:
    assert bool(route_pattern(route).fullmatch(path)) is matches
