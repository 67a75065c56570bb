"""Quota admission: does a tenant's quota admit what a change asks for, given what it uses?

Pure: the store calls `check` inside the transaction that holds the tenant's lock, so two
racing requests can never both take the last unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from aiplane.domain import quantities
from aiplane.domain.errors import QuotaExceeded
from aiplane.domain.tenancy import Quota


@dataclass(frozen=True, slots=True)
class Resources:
    cpus_milli: int = 0
    memory_bytes: int = 0
    gpus: int = 0
    mig: Mapping[str, int] = field(default_factory=dict)
    replicas: int = 0

    def times(self, n: int) -> Resources:
        return Resources(
            cpus_milli=self.cpus_milli * n,
            memory_bytes=self.memory_bytes * n,
            gpus=self.gpus * n,
            mig={k: v * n for k, v in self.mig.items()},
            replicas=self.replicas * n,
        )

    def plus(self, other: Resources) -> Resources:
        mig = dict(self.mig)
        for k, v in other.mig.items():
            mig[k] = mig.get(k, 0) + v
        return Resources(
            cpus_milli=self.cpus_milli + other.cpus_milli,
            memory_bytes=self.memory_bytes + other.memory_bytes,
            gpus=self.gpus + other.gpus,
            mig=mig,
            replicas=self.replicas + other.replicas,
        )


def check(tenant: str, quota: Quota, used: Resources, asked: Resources) -> None:
    """Raise QuotaExceeded naming the first resource whose limit `used + asked` would pass."""
    rows: list[tuple[str, int, int, int | None, Callable[[int], str]]] = [
        ("cpus", asked.cpus_milli, used.cpus_milli, quota.cpus_milli, quantities.format_cpus),
        ("memory", asked.memory_bytes, used.memory_bytes, quota.memory_bytes, quantities.format_memory),
        ("gpus", asked.gpus, used.gpus, quota.gpus, str),
        ("replicas", asked.replicas, used.replicas, quota.replicas, str),
    ]
    for profile, n in asked.mig.items():
        rows.append((f"mig {profile}", n, used.mig.get(profile, 0), quota.mig.get(profile, 0), str))
    for name, want, have, limit, fmt in rows:
        if limit is None or want <= 0:
            continue
        if have + want > limit:
            raise QuotaExceeded(
                f"tenant {tenant!r} quota exceeded for {name}: asked {fmt(want)}, "
                f"in use {fmt(have)}, limit {fmt(limit)}; free capacity or raise the quota."
            )
