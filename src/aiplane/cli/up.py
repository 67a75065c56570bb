"""`aiplane up`: the whole platform in one process tree, in the foreground."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
from pathlib import Path

from typing import TYPE_CHECKING, Any

import typer

from aiplane.cli import listening, locating, serving_tls
from aiplane.cli.output import console
from aiplane.crypto import tls
from aiplane.crypto.tls import ServerTLS
from aiplane.domain.errors import Conflict, InvalidInput
from aiplane.serving.sockets import private_unix
from aiplane.settings import Settings

if TYPE_CHECKING:
    from aiplane.api.app import Banner

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_UVICORN: dict[str, Any] = dict(loop="uvloop", http="httptools", lifespan="on", access_log=False, log_level="warning",
                timeout_graceful_shutdown=10)


def up(
    host: str = typer.Option(None, "--host", help="Address to bind [default: 127.0.0.1, AIPLANE_HOST]."),
    port: int = typer.Option(None, "--port", help="Port [default: 8080, AIPLANE_PORT]."),
    grpc_port: int = typer.Option(None, "--grpc-port",
                                  help="Also serve the data plane over gRPC on this port [default: off, AIPLANE_GRPC_PORT]."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data directory [default: ./.aiplane, AIPLANE_DATA_DIR]."),
    demo: bool = typer.Option(False, "--demo", help="Create demo tenants and deploy a trained demo model."),
    workers: int = typer.Option(None, "--workers", help="Gateway processes serving the port, to use N cores for "
                                "the data plane [default: 1, AIPLANE_WORKERS]."),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="Serve HTTPS and gRPC over TLS with this PEM certificate "
                                  "(and chain) [AIPLANE_TLS_CERT]; SIGHUP reloads it."),
    tls_key: Path = typer.Option(None, "--tls-key", help="The PEM private key of --tls-cert [AIPLANE_TLS_KEY]."),
    tls_self_signed: bool = typer.Option(None, "--tls-self-signed", help="Serve TLS with a certificate made on "
                                         "first start in DATA_DIR/tls [AIPLANE_TLS_SELF_SIGNED]."),
    gpu_inventory: Path = typer.Option(None, "--gpu-inventory", help="GPU inventory YAML (`simulated: true` for a "
                                       "pool without GPUs) [default: NVML detection, AIPLANE_GPU_INVENTORY]."),
) -> None:
    """Start aiplane: control API, data plane and replicas. Ctrl-C stops everything."""
    settings = Settings.from_env(server__host=host, server__port=port, server__grpc_port=grpc_port,
                                 server__data_dir=data_dir, server__workers=workers,
                                 server__tls_cert=str(tls_cert) if tls_cert else None,
                                 server__tls_key=str(tls_key) if tls_key else None,
                                 server__tls_self_signed=tls_self_signed or None,
                                 gpu__inventory=str(gpu_inventory) if gpu_inventory is not None else None)
    logging.basicConfig(level=logging.WARNING, format=_LOG_FORMAT)
    server = settings.server
    if server.workers < 1:
        raise InvalidInput(f"--workers (AIPLANE_WORKERS) is {server.workers}, but it counts gateway processes; "
                           "give 1 (the default) or more.")
    server.data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(server.data_dir)
    _check_port(server.host, server.port, "--port")
    if server.grpc_port:
        if server.grpc_port == server.port:
            raise InvalidInput(f"--grpc-port {server.grpc_port} is also the HTTP --port; give gRPC a port of its own.")
        _check_port(server.host, server.grpc_port, "--grpc-port")
    settings, server_tls = serving_tls.resolve(settings)
    server = settings.server
    if demo:
        console.print("[dim]Preparing the demo (training the readmission-risk model on first start)...[/dim]")
    # Replicas are forked and exec'd at once; gRPC's fork handlers have nothing to protect and
    # would only log that other threads are busy. Read when grpc is first imported, just below.
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    # Imported here: every other command is a thin HTTP client and should start fast.
    import uvicorn

    from aiplane.api.app import create_app

    def ready(banner: Banner) -> None:
        locating.remember(server.data_dir, banner.url)  # so the CLI finds this platform from anywhere
        _print_banner(banner)

    app, svc = create_app(settings, demo_mode=demo, on_ready=ready, tls=server_tls)
    pool = svc.workers
    serving_tls.reload_on_sighup(server_tls, (lambda: pool.signal(signal.SIGHUP)) if pool else None)
    if pool is None:
        config = serving_tls.uvicorn_config(app, server_tls, _UVICORN, host=server.host, port=server.port)
        _serve(uvicorn.Server(config), None)
    else:  # this process serves the shared port and, on a private socket, what workers relay
        shared = listening.shared_port(server.host, server.port)
        relay = private_unix(Path(pool.control_socket))
        config = serving_tls.uvicorn_config(app, server_tls, _UVICORN)
        if server_tls is None:
            _serve(uvicorn.Server(config), [shared, relay])
        else:
            _serve(serving_tls.with_plain_relay(config, relay), [shared])
    os.close(lock)


def gateway_worker(
    index: int = typer.Option(..., "--index"),
    control_socket: Path = typer.Option(..., "--control-socket"),
    parent_pid: int = typer.Option(..., "--parent-pid"),
) -> None:
    """One of the N-1 extra gateway processes of `aiplane up --workers N` (started by it)."""
    settings = Settings.from_env()
    logging.basicConfig(level=logging.WARNING, format=_LOG_FORMAT)
    import uvicorn

    from aiplane.api.worker_app import create_worker_app
    from aiplane.serving import parent_watch

    parent_watch.exit_with_parent(parent_pid)
    pair = tls.configured(settings.server.tls_cert, settings.server.tls_key)
    server_tls = ServerTLS(pair) if pair is not None else None
    serving_tls.reload_on_sighup(server_tls)
    app = create_worker_app(settings, index, str(control_socket))
    sock = listening.shared_port(settings.server.host, settings.server.port)
    _serve(uvicorn.Server(serving_tls.uvicorn_config(app, server_tls, _UVICORN)), [sock])


def _serve(server: Any, sockets: list[socket.socket] | None) -> None:
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; the shutdown is done (as uvicorn.run)
        pass


def _lock(data_dir: Path) -> int:
    fd = os.open(data_dir / "aiplane.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise Conflict(f"another aiplane is already running on data directory {str(data_dir)!r}; stop it first.") from None
    return fd


def _check_port(host: str, port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port} ({exc.strerror}); stop the other process or pass {flag}.") from None


def _print_banner(b: Banner) -> None:
    # Plain lines, never wrapped: keys and the curl line must survive copy and paste.
    say = print
    say(f"aiplane is up at {b.url}", flush=True)
    say(f"  API docs:       {b.url}/docs")
    if b.grpc:
        say(f"  gRPC (V2):      {b.grpc}   ({'TLS, ' if b.url.startswith('https') else ''}"
            "metadata 'authorization: Bearer <key>')")
    say(f"  Admin key:      {b.admin_key or '(see ' + b.admin_key_file + ')'}")
    if b.predictor_key:
        say(f"  Predictor key:  {b.predictor_key}   (tenant clinical)")
    if b.curl:
        say("Try a prediction:")
        say(b.curl)
    say("Press Ctrl-C to stop.", flush=True)
