"""The replica's ASGI app: pure ASGI, routes fixed when the app is built, bytes -> NumPy -> ORT.

Serves the Open Inference Protocol for one model: health, server and model metadata, model
ready and infer, each with and without `/versions/{v}`; the binary tensor data extension; and
the repository extension's index. Errors are `{"error": ...}` with the protocol's statuses.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import numpy as np
import orjson

from aiplane import __version__
from aiplane.domain.errors import AiplaneError, InvalidInput, NotFound, PayloadTooLarge, Unavailable
from aiplane.domain.registry import Signature
from aiplane.serving import codec, metrics
from aiplane.serving.batching import Batcher

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
RunFn = Callable[[dict[str, np.ndarray], list[str]], list[np.ndarray]]
Headers = list[tuple[bytes, bytes]]

_JSON: Headers = [(b"content-type", b"application/json")]
_BINARY = (b"content-type", b"application/octet-stream")
_TEXT: Headers = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
STATUS = {InvalidInput: 400, NotFound: 404, PayloadTooLarge: 413, Unavailable: 503}
EXTENSIONS = ["binary_tensor_data", "model_repository"]


class ModelApp:
    """Serves one ONNX model under /v2/models/{name}[/versions/{version}]."""

    def __init__(self, run: RunFn, sig: Signature, name: str, version: str, max_body_bytes: int,
                 batcher: Batcher | None = None, allow_non_finite: bool = False) -> None:
        self.run = run
        self.sig = sig
        self.name = name
        self.version = version
        self.max_body_bytes = max_body_bytes
        self.max_elements = max(max_body_bytes // 2, 1)
        self.batcher = batcher
        self.allow_non_finite = allow_non_finite  # NaN and infinities in inputs; refused (400) by default
        self.all_outputs = [t.name for t in sig.outputs]
        self.datatypes = {t.name: t.datatype for t in sig.outputs}
        metadata = {"name": name, "versions": [version], "platform": "onnxruntime_onnx", **sig.as_dict()}
        ready = {"name": name, "ready": True}
        server = {"name": "aiplane-replica", "version": __version__, "extensions": EXTENSIONS}
        fixed: dict[tuple[str, str], bytes] = {
            ("GET", "/v2/health/live"): orjson.dumps({"live": True}),
            ("GET", "/v2/health/ready"): orjson.dumps({"ready": True}),
            ("GET", "/v2"): orjson.dumps(server),
            ("GET", "/v2/"): orjson.dumps(server),
            ("POST", "/v2/repository/index"): orjson.dumps([{"name": name, "version": version, "state": "READY",
                                                            "reason": ""}]),
            ("POST", f"/v2/repository/models/{name}/load"): b"",
        }
        self.infer_paths = set()
        for base in (f"/v2/models/{name}", f"/v2/models/{name}/versions/{version}"):
            fixed[("GET", base)] = orjson.dumps(metadata)
            fixed[("GET", base + "/ready")] = orjson.dumps(ready)
            self.infer_paths.add(base + "/infer")
        self.fixed = fixed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        headers = _JSON
        if method == "POST" and path in self.infer_paths:
            status, body, headers = await self._infer(scope, receive)
        elif method == "GET" and path == "/metrics":
            status, body, headers = 200, metrics.render(self.batcher.runs_by_size if self.batcher else {}), _TEXT
        else:
            answer = self.fixed.get((method, path))
            if answer is not None:
                status, body = 200, answer
            else:
                status, body = self._miss(method, path)
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _infer(self, scope: Scope, receive: Receive) -> tuple[int, bytes, Headers]:
        try:
            header_length = _header_length(scope["headers"])
            body = await read_body(receive, self.max_body_bytes)
            request = codec.decode(body, header_length, self.sig, self.max_elements, self.allow_non_finite)
            names = [n for n, _ in request.outputs] if request.outputs else self.all_outputs
            if self.batcher is not None:
                timeout = request.timeout_us / 1e6 if request.timeout_us else None
                everything = await self.batcher.submit(request.inputs, timeout)
                arrays = [everything[self.all_outputs.index(n)] for n in names]
            else:
                arrays = self.run(request.inputs, names)
            answer, json_length = codec.encode(self.name, self.version, request, names, arrays, self.datatypes)
            # The request id (echoed or generated) and a decision summary travel as headers, so
            # the gateway can audit an answer without parsing it.
            headers: Headers = [_BINARY, (b"inference-header-content-length", str(json_length).encode())] \
                if json_length is not None else list(_JSON)
            headers.append((b"x-request-id", request.id.encode("utf-8", "replace")))
            decision = codec.decision_summary(names, arrays)
            if decision is not None:
                headers.append((b"x-aiplane-decision", decision.encode("utf-8", "replace")))
            return 200, answer, headers
        except AiplaneError as exc:
            headers = list(_JSON)
            if isinstance(exc, Unavailable):
                headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
            return STATUS.get(type(exc), 500), codec.error(exc.message), headers

    def _miss(self, method: str, path: str) -> tuple[int, bytes]:
        if path.startswith("/v2/models/"):
            rest = path[len("/v2/models/"):].split("/")
            if rest[0] != self.name:
                return 404, codec.error(f"model {rest[0]!r} is not served here; this replica serves {self.name!r}.")
            if len(rest) >= 3 and rest[1] == "versions" and rest[2] != self.version:
                return 404, codec.error(f"model {self.name!r} has no version {rest[2]!r} here; it serves {self.version!r}.")
            return 405 if method not in ("GET", "POST") else 404, codec.error(f"no route for {method} {path}.")
        if path.startswith("/v2/repository/models/"):
            return 501, codec.error("models are loaded and unloaded by deploying them with aiplane "
                                    "(aiplane deploy create / delete), not through the repository extension.")
        return 404, codec.error(f"no route for {method} {path}.")


def _header_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"inference-header-content-length":
            if not value.isdigit():
                raise InvalidInput(f"Inference-Header-Content-Length {value.decode('latin-1')!r} is not a "
                                   "non-negative integer; send the byte length of the JSON part.")
            return int(value)
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
