"""Conformance cases: account."""

from __future__ import annotations

from ._fields import NODE_STATES
from ._model import ODATA, Case, Request, each

CASES: tuple[Case, ...] = (
    # -- the account ----------------------------------------------------------
    Case(
        name="Account_ListSupportedImages",
        route="GET /supportedimages",
        example="2023-11-01.18.0/AccountListSupportedImages.json (also 2022-01-01.15.0)",
        request=lambda world: Request("GET", "/supportedimages"),
        status=200,
        fields=(
            ODATA,
            *each(
                "nodeAgentSKUId",
                "imageReference/publisher",
                "imageReference/offer",
                "imageReference/sku",
                "imageReference/version",
                "verificationType",
                "osType",
            ),
        ),
        values={"value/*/osType": "linux", "value/*/verificationType": "verified"},
    ),
    Case(
        name="Account_ListPoolNodeCounts",
        route="GET /nodecounts",
        example="2024-07-01.20.0/AccountListPoolNodeCounts.json (also 2024-02-01.19.0, 2023-05-01.17.0)",
        request=lambda world: Request("GET", "/nodecounts"),
        status=200,
        fields=(
            ODATA,
            *each("poolId"),
            *each(*(f"{kind}/{state}" for kind in ("dedicated", "lowPriority") for state in NODE_STATES)),
        ),
    ),
)
