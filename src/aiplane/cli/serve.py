"""`aiplane serve-model`: one model, one standalone V2 server."""

from __future__ import annotations

from pathlib import Path

import typer

from aiplane.domain.errors import InvalidInput


def serve_model(
    model: Path = typer.Option(..., "--model", help="ONNX model file to serve."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (TCP)."),
    port: int = typer.Option(None, "--port", help="TCP port to listen on."),
    socket: Path = typer.Option(None, "--socket", help="Unix socket to listen on instead of a TCP port."),
    name: str = typer.Option(None, "--name", help="Model name in V2 paths (default: the file name)."),
    model_version: str = typer.Option("1", "--model-version", help="Version reported and accepted in paths."),
    max_body_bytes: int = typer.Option(16 << 20, "--max-body-bytes", help="Largest request body accepted."),
    threads: int = typer.Option(1, "--threads", help="ONNX Runtime intra-op threads."),
    max_batch_size: int = typer.Option(1, "--max-batch-size", help="Largest batch of rows run at once (1 = no batching)."),
    max_batch_delay_ms: float = typer.Option(0.0, "--max-batch-delay-ms", help="Longest wait for a batch to fill."),
    max_queue: int = typer.Option(1024, "--max-queue", help="Requests allowed to wait for a batch (503 beyond)."),
    grpc_port: int = typer.Option(None, "--grpc-port", help="Also serve gRPC (GRPCInferenceService) on this port."),
    grpc_socket: Path = typer.Option(None, "--grpc-socket", help="Also serve gRPC on this Unix socket."),
    allow_non_finite: bool = typer.Option(False, "--allow-non-finite",
                                          help="Accept NaN and infinite input values (refused by default: 400)."),
    device: str = typer.Option("cpu", "--device", help="cpu, or cuda: ONNX Runtime's CUDA provider where "
                               "onnxruntime-gpu is installed (the GPU is CUDA_VISIBLE_DEVICES), else the CPU."),
    simulated: bool = typer.Option(False, "--simulated", hidden=True),
    parent_pid: int = typer.Option(None, "--parent-pid", hidden=True),
    run_as: str = typer.Option(None, "--run-as", hidden=True,
                               help="Started as root: read the model, then serve as this user."),
) -> None:
    """Serve one ONNX model over the Open Inference Protocol (KServe V2)."""
    if (port is None) == (socket is None):
        raise InvalidInput("give exactly one of --port or --socket.")
    from aiplane.serving import privileges, server  # the model server's stack is loaded only to serve

    if device not in ("cpu", "cuda"):
        raise InvalidInput(f"--device {device!r} is not a device; give cpu or cuda.")
    from aiplane.runtime import onnx_model

    where = onnx_model.providers(device == "cuda")[1]
    # One line in the replica's log: where it really runs (a simulated pool's replicas on the CPU).
    print(f"{name or model.stem}: {'placed on a simulated GPU pool: runs on the CPU' if simulated else where}",
          flush=True)
    batching = server.BatchingOptions(max_batch_size, max_batch_delay_ms, max_queue).validate()
    source: Path | bytes = model
    if run_as is not None:
        if not model.is_file():
            raise InvalidInput(f"model file {str(model)!r} does not exist.")
        source = model.read_bytes()  # read with the platform's rights, parsed only with the tenant's
        privileges.become(run_as)
    app = server.build_app(source, name or model.stem, model_version, max_body_bytes, threads, batching,
                           allow_non_finite, cuda=device == "cuda")
    server.serve(app, host, port, socket, parent_pid, grpc_port, grpc_socket)
