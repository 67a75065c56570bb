"""Listening sockets for `aiplane up --workers N`, made here and handed to uvicorn."""

from __future__ import annotations

import socket


def shared_port(host: str, port: int) -> socket.socket:
    """A TCP socket on host:port that every gateway process binds (SO_REUSEPORT): the kernel
    spreads new connections over them, and a worker that dies takes only its own with it.
    Left unlistened: uvicorn listens once the process's start-up is done, so no connection
    lands on a process that cannot serve it yet."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(False)
    return sock
