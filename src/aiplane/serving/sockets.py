"""Unix sockets of the platform's processes.

A supervised replica listens on an HTTP socket and beside it a gRPC one: the supervisor starts
replicas with both; the gateway knows a replica by its HTTP socket (the routing table's key)
and finds the gRPC socket from it. The audit writer and the main process's relay socket are
private to this user (`private_unix`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def grpc_socket(http_socket: str) -> str:
    return http_socket.removesuffix(".sock") + ".grpc.sock"


def private_unix(path: Path) -> socket.socket:
    """A Unix socket only this user can connect to (its folder is private too), bound, not listening."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    return sock
