"""Forward serialized gRPC calls to replicas: one persistent channel per ready replica.

A replica's channel speaks HTTP/2 over the Unix socket beside its HTTP one and carries many
calls at once. Methods are bound with no (de)serializers, so request and answer stay the bytes
the client and the replica wrote.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import grpc.aio

from aiplane.domain import policy
from aiplane.serving import sockets

SERVICE = "inference.GRPCInferenceService"
METHODS = tuple(policy.GRPC_METHODS)  # every method of the service has its route policy there
# The answer's size is bounded by the replica (and the model), not by the request limit.
_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


class _Channel:
    def __init__(self, http_socket: str) -> None:
        self.channel = grpc.aio.insecure_channel("unix:" + sockets.grpc_socket(http_socket), options=_OPTIONS)
        self.methods = {name: self.channel.unary_unary(f"/{SERVICE}/{name}") for name in METHODS}


class ReplicaChannels:
    """Channels keyed by the replica's HTTP socket, the key the routing table picks replicas by."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}
        self._sockets: dict[int, set[str]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def set_replicas(self, deployment_id: int, sockets: list[str]) -> None:
        """The ready replicas of a deployment changed (the supervisor's callback, on the loop)."""
        ready = set(sockets)
        for gone in self._sockets.get(deployment_id, set()) - ready:
            channel = self._channels.pop(gone, None)
            if channel is not None:
                task = asyncio.get_running_loop().create_task(channel.channel.close(grace=5.0))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        if ready:
            self._sockets[deployment_id] = ready
        else:
            self._sockets.pop(deployment_id, None)

    def method(self, http_socket: str, name: str) -> grpc.aio.UnaryUnaryMultiCallable:
        channel = self._channels.get(http_socket)
        if channel is None:
            channel = self._channels[http_socket] = _Channel(http_socket)
        return channel.methods[name]

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        await asyncio.gather(*(c.channel.close() for c in channels))
        for task in list(self._closing):
            with contextlib.suppress(asyncio.CancelledError):
                await task
