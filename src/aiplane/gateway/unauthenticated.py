"""Requests without a valid key, recorded as counts instead of one event each.

Anyone can send them, so one event per request would let an anonymous flood grow the log (and
its disk) without limit. Each gateway process counts them instead, per source address, plane
and status, over a window (`AIPLANE_AUDIT_UNAUTHENTICATED_WINDOW_S`), and writes one
`authenticate` event per group when the window closes: how many requests it stands for (its
`decision`, "N requests"), the first and last time, and the first request's resource (the id of
a presented key, or the path, cut to `MAX_RESOURCE` characters). At most `MAX_SOURCES`
addresses are counted apart in one window; the rest share one group without an address. So
the log grows by at most (MAX_SOURCES + 1) events per plane and status a window, whatever the
rate of the flood.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from aiplane.domain.audit import AuditEvent
from aiplane.domain.clock import Clock
from aiplane.gateway.audit_log import AuditWriter, next_audit_id
from aiplane.gateway.limiting import AuthFailure

MAX_SOURCES = 1000
MAX_RESOURCE = 256

Group = tuple["str | None", str, int]  # source address (None: the overflow group), plane, status


def cut(text: str, limit: int = MAX_RESOURCE) -> str:
    """A stored resource path of at most `limit` characters (a marked cut beyond it)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(slots=True)
class _Count:
    first: datetime
    last: datetime
    requests: int
    resource: str


class UnauthenticatedTally:
    def __init__(self, writer: AuditWriter, clock: Clock, window_s: float, max_sources: int = MAX_SOURCES) -> None:
        self.writer, self.clock, self.window_s, self.max_sources = writer, clock, window_s, max_sources
        self._counts: dict[Group, _Count] = {}
        self._sources: set[str | None] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, source: str | None, plane: str, status: int, resource: str) -> None:
        """Count one request without a valid key (runs on the event loop, inline: quick)."""
        if source not in self._sources:
            if len(self._sources) >= self.max_sources:
                source = None
            self._sources.add(source)
        now = self.clock.now()
        group = (source, plane, status)
        count = self._counts.get(group)
        if count is None:
            self._counts[group] = _Count(now, now, 1, cut(f"{plane}-plane/{resource}"))
        else:
            count.last, count.requests = now, count.requests + 1
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window_s, self.flush)

    def failure_listener(self) -> Callable[[AuthFailure], None]:
        """A subscriber for the AuthGuard: presented-but-invalid credentials, either plane."""
        def failed(failure: AuthFailure) -> None:
            self.add(failure.client, failure.plane, 401, f"keys/{failure.key_id or '-'}")
        return failed

    def flush(self) -> None:
        """Write one event per group counted since the last flush (also at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        counts, self._counts, self._sources = self._counts, {}, set()
        for (source, _plane, status), count in counts.items():
            self.writer.record_detached(AuditEvent(
                audit_id=next_audit_id(), received_at=count.first, completed_at=count.last, actor=None, role=None,
                tenant=None, source_ip=source, action="authenticate", resource=count.resource, status=status,
                decision=f"{count.requests} request{'' if count.requests == 1 else 's'}"))
