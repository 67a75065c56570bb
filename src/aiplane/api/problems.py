"""The one table from error class to HTTP status, and RFC 9457 problem documents."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import compile_path
from starlette.exceptions import HTTPException

from aiplane.domain import ratelimit
from aiplane.domain.errors import (AiplaneError, Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge,
                                   QuotaExceeded, RateLimited, Unauthorized, Unavailable)

STATUS: dict[type[AiplaneError], tuple[int, str]] = {
    InvalidInput: (400, "Invalid input"),
    Unauthorized: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    NotFound: (404, "Not found"),
    Conflict: (409, "Conflict"),
    PayloadTooLarge: (413, "Payload too large"),
    QuotaExceeded: (409, "Quota exceeded"),
    RateLimited: (429, "Too many requests"),
    Unavailable: (503, "Unavailable"),
}


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    slug = title.lower().replace(" ", "-")
    body = {"type": f"urn:aiplane:problem:{slug}", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def on_aiplane_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AiplaneError)
    status, title = STATUS.get(type(exc), (500, "Internal error"))
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(ratelimit.retry_after_header(exc.retry_after))
    return problem(status, title, exc.message, headers)


_UNION_MEMBERS = frozenset({"int", "float", "str", "bool", "constrained-int", "constrained-float", "constrained-str"})


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return problem(400, "Invalid input", "the request body is not valid JSON.")
    # The field's path after "body", "query" or "path", without the names pydantic gives the
    # members of a union ("gpus.constrained-int" is the field "gpus").
    where = ".".join(str(p) for p in first.get("loc", ())[1:] if p not in _UNION_MEMBERS) or "request"
    message = str(first.get("msg", "is not valid")).rstrip(".")
    if first.get("type") == "extra_forbidden":
        message = "is not a known field"
    return problem(400, "Invalid input", f"{where}: {message}.")


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        target = _without_slash(request)
        if target is not None:
            return RedirectResponse(target, status_code=307)
        return problem(404, "Not found", "no such endpoint; see /docs for the API.")
    if exc.status_code == 405:
        return problem(405, "Method not allowed", "this endpoint does not accept that method; see /docs.",
                       {"Allow": _allowed(request)})
    return problem(exc.status_code, "Error", str(exc.detail))


def _allowed(request: Request) -> str:
    """Every method the path takes: the router names only those of the first route that matched
    the path, and a path can have a route per method."""
    return ", ".join(sorted(_methods(request, request.scope["path"])))


def _methods(request: Request, path: str) -> set[str]:
    from aiplane.api import guarding  # the app's routes, included routers' one by one

    methods: set[str] = set()
    for route in guarding.endpoints(request.app.routes):
        if compile_path(str(route.path))[0].match(path):
            methods |= set(route.methods or ())
    return methods


def _without_slash(request: Request) -> str | None:
    """Where a path with a trailing slash should go, when its form without one is a route: a
    relative reference built from the path alone. Starlette's own redirect builds an absolute
    URL from the Host header, which an attacker sets (an open redirect through any proxy or
    cache that keeps it)."""
    path = request.scope["path"]
    stripped = path.rstrip("/")
    if not path.endswith("/") or not stripped.startswith("/") or stripped.startswith("//"):
        return None
    if not _methods(request, stripped):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    return urllib.parse.quote(stripped, safe="/:@!$&'()*+,;=-._~%") + (f"?{query}" if query else "")
