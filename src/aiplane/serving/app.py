"""The replica's ASGI app: pure ASGI, routes fixed when the app is built, orjson -> NumPy -> ORT."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import numpy as np
import orjson

from aiplane import __version__
from aiplane.domain.errors import AiplaneError, InvalidInput, PayloadTooLarge
from aiplane.domain.registry import Signature
from aiplane.serving import codec

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_STATUS = {InvalidInput: 400, PayloadTooLarge: 413}


class ModelApp:
    """Serves one ONNX model under /v2/models/{name}[/versions/{version}]."""

    def __init__(self, session: Any, sig: Signature, name: str, version: str, max_body_bytes: int) -> None:
        self.session = session
        self.sig = sig
        self.name = name
        self.version = version
        self.max_body_bytes = max_body_bytes
        self.max_elements = max(max_body_bytes // 2, 1)
        self.all_outputs = [t.name for t in sig.outputs]
        self.input_names = [t.name for t in sig.inputs]
        metadata = {"name": name, "versions": [version], "platform": "onnxruntime_onnx", **sig.as_dict()}
        ready = {"name": name, "ready": True}
        server = {"name": "aiplane-replica", "version": __version__, "extensions": []}
        fixed: dict[tuple[str, str], bytes] = {
            ("GET", "/v2/health/live"): orjson.dumps({"live": True}),
            ("GET", "/v2/health/ready"): orjson.dumps({"ready": True}),
            ("GET", "/v2"): orjson.dumps(server),
            ("GET", "/v2/"): orjson.dumps(server),
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
        else:
            answer = self.fixed.get((method, path))
            if answer is not None:
                status, body = 200, answer
            else:
                status, body = self._miss(method, path)
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _infer(self, scope: Scope, receive: Receive) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            body = await read_body(receive, self.max_body_bytes)
            request = codec.decode(body, self.sig, self.max_elements)
            names = request.outputs or self.all_outputs
            arrays = self._run(request.inputs, names)
            # The request id (echoed or generated) and a decision summary travel as headers, so
            # the gateway can audit an answer without parsing it.
            headers = _JSON + [(b"x-request-id", request.id.encode("utf-8", "replace"))]
            decision = codec.decision_summary(names, arrays)
            if decision is not None:
                headers.append((b"x-aiplane-decision", decision.encode("utf-8", "replace")))
            return 200, codec.encode(self.name, self.version, request.id, names, arrays), headers
        except AiplaneError as exc:
            return _STATUS.get(type(exc), 500), codec.error(exc.message), _JSON

    def _run(self, inputs: dict[str, np.ndarray], names: list[str]) -> list[np.ndarray]:
        try:
            return list(self.session.run(names, inputs))
        except Exception as exc:  # ORT reports bad values (e.g. out-of-range indices) as plain errors
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInput(f"the model rejected the input: {first[:300]}") from exc

    def _miss(self, method: str, path: str) -> tuple[int, bytes]:
        if path.startswith("/v2/models/"):
            rest = path[len("/v2/models/"):].split("/")
            if rest[0] != self.name:
                return 404, codec.error(f"model {rest[0]!r} is not served here; this replica serves {self.name!r}.")
            if len(rest) >= 3 and rest[1] == "versions" and rest[2] != self.version:
                return 404, codec.error(f"model {self.name!r} has no version {rest[2]!r} here; it serves {self.version!r}.")
            return 405 if method not in ("GET", "POST") else 404, codec.error(f"no route for {method} {path}.")
        return 404, codec.error(f"no route for {method} {path}.")


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
