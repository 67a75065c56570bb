"""Where a supervised replica listens: its HTTP socket path, and beside it the gRPC one.

The supervisor starts replicas with both; the gateway knows a replica by its HTTP socket (the
routing table's key) and finds the gRPC socket from it.
"""

from __future__ import annotations


def grpc_socket(http_socket: str) -> str:
    return http_socket.removesuffix(".sock") + ".grpc.sock"
