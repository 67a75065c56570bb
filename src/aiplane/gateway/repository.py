"""What the gateway knows of its models: the repository extension's index as one tenant sees
it (its own deployments, nothing else), and whether the server as a whole is ready."""

from __future__ import annotations

import orjson

from aiplane.gateway.forwarding import RoutingTable
from aiplane.gateway.state import StateCache


def index(cache: StateCache, routing: RoutingTable, tenant: str, ready_only: bool) -> bytes:
    entries = []
    for route in cache.routes_of(tenant):
        ready = routing.ready_count(route.deployment_id) > 0
        if ready or not ready_only:
            entries.append({"name": route.name, "version": route.model_version,
                            "state": "READY" if ready else "UNAVAILABLE",
                            "reason": "" if ready else "no replica is ready yet"})
    return orjson.dumps(sorted(entries, key=lambda e: e["name"]))


def all_ready(cache: StateCache, routing: RoutingTable) -> bool:
    """V2 server readiness: every deployment has a ready replica (true when there are none)."""
    return all(routing.ready_count(r.deployment_id) > 0 for r in cache.routes())
