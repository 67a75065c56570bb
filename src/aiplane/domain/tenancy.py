"""Tenants (teams) and their quotas."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from aiplane.domain.gpu import geometry
from aiplane.domain.errors import InvalidInput


class Compliance(str, enum.Enum):
    HIPAA = "hipaa"
    GDPR = "gdpr"
    SOC2 = "soc2"

    @classmethod
    def parse_list(cls, values: list[str] | str | None) -> tuple[Compliance, ...]:
        if values is None:
            return ()
        items = [v.strip() for v in values.split(",")] if isinstance(values, str) else list(values)
        parsed: list[Compliance] = []
        for item in items:
            if not item:
                continue
            try:
                parsed.append(cls(item.lower()))
            except ValueError:
                allowed = ", ".join(c.value for c in cls)
                raise InvalidInput(f"compliance regime {item!r} is unknown; use any of: {allowed}.") from None
        return tuple(dict.fromkeys(parsed))


def check_mig_profile(name: str) -> str:
    return geometry.check_profile(name)


@dataclass(frozen=True, slots=True)
class Quota:
    """Hard limits; None means unlimited."""

    cpus_milli: int | None = None
    memory_bytes: int | None = None
    gpus: int | None = None
    mig: Mapping[str, int] = field(default_factory=dict)
    replicas: int | None = None
    rate_limit: float | None = None


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    quota: Quota
    cost_center: str | None
    compliance: tuple[Compliance, ...]
    created_at: datetime


def parse_quota(
    cpus: str | float | None = None,
    memory: str | None = None,
    gpus: int | str | None = None,
    mig: Mapping[str, int | str] | None = None,
    replicas: int | str | None = None,
    rate_limit: float | str | None = None,
    base: Quota | None = None,
) -> Quota:
    """Build a Quota from user input; fields left as None keep `base`'s value."""
    from aiplane.domain import quantities

    base = base or Quota()
    mig_limits = dict(base.mig)
    for profile, n in (mig or {}).items():
        mig_limits[check_mig_profile(profile)] = quantities.count(f"mig {profile}", n)
    return Quota(
        cpus_milli=base.cpus_milli if cpus is None else quantities.millicpus("cpus", cpus),
        memory_bytes=base.memory_bytes if memory is None else quantities.memory_bytes("memory", memory),
        gpus=base.gpus if gpus is None else quantities.count("gpus", gpus),
        mig=mig_limits,
        replicas=base.replicas if replicas is None else quantities.count("max-replicas", replicas),
        rate_limit=base.rate_limit if rate_limit is None else parse_rate("rate-limit", rate_limit),
    )


def parse_rate(field: str, value: float | str) -> float:
    """A positive, finite number of requests per second, at most MAX_RATE."""
    try:
        if isinstance(value, bool) or (isinstance(value, str) and not value.isascii()):
            raise ValueError("not a number")
        rate = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} {value!r} is not a number of requests per second.") from None
    if not 0 < rate <= MAX_RATE:
        raise InvalidInput(f"{field} {value!r} must be a positive number of requests per second, at most {MAX_RATE:g}.")
    return rate


MAX_RATE = 1e9
