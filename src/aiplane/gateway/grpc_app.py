"""The data plane's gRPC front door: `inference.GRPCInferenceService`, governed like HTTP /v2.

Each method is the HTTP route it mirrors (domain.policy.GRPC_METHODS), so keys, roles, tenant
scope, model naming, rate limits and the audit trail are the HTTP ones. Per call: one pass over
the metadata, one scan of the request's top-level fields for the model's name (wire.py), then
the request bytes go to a replica unchanged and its answer comes back unchanged.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Awaitable, Callable, NoReturn

import grpc
import grpc.aio

from aiplane import __version__
from aiplane.crypto.tls import ServerTLS
from aiplane.domain import policy, ratelimit
from aiplane.domain.errors import (AiplaneError, Forbidden, InvalidInput, NotFound, PayloadTooLarge, RateLimited,
                                   Unauthorized, Unavailable)
from aiplane.domain.policy import Principal, RoutePolicy
from aiplane.gateway import access, repository, wire
from aiplane.gateway.auditing import PredictionAuditor
from aiplane.gateway.forwarding import RoutingTable
from aiplane.gateway.grpc_forwarding import SERVICE, ReplicaChannels
from aiplane.gateway.limiting import RequestLimits
from aiplane.gateway.state import Route, StateCache
from aiplane.serving.grpc_v2 import inference_pb2

Code = grpc.StatusCode
Context = Any  # grpc.aio.ServicerContext; grpc ships no type information
Handler = Callable[[str, bytes, Context], Awaitable[bytes]]
CODES = {InvalidInput: Code.INVALID_ARGUMENT, Unauthorized: Code.UNAUTHENTICATED, Forbidden: Code.PERMISSION_DENIED,
         NotFound: Code.NOT_FOUND, PayloadTooLarge: Code.RESOURCE_EXHAUSTED, RateLimited: Code.RESOURCE_EXHAUSTED,
         Unavailable: Code.UNAVAILABLE}
# The audit trail records a status per prediction; a gRPC one is written as its HTTP twin.
AUDIT_STATUS = {Code.OK: 200, Code.INVALID_ARGUMENT: 400, Code.UNAUTHENTICATED: 401, Code.PERMISSION_DENIED: 403,
                Code.NOT_FOUND: 404, Code.RESOURCE_EXHAUSTED: 429, Code.UNAVAILABLE: 503,
                Code.DEADLINE_EXCEEDED: 504}
_NAME, _VERSION, _ID = 1, 2, 3  # the same numbers in ModelInferRequest, ModelMetadataRequest, ModelReadyRequest
_REQUEST_FIELDS = frozenset({_NAME, _VERSION, _ID})
_pb: Any = inference_pb2  # generated code, untyped
_LIVE: bytes = _pb.ServerLiveResponse(live=True).SerializeToString()
_READY: bytes = _pb.ServerReadyResponse(ready=True).SerializeToString()
_NOT_READY: bytes = _pb.ServerReadyResponse(ready=False).SerializeToString()
_SERVER: bytes = _pb.ServerMetadataResponse(name="aiplane", version=__version__,
                                     extensions=["binary_tensor_data", "model_repository"]).SerializeToString()
_NONE: tuple[tuple[str, Any], ...] = ()
Forwarded = tuple[grpc.StatusCode, bytes, str, tuple[tuple[str, Any], ...]]


class GrpcGateway:
    def __init__(self, cache: StateCache, routing: RoutingTable, channels: ReplicaChannels, limits: RequestLimits,
                 timeout_s: float, max_body_bytes: int, audit: PredictionAuditor | None = None,
                 tls: ServerTLS | None = None) -> None:
        self.tls = tls
        self.cache, self.routing, self.channels, self.limits = cache, routing, channels, limits
        self.timeout_s, self.max_body_bytes, self.audit = timeout_s, max_body_bytes, audit
        self._turn = 0  # spreads requests without an id between a canary and its stable version
        self.rules: dict[str, RoutePolicy] = {m: policy.route_policy(*r) for m, r in policy.GRPC_METHODS.items()}
        self._server: grpc.aio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", self.max_body_bytes)])
        handlers: dict[str, Handler] = {
            "ServerLive": self.server_live, "ServerReady": self.server_ready, "ServerMetadata": self.server_metadata,
            "ModelMetadata": self.forward, "ModelReady": self.forward, "ModelInfer": self.model_infer}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            SERVICE, {name: grpc.unary_unary_rpc_method_handler(_named(name, call))
                      for name, call in handlers.items()}),))
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = (server.add_secure_port(address, _credentials(self.tls)) if self.tls is not None
                     else server.add_insecure_port(address))
        except RuntimeError:
            bound = 0
        if not bound:
            raise InvalidInput(f"cannot listen for gRPC on {address}; stop the other process or pass another "
                               "--grpc-port.")
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=2.0)
            self._server = None
        await self.channels.close()

    # The health methods need no key, like GET /v2/health/live and /ready.
    async def server_live(self, method: str, request: bytes, context: Context) -> bytes:
        return _LIVE

    async def server_ready(self, method: str, request: bytes, context: Context) -> bytes:
        return _READY if repository.all_ready(self.cache, self.routing) else _NOT_READY

    async def server_metadata(self, method: str, request: bytes, context: Context) -> bytes:
        try:
            await self._caller(method, context)
        except AiplaneError as exc:
            return await _abort(context, exc)
        return _SERVER

    async def forward(self, method: str, request: bytes, context: Context) -> bytes:
        try:
            principal, route, target, _ = await self._admit(method, request, context)
            self._limit(principal, route)
        except AiplaneError as exc:
            return await _abort(context, exc)
        code, answer, details, _ = await self._forward(target.deployment_id, method, request)
        if code is not Code.OK:
            await context.abort(code, details)
        return answer

    async def model_infer(self, method: str, request: bytes, context: Context) -> bytes:
        try:
            code, answer, details = await self._infer(method, request, context)
        except AiplaneError as exc:
            return await _abort(context, exc)
        if code is not Code.OK:
            await context.abort(code, details)
        return answer

    async def _infer(self, method: str, request: bytes, context: Context) -> tuple[grpc.StatusCode, bytes, str]:
        principal, route, target, request_id = await self._admit(method, request, context)
        audit = self.audit
        if audit is None:
            self._limit(principal, route)
            return (await self._forward(target.deployment_id, method, request))[:3]
        # From here every answer to the prediction has its event, a refusal as much as an answer.
        started = audit.started()
        told: tuple[tuple[str, str], ...] = ()
        try:
            self._limit(principal, route)
        except AiplaneError as exc:
            code, answer, details, trailing = CODES.get(type(exc), Code.INTERNAL), b"", exc.message, _NONE
            if isinstance(exc, RateLimited):
                told = (("retry-after", str(ratelimit.retry_after_header(exc.retry_after))),)
        else:
            code, answer, details, trailing = await self._forward(target.deployment_id, method, request)
        if request_id is None and code is Code.OK:
            request_id = _answer_id(answer)
        decision = next((str(v) for k, v in trailing if k == "x-aiplane-decision"), None)
        audit_id = await audit.record_prediction(principal, target, _client(context), request,
                                                 AUDIT_STATUS.get(code, 500),
                                                 answer if code is Code.OK else details.encode(), request_id,
                                                 decision, started)
        context.set_trailing_metadata((*told, ("x-aiplane-audit-id", audit_id),
                                       ("x-aiplane-model-version", target.model_version)))
        return code, answer, details

    def _limit(self, principal: Principal, route: Route) -> None:
        self.limits.check(principal.key_id, principal.rate_limit, route.tenant, route.name, route.deployment_id,
                          route.rate_limit)

    async def _caller(self, method: str, context: Context) -> tuple[Principal, str]:
        authorization = named = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                authorization = str(value)
            elif key == "x-aiplane-tenant":
                named = str(value)
        if not authorization:
            raise Unauthorized("no API key was sent; send the metadata 'authorization: Bearer <key>'.")
        principal = await self.cache.authenticate_slowly(authorization, _client(context), "data", named)
        access.check_role(principal, self.rules[method])
        return principal, access.tenant_of(principal, named, "the x-aiplane-tenant metadata")

    async def _admit(self, method: str, request: bytes, context: Context) -> tuple[Principal, Route, Route, str | None]:
        """The caller, the deployment's route (for limits), the version chosen (the stable route
        or its canary) and the request id."""
        principal, tenant = await self._caller(method, context)
        fields = wire.strings(request, _REQUEST_FIELDS, method + "Request")
        name = fields.get(_NAME)
        if not name:
            raise InvalidInput(f"the {method} request names no model; set its model name.")
        route = target = access.find_route(self.cache, tenant, name, fields.get(_VERSION) or None)
        request_id = fields.get(_ID) or None
        if route.canary is not None:
            self._turn += 1
            target = access.choose(route, fields.get(_VERSION) or None, request_id.encode() if request_id else None,
                                   self._turn, self.routing)
        return principal, route, target, request_id

    async def _forward(self, deployment_id: int, method: str, request: bytes) -> Forwarded:
        """The answer of one ready replica; when the call could not reach it or it died mid-call,
        the same call once more on another (inference is idempotent), as on HTTP."""
        failed = None
        for _ in range(2):
            try:
                replica = self.routing.pick(deployment_id, avoid=failed)
            except Unavailable as exc:
                return Code.UNAVAILABLE, b"", exc.message, ()
            if replica is failed:
                return (Code.UNAVAILABLE, b"", "the deployment's only ready replica failed before answering; it is "
                        "being restarted, retry shortly.", ())
            call = self.channels.method(replica.socket_path, method)(request, timeout=self.timeout_s)
            try:
                answer: bytes = await call
            except grpc.aio.AioRpcError as exc:
                if _replica_lost(exc):
                    failed = replica
                    continue
                if exc.code() is Code.DEADLINE_EXCEEDED:
                    return exc.code(), b"", f"the model did not answer within {self.timeout_s:g} s.", ()
                return exc.code(), b"", exc.details() or "the model replica failed.", tuple(exc.trailing_metadata() or ())
            return Code.OK, answer, "", tuple(await call.trailing_metadata() or ())
        return Code.UNAVAILABLE, b"", "no ready replica answered; retry shortly.", ()


def _replica_lost(exc: grpc.aio.AioRpcError) -> bool:
    """The call failed in transport (refused, reset, the stream cut), not with the replica's own answer."""
    return exc.code() is Code.UNAVAILABLE


def _named(method: str, call: Handler) -> Callable[[bytes, Context], Awaitable[bytes]]:
    async def handle(request: bytes, context: Context) -> bytes:
        return await call(method, request, context)

    return handle


def _answer_id(answer: bytes) -> str | None:
    try:  # the replica writes fields in order: name, version, id, then the tensors
        return wire.strings(answer, frozenset({_ID}), "ModelInferResponse", stop_after=_ID).get(_ID)
    except InvalidInput:
        return None


def _client(context: Context) -> str | None:
    kind, _, rest = context.peer().partition(":")
    if kind in ("ipv4", "ipv6"):
        return urllib.parse.unquote(rest).rpartition(":")[0].strip("[]")
    return kind or None


async def _abort(context: Context, exc: AiplaneError) -> NoReturn:
    wait = exc.retry_after if isinstance(exc, (Unavailable, RateLimited)) else None
    if wait is not None:
        context.set_trailing_metadata((("retry-after", str(ratelimit.retry_after_header(wait))),))
    await context.abort(CODES.get(type(exc), Code.INTERNAL), exc.message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


def _credentials(tls: ServerTLS) -> grpc.ServerCredentials:
    """TLS credentials that pick up a reload: gRPC asks the fetcher before new handshakes, and it
    answers with the files read again once the generation moved (None: keep the current ones).
    gRPC's own floor is TLS 1.2."""
    seen = [tls.generation]

    def config() -> Any:
        cert, key = tls.pair.read()
        return grpc.ssl_server_certificate_configuration([(key, cert)])

    def fetch() -> Any:
        if tls.generation == seen[0]:
            return None
        seen[0] = tls.generation
        return config()

    return grpc.dynamic_ssl_server_credentials(config(), fetch)
