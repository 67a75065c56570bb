"""The data-plane front door: /v2 as pure ASGI.

Per request: one header pass, one dict lookup for the key, one for the route, then the body
bytes go to a replica unchanged and its answer comes back unchanged.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import orjson

from aiplane import __version__
from aiplane.domain import policy, ratelimit
from aiplane.domain.policy import Principal
from aiplane.domain.errors import (AiplaneError, Forbidden, InvalidInput, NotFound, PayloadTooLarge, RateLimited,
                                   Unauthorized, Unavailable)
from aiplane.gateway import access, repository
from aiplane.gateway.auditing import PredictionAuditor
from aiplane.gateway.canary_watch import CanaryWatch
from aiplane.gateway.forwarding import Answer, RoutingTable
from aiplane.gateway.limiting import RequestLimits
from aiplane.gateway.oidc import KeysNeeded
from aiplane.gateway.state import Route, StateCache

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

STATUS = {InvalidInput: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, PayloadTooLarge: 413,
          RateLimited: 429, Unavailable: 503}
_JSON = (b"content-type", b"application/json")
_LIVE = orjson.dumps({"live": True})
_READY = orjson.dumps({"ready": True})
_NOT_READY = orjson.dumps({"ready": False})
_SERVER = orjson.dumps({"name": "aiplane", "version": __version__,
                        "extensions": ["binary_tensor_data", "model_repository"]})
_FORWARDED = (b"content-type", b"inference-header-content-length")


class Gateway:
    def __init__(self, cache: StateCache, routing: RoutingTable, max_body_bytes: int, timeout_s: float,
                 limits: RequestLimits, audit: PredictionAuditor | None = None, worker: int | None = None,
                 watch: CanaryWatch | None = None) -> None:
        self.audit = audit
        # With several gateway processes each names itself on its answers, so a client (or a
        # test) can tell which one served it; with one process nothing is added.
        self.identity = [] if worker is None else [(b"x-aiplane-worker", str(worker).encode())]
        self.cache = cache
        self.limits = limits
        self.routing = routing
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.watch = watch  # records answers of auto-rollback canaries (the main process judges them)
        self._turn = 0  # spreads requests without a request id between a canary and its stable version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/v2/health/live":
            return await _reply(send, 200, _LIVE)
        if path == "/v2/health/ready":
            ready = repository.all_ready(self.cache, self.routing)
            return await _reply(send, 200 if ready else 503, _READY if ready else _NOT_READY)
        try:
            status, headers, body = await self._handle(scope, receive, path)
        except AiplaneError as exc:
            status, headers, body = _error(exc)
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + self.identity + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, receive: Receive, path: str) -> tuple[int, list[Any], bytes]:
        authorization = None
        named_tenant = None
        request_id = None
        forwarded = []
        length = 0
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-aiplane-tenant":
                named_tenant = value.decode("latin-1")
            elif name in _FORWARDED:
                forwarded.append(name + b": " + value)
            elif name == b"x-request-id":
                request_id = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else 0
        matched = policy.match_data_plane(scope["method"], path)
        if matched is None:
            raise NotFound(f"no route for {scope['method']} {path}; see the Open Inference Protocol routes.")
        template, rule, params = matched
        try:
            principal = self.cache.authenticate(authorization, _client(scope), "data", named_tenant)
        except KeysNeeded:  # a JWT whose issuer's keys must be fetched first (rare: see gateway.oidc)
            principal = await self.cache.authenticate_slowly(authorization, _client(scope), "data", named_tenant)
        access.check_role(principal, rule)
        tenant = access.tenant_of(principal, named_tenant)
        if template == "/v2":
            return 200, [_JSON], _SERVER
        if template == "/v2/repository/index":
            return 200, [_JSON], repository.index(self.cache, self.routing, tenant, await _wants_ready(receive))
        route = target = access.find_route(self.cache, tenant, params["name"], params.get("version"))
        if route.canary is not None:
            self._turn += 1
            target = access.choose(route, params.get("version"), request_id, self._turn, self.routing)
        audit = self.audit if scope["method"] == "POST" and path.endswith("/infer") else None
        if audit is None:
            return await self._pass_on(principal, route, target, scope, receive, forwarded, length)
        # From here every answer to the prediction has its event: refusals (rate, size) and
        # failures (no replica, a timeout) as much as the replica's own answers.
        started = audit.started()
        body: list[bytes] = []
        try:
            result = await self._pass_on(principal, route, target, scope, receive, forwarded, length, body)
        except AiplaneError as exc:
            result = _error(exc)
        return await audit.record(principal, target, scope, body[0] if body else b"", result, started)

    async def _pass_on(self, principal: Principal, route: Route, target: Route, scope: Scope, receive: Receive,
                       forwarded: list[bytes], length: int, read: list[bytes] | None = None) -> Answer:
        """Limits by the deployment (`route`), forwarding to the version chosen (`target`: the
        stable route or its canary), whose version every answer names."""
        self.limits.check(principal.key_id, principal.rate_limit, route.tenant, route.name, route.deployment_id,
                          route.rate_limit)
        if length > self.max_body_bytes:
            raise PayloadTooLarge(f"the request body of {length} bytes exceeds the limit of {self.max_body_bytes} bytes.")
        body = await _read_body(receive, self.max_body_bytes)
        if read is not None:
            read.append(body)
        path = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        head = b"\r\n".join(
            [scope["method"].encode() + b" " + path + b" HTTP/1.1", b"host: replica",
             b"content-length: " + str(len(body)).encode(), *forwarded]
        ) + b"\r\n\r\n"
        watch = self.watch if route.watched else None
        begun = self.cache.clock.monotonic() if watch is not None else 0.0
        try:
            status, headers, answer = await self._forward(target.deployment_id, head, body)
        except AiplaneError as exc:
            if watch is None:
                raise
            status, headers, answer = _error(exc)
        headers.append(target.version_header)
        if watch is not None:
            now = self.cache.clock.monotonic()
            watch.record(route, target, status, now, now - begun)
        return status, headers, answer

    async def _forward(self, deployment_id: int, head: bytes, body: bytes) -> Answer:
        """The answer of one ready replica; when it fails before answering (it died, say), the same
        request once more on another (inference is idempotent), so a crash costs no request."""
        pool = self.routing.pick(deployment_id)
        try:
            try:
                return await pool.request(head, body, self.timeout_s)
            except Unavailable:
                other = self.routing.pick(deployment_id, avoid=pool)
                if other is pool:
                    raise Unavailable("the deployment's only ready replica failed before answering; it is being "
                                      "restarted, retry shortly.") from None
                return await other.request(head, body, self.timeout_s)
        except TimeoutError:
            return 504, [_JSON], orjson.dumps({"error": f"the model did not answer within {self.timeout_s:g} s."})


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


async def _read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes.")
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def _wants_ready(receive: Receive) -> bool:
    body = await _read_body(receive, 4096)
    try:
        return bool(body) and orjson.loads(body).get("ready") is True
    except (orjson.JSONDecodeError, AttributeError):
        raise InvalidInput("the repository index request must be empty or a JSON object like {\"ready\": true}.") from None


def _error(exc: AiplaneError) -> tuple[int, list[Any], bytes]:
    status = STATUS.get(type(exc), 500)
    headers: list[Any] = [_JSON]
    if isinstance(exc, Unauthorized):
        headers.append((b"www-authenticate", b"Bearer"))
    if isinstance(exc, Unavailable):
        headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
    if isinstance(exc, RateLimited):
        headers.append((b"retry-after", str(ratelimit.retry_after_header(exc.retry_after)).encode()))
    return status, headers, orjson.dumps({"error": exc.message})


async def _reply(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
