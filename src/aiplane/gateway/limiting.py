"""Request limits held in memory, per gateway process: no store access per request.

- `RequestLimits`: a tenant's `rate_limit` applies to each of its deployments separately (a hot
  deployment cannot starve the tenant's others), and a key's own `rate_limit`, when it has
  one, to everything that key sends. With N gateway processes each holds rate/N, so the
  limit holds overall whatever process a connection lands on.
- `AuthGuard`: presented-but-invalid credentials cost a token from the client address's
  bucket; an address with none left gets 429 for any request carrying credentials, until its
  bucket refills. Every failure is announced to subscribers (the audit trail subscribes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Hashable

from aiplane.domain import ratelimit
from aiplane.domain.clock import Clock
from aiplane.domain.errors import RateLimited
from aiplane.domain.ratelimit import TokenBucket

log = logging.getLogger("aiplane.gateway")
_MAX_ADDRESSES = 10_000  # past this many tracked addresses, full (idle) buckets are forgotten


def _take(buckets: dict[Hashable, TokenBucket], key: Hashable, rate: float, share: int, now: float) -> float:
    per_process = rate / share
    burst = max(1.0, ratelimit.burst_for(rate) / share)
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = TokenBucket(per_process, burst, now)
    elif bucket.rate != per_process:
        bucket.retune(per_process, burst)
    return bucket.take(now)


class RequestLimits:
    def __init__(self, clock: Clock, share: int = 1) -> None:
        self.clock = clock
        self.share = max(1, share)
        self._deployments: dict[Hashable, TokenBucket] = {}
        self._keys: dict[Hashable, TokenBucket] = {}
        self.refused = 0

    def check(self, key_id: str, key_rate: float | None, tenant: str, deployment: str, deployment_id: int,
              tenant_rate: float | None) -> None:
        """Raise RateLimited when the key's or the deployment's bucket is empty."""
        if key_rate is None and tenant_rate is None:
            return
        now = self.clock.monotonic()
        if key_rate is not None:
            wait = _take(self._keys, key_id, key_rate, self.share, now)
            if wait:
                self.refused += 1
                raise RateLimited(f"key {key_id!r} is over its rate limit of {key_rate:g} requests per second; "
                                  f"retry after {ratelimit.retry_after_header(wait)} s or ask for a higher limit.", wait)
        if tenant_rate is not None:
            wait = _take(self._deployments, deployment_id, tenant_rate, self.share, now)
            if wait:
                self.refused += 1
                raise RateLimited(f"deployment {tenant}/{deployment} is over the rate limit of tenant {tenant!r} "
                                  f"({tenant_rate:g} requests per second per deployment); retry after "
                                  f"{ratelimit.retry_after_header(wait)} s or raise the tenant's --rate-limit.", wait)


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """A request that presented credentials which did not authenticate."""

    at: datetime
    client: str | None  # the client address, as the server saw it
    key_id: str | None  # the key id the credentials named, when they were shaped like a key
    plane: str  # "data" or "control"
    reason: str


class AuthGuard:
    def __init__(self, clock: Clock, failures_per_minute: float, burst: int) -> None:
        self.clock = clock
        self.rate = failures_per_minute / 60.0
        self.burst = float(max(1, burst))
        self._buckets: dict[str | None, TokenBucket] = {}
        self._listeners: list[Callable[[AuthFailure], None]] = []
        self._refusing: set[str | None] = set()  # addresses whose refusal has been logged

    def subscribe(self, listener: Callable[[AuthFailure], None]) -> None:
        """Call `listener` with every failed authentication (it must be quick; it runs inline)."""
        self._listeners.append(listener)

    def check(self, client: str | None) -> None:
        """Raise RateLimited while `client` has used up its failed-authentication budget."""
        bucket = self._buckets.get(client)
        if bucket is None:
            return
        wait = bucket.empty(self.clock.monotonic())
        if not wait:
            self._refusing.discard(client)
        else:
            raise RateLimited(f"too many failed authentications from {client}; retry after "
                              f"{ratelimit.retry_after_header(wait)} s with a valid key.", wait)

    def failed(self, client: str | None, key_id: str | None, plane: str, reason: str) -> None:
        now = self.clock.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= _MAX_ADDRESSES:
                self._forget_idle(now)
            bucket = self._buckets[client] = TokenBucket(self.rate, self.burst, now)
        bucket.take(now)
        wait = bucket.empty(now)
        if wait and client not in self._refusing:  # say so once per episode, not once per failure
            self._refusing.add(client)
            log.warning("client %s is refused for %d s after repeated failed authentications", client,
                        ratelimit.retry_after_header(wait))
        event = AuthFailure(self.clock.now(), client, key_id, plane, reason)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken subscriber must not turn a 401 into a 500
                log.exception("an authentication-failure subscriber failed")

    def _forget_idle(self, now: float) -> None:
        for address in [a for a, b in self._buckets.items() if b.empty(now) == 0.0 and b.tokens >= b.burst]:
            del self._buckets[address]
            self._refusing.discard(address)
