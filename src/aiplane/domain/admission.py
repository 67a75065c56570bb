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

    def minus(self, other: Resources) -> Resources:
        """What `self` asks beyond `other`, per resource (negative where it asks less)."""
        return self.plus(other.times(-1))

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


_Row = tuple[str, int, int, int | None, Callable[[int], str]]


def _rows(quota: Quota, used: Resources, asked: Resources) -> list[_Row]:
    rows: list[_Row] = [
        ("cpus", asked.cpus_milli, used.cpus_milli, quota.cpus_milli, quantities.format_cpus),
        ("memory", asked.memory_bytes, used.memory_bytes, quota.memory_bytes, quantities.format_memory),
        ("gpus", asked.gpus, used.gpus, quota.gpus, str),
        ("replicas", asked.replicas, used.replicas, quota.replicas, str),
    ]
    for profile in sorted(set(asked.mig) | set(used.mig)):
        rows.append((f"mig {profile}", asked.mig.get(profile, 0), used.mig.get(profile, 0),
                     quota.mig.get(profile, 0), str))
    return rows


def check(tenant: str, quota: Quota, used: Resources, asked: Resources) -> None:
    """Raise QuotaExceeded naming the first resource whose limit `used + asked` would pass.

    Only growth is checked: a change that asks for nothing more of a resource (a scale-down)
    is admitted even while the tenant is above a quota that was lowered under its use.
    """
    for name, want, have, limit, fmt in _rows(quota, used, asked):
        if limit is None or want <= 0:
            continue
        if have + want > limit:
            lowered = "; the quota was lowered below what is in use, so it admits no growth until use falls " \
                      "under the limit" if have > limit else ""
            raise QuotaExceeded(
                f"tenant {tenant!r} quota exceeded for {name}: asked {fmt(want)}, "
                f"in use {fmt(have)}, limit {fmt(limit)}{lowered}; free capacity or raise the quota."
            )


def over_limit(tenant: str, quota: Quota, used: Resources) -> list[str]:
    """One warning per resource whose use is above its limit (allowed; it only blocks growth)."""
    return [
        f"tenant {tenant!r} uses {fmt(have)} of {name}, above the new limit of {fmt(limit)}; what runs keeps "
        "running, but no deploy or scale-up is admitted until use falls under the limit."
        for name, _want, have, limit, fmt in _rows(quota, used, Resources())
        if limit is not None and have > limit
    ]
