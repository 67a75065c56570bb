"""The OpenAPI document, made to say what the API does.

FastAPI documents a 422 for every validation error; this API answers 400 (RFC 9457 problem
JSON, the field named in `detail`), and also 401, 403, 404, 409, 413, 429 and 503, none of
which FastAPI can see. Some answers are not JSON: an export is JSON Lines or CSV, the public
key is PEM text, the metrics are Prometheus text. This fills those in after FastAPI builds the
document, from one table, so a route added later is covered the same way (schemathesis checks
the document against the running server: tests/e2e/test_openapi.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = "application/problem+json"
_PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}},
}
_WHY = {
    "400": "Invalid input: a field is missing, malformed or out of range (named in `detail`).",
    "401": "No valid API key (send `Authorization: Bearer <key>`).",
    "403": "The key's role or tenant does not allow this.",
    "404": "No such resource, or not visible to this key.",
    "409": "Conflicts with the current state (quota, an existing name, the last platform-admin key).",
    "413": "The request body is over the limit.",
    "429": "Too many requests (a rate limit, or repeated failed authentications); see `Retry-After`.",
    "503": "The platform cannot do this now (the audit log could not record it, or no replica is ready).",
}
_CHANGES = {"post", "put", "patch", "delete"}
# Answers that are not JSON, by (method, path): media type and schema of the 200 answer.
_MEDIA: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/audit/export"): {"application/jsonl": {"schema": {"type": "string"}},
                                      "text/csv": {"schema": {"type": "string"}}},
    ("get", "/api/v1/audit/public-key"): {"text/plain": {"schema": {"type": "string"}}},
    ("get", "/metrics"): {"text/plain": {"schema": {"type": "string"}}},
}


def install(api: FastAPI) -> None:
    """Make `api.openapi()` return the completed document (built once, then cached)."""
    def document() -> dict[str, Any]:
        if api.openapi_schema is None:
            doc = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            api.openapi_schema = complete(doc)
        return api.openapi_schema

    setattr(api, "openapi", document)


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = _PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            _fill(path, method, operation)
    return doc


def _fill(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    media = _MEDIA.get((method, path))
    if media is not None:
        ok = next(code for code in responses if code.startswith("2"))
        responses[ok]["content"] = media
    if path == "/readyz":
        responses["503"] = {"description": "The store is unavailable.", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}}
    for code in _codes(path, method):
        responses.setdefault(code, {"description": _WHY[code],
                                    "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}})


def _codes(path: str, method: str) -> list[str]:
    if not path.startswith("/api/v1/"):
        return []
    codes = ["400", "401", "403", "404", "429", "503"]
    if method in _CHANGES:
        codes += ["409", "413"]
    return sorted(codes)

