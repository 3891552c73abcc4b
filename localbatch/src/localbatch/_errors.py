"""Batch service errors, with the service's codes and OData error bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class BatchError(Exception):
    """An error the service answers with ``status`` and an OData error body."""

    def __init__(self, status: int, code: str, message: str, values: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.values = values or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        request_id = request_id or str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        document: dict[str, Any] = {
            "odata.metadata": "https://localbatch/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
            "code": self.code,
            "message": {"lang": "en-US", "value": f"{self.message}\nRequestId:{request_id}\nTime:{now}"},
        }
        if self.values:
            document["values"] = [{"key": key, "value": value} for key, value in self.values.items()]
        return document


def too_large(limit: int) -> BatchError:
    return BatchError(
        413,
        "RequestBodyTooLarge",
        "The request body is too large and exceeds the maximum permissible limit.",
        {"MaxLimit": str(limit)},
    )


def not_found(kind: str, code: str) -> BatchError:
    return BatchError(404, code, f"The specified {kind} does not exist.")


def exists(kind: str, code: str) -> BatchError:
    return BatchError(409, code, f"The specified {kind} already exists.")


def invalid_property(name: str, value: object, reason: str) -> BatchError:
    return BatchError(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        {"PropertyName": name, "PropertyValue": str(value), "Reason": reason},
    )


def missing_property(name: str) -> BatchError:
    return BatchError(
        400,
        "MissingRequiredProperty",
        "A required property was not specified in the request body.",
        {"PropertyName": name},
    )
