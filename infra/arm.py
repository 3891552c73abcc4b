"""A small Azure Resource Manager client for the preflight checks: azure-core's pipeline
(bearer token, retries, logging), no management SDK per service."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

ARM = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"
PRICES = "https://prices.azure.com/api/retail/prices"


class ArmError(Exception):
    """A refused or failed request, with the service's status and error code when it gave them."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _local(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost")


class Arm:
    """GET and POST on ARM paths with the signed-in user's token; JSON in and out."""

    def __init__(self, credential: TokenCredential, endpoint: str = ARM, timeout: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        self._timeout = timeout
        self._client: PipelineClient[HttpRequest, Any] = PipelineClient(
            self.endpoint,
            policies=[
                RetryPolicy(retry_total=3, retry_backoff_factor=0.5),
                BearerTokenCredentialPolicy(credential, SCOPE),
            ],
        )
        # Plain http only to a stand-in on this machine (the tests'); Azure is https.
        self._https = not _local(self.endpoint)

    def token_claims(self) -> dict[str, Any]:
        """Who is signed in, from the token's claims (read, not verified: for display only)."""
        token = self.credential.get_token(SCOPE).token
        payload = token.split(".")[1] if token.count(".") == 2 else ""
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return {}
        return claims if isinstance(claims, dict) else {}

    def get(self, path: str, api_version: str, **params: str) -> Any:
        return self._send("GET", path, api_version, params, None)

    def list(self, path: str, api_version: str, **params: str) -> list[dict[str, Any]]:
        """Every item of a list operation, following ``nextLink``."""
        page = self.get(path, api_version, **params)
        items: list[dict[str, Any]] = list(page.get("value") or [])
        while page.get("nextLink"):
            page = self._send("GET", page["nextLink"], "", {}, None)
            items += page.get("value") or []
        return items

    def post(self, path: str, api_version: str, body: dict[str, Any]) -> Any:
        return self._send("POST", path, api_version, {}, body)

    def _send(
        self, method: str, path: str, api_version: str, params: dict[str, str], body: dict[str, Any] | None
    ) -> Any:
        if path.startswith(self.endpoint):  # a nextLink: complete already
            request = HttpRequest(method, path)
        else:
            query = {"api-version": api_version, **params}
            request = HttpRequest(method, f"{self.endpoint}{path}", params=query, json=body)
        try:
            response = self._client.send_request(
                request, enforce_https=self._https, connection_timeout=self._timeout
            )
            response.raise_for_status()
            return response.json()
        except HttpResponseError as exc:
            error = _error_of(exc)
            raise ArmError(
                f"{method} {path}: HTTP {exc.status_code} {error.get('code', '')}: "
                f"{error.get('message', '')}",
                exc.status_code,
                error.get("code"),
            ) from exc
        except AzureError as exc:
            raise ArmError(f"{method} {path}: {exc}") from exc


def _error_of(exc: HttpResponseError) -> dict[str, str]:
    try:
        body = json.loads(exc.response.text()) if exc.response is not None else {}
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def retail_prices(filter_: str, endpoint: str = PRICES) -> list[dict[str, Any]]:
    """Items of the public retail prices API (no sign-in) matching an OData filter, every page."""
    client: PipelineClient[HttpRequest, Any] = PipelineClient(endpoint, policies=[RetryPolicy(retry_total=3)])
    items: list[dict[str, Any]] = []
    url: str | None = endpoint
    params: dict[str, str] | None = {"$filter": filter_, "currencyCode": "USD"}
    while url:
        try:
            response = client.send_request(HttpRequest("GET", url, params=params), connection_timeout=30)
            response.raise_for_status()
        except AzureError as exc:
            raise ArmError(f"retail prices: {exc}") from exc
        page = response.json()
        items += page.get("Items") or []
        url, params = page.get("NextPageLink"), None
    return items
