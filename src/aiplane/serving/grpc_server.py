"""The replica's gRPC face: `inference.GRPCInferenceService` of the Open Inference Protocol.

It serves the same model, with the same validation, batching and errors as the HTTP app, on
its own port. The gRPC server runs its own threads; inference either runs in them directly
(ONNX Runtime sessions are thread-safe) or, with batching on, joins the HTTP requests in the
replica's batcher on the event loop. Outputs always come back as raw contents.
"""

from __future__ import annotations

import asyncio
from concurrent import futures
from typing import Any

import grpc
import numpy as np

from aiplane import __version__
from aiplane.domain.errors import AiplaneError, InvalidInput, NotFound, Unavailable
from aiplane.serving import codec, tensors
from aiplane.serving.app import EXTENSIONS, ModelApp
from aiplane.serving.grpc_v2 import inference_pb2

pb: Any = inference_pb2  # generated code, untyped

SERVICE = "inference.GRPCInferenceService"
_DECISION = "x-aiplane-decision"
_CODES = {InvalidInput: grpc.StatusCode.INVALID_ARGUMENT, NotFound: grpc.StatusCode.NOT_FOUND,
          Unavailable: grpc.StatusCode.UNAVAILABLE}
_CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
             "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
             "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
             "FP64": "fp64_contents", "BYTES": "bytes_contents"}


class InferenceService:
    """The servicer: grpc finds its methods by the service's RPC names."""

    def __init__(self, app: ModelApp, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        sig = app.sig
        self.metadata = pb.ModelMetadataResponse(
            name=app.name, versions=[app.version], platform="onnxruntime_onnx",
            inputs=[pb.ModelMetadataResponse.TensorMetadata(name=t.name, datatype=t.datatype, shape=t.shape)
                    for t in sig.inputs],
            outputs=[pb.ModelMetadataResponse.TensorMetadata(name=t.name, datatype=t.datatype, shape=t.shape)
                     for t in sig.outputs])

    def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: Any, context: Any) -> Any:
        return pb.ServerReadyResponse(ready=True)

    def ServerMetadata(self, request: Any, context: Any) -> Any:
        return pb.ServerMetadataResponse(name="aiplane-replica", version=__version__, extensions=EXTENSIONS)

    def ModelReady(self, request: Any, context: Any) -> Any:
        return _guard(context, lambda: self._model(request.name, request.version, pb.ModelReadyResponse(ready=True)))

    def ModelMetadata(self, request: Any, context: Any) -> Any:
        return _guard(context, lambda: self._model(request.name, request.version, self.metadata))

    def ModelInfer(self, request: Any, context: Any) -> Any:
        return _guard(context, lambda: self._infer(request, context))

    def _model(self, name: str, version: str, answer: Any) -> Any:
        self._check_model(name, version)
        return answer

    def _check_model(self, name: str, version: str) -> None:
        if name != self.app.name:
            raise NotFound(f"model {name!r} is not served here; this replica serves {self.app.name!r}.")
        if version and version != self.app.version:
            raise NotFound(f"model {name!r} has no version {version!r} here; it serves {self.app.version!r}.")

    def _infer(self, request: Any, context: Any) -> Any:
        app = self.app
        self._check_model(request.model_name, request.model_version)
        if request.id:
            codec.check_request_id(request.id)
        parameters = {k: getattr(v, v.WhichOneof("parameter_choice") or "string_param")
                      for k, v in request.parameters.items()}
        raw = list(request.raw_input_contents)
        if raw and len(raw) != len(request.inputs):
            raise InvalidInput(f"the request has {len(raw)} raw_input_contents for {len(request.inputs)} inputs; "
                               "send one per input, in order.")
        expected = {t.name: t for t in app.sig.inputs}
        inputs: dict[str, np.ndarray] = {}
        for i, item in enumerate(request.inputs):
            spec, datatype, shape, count = codec.check_input(item.name, item.datatype, list(item.shape), expected,
                                                             app.max_elements)
            if spec.name in inputs:
                raise InvalidInput(f"input {spec.name!r} is given twice.")
            array = (tensors.from_binary(spec.name, datatype, shape, count, memoryview(raw[i])) if raw
                     else _from_contents(spec.name, datatype, shape, count, item.contents))
            if not app.allow_non_finite:
                tensors.refuse_non_finite(spec.name, array)
            inputs[spec.name] = array
        missing = [n for n in expected if n not in inputs]
        if missing:
            raise InvalidInput(f"the request lacks input(s) {missing}; the model needs {list(expected)}.")
        names = [o.name for o in request.outputs] or app.all_outputs
        unknown = [n for n in names if n not in app.all_outputs]
        if unknown:
            raise InvalidInput(f"output {unknown[0]!r} is not an output of this model; it has {app.all_outputs}.")
        timeout = parameters.get("timeout")
        if app.batcher is not None:
            wait = timeout / 1e6 if isinstance(timeout, int) and timeout > 0 else None
            everything = asyncio.run_coroutine_threadsafe(app.batcher.submit(inputs, wait), self.loop).result()
            arrays = [everything[app.all_outputs.index(n)] for n in names]
        else:
            arrays = app.run(inputs, names)
        response = pb.ModelInferResponse(model_name=app.name, model_version=app.version,
                                         id=request.id or codec.new_request_id())
        for name, array in zip(names, arrays):
            datatype = app.datatypes.get(name) or tensors.datatype_of(array)
            response.outputs.add(name=name, datatype=datatype, shape=list(array.shape))
            response.raw_output_contents.append(tensors.to_binary(array, datatype))
        # The gateway's audit trail takes the decision from here, as over HTTP from a header.
        decision = codec.decision_summary(names, arrays)
        if decision is not None:
            context.set_trailing_metadata(((_DECISION, decision),))
        return response


def _from_contents(name: str, datatype: str, shape: list[int], count: int, contents: Any) -> np.ndarray:
    field = _CONTENTS.get(datatype)
    if field is None:
        raise InvalidInput(f"input {name!r} is {datatype}, which gRPC carries only as raw_input_contents.")
    values = getattr(contents, field)
    if len(values) != count:
        raise InvalidInput(f"input {name!r} has {len(values)} values but shape {shape} needs {count}.")
    if datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    try:
        return np.asarray(values, dtype=tensors.NUMPY_DTYPES[datatype]).reshape(shape)
    except OverflowError:
        raise InvalidInput(f"input {name!r} has values out of the range of {datatype}.") from None


def _guard(context: Any, call: Any) -> Any:
    try:
        return call()
    except AiplaneError as exc:
        context.abort(_CODES.get(type(exc), grpc.StatusCode.INTERNAL), exc.message)


class _Malformed:
    """What a request that is not a valid protobuf message deserializes to."""


def _lenient(message: Any) -> Any:
    # grpc answers INTERNAL when a deserializer raises; bad bytes are the caller's error.
    def parse(data: bytes) -> Any:
        try:
            return message.FromString(data)
        except Exception:
            return _Malformed()

    return parse


def _handler(service: InferenceService, method: str) -> grpc.RpcMethodHandler:
    descriptor = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods_by_name[method]
    request_type = getattr(pb, descriptor.input_type.name)
    call = getattr(service, method)

    def handle(request: Any, context: Any) -> Any:
        if isinstance(request, _Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request is not a valid {request_type.__name__} "
                          "protobuf message; send one built from the Open Inference Protocol's inference.proto.")
        return call(request, context)

    response_type = getattr(pb, descriptor.output_type.name)
    return grpc.unary_unary_rpc_method_handler(handle, request_deserializer=_lenient(request_type),
                                               response_serializer=response_type.SerializeToString)


def start(app: ModelApp, loop: asyncio.AbstractEventLoop, addresses: list[str], threads: int = 8) -> grpc.Server:
    """Start serving on `addresses` (host:port or unix:path; in gRPC's own threads) and return
    the server to stop later."""
    server = grpc.server(futures.ThreadPoolExecutor(threads, thread_name_prefix="grpc"),
                         options=[("grpc.max_receive_message_length", app.max_body_bytes)])
    service = InferenceService(app, loop)
    methods = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods_by_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        SERVICE, {name: _handler(service, name) for name in methods}),))
    for address in addresses:
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if bound == 0:
            raise InvalidInput(f"cannot listen for gRPC on {address}; choose a free --grpc-port.")
    server.start()
    return server

