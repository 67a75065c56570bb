"""What a caller may see of the pool, and whether a device can be asked of it at all.

A key bound to a tenant sees its own instances with their owners, and every other instance
only as taken: another tenant's names are never shown. A platform key sees every owner.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu.geometry import WHOLE_GPU
from aiplane.domain.gpu.inventory import Inventory
from aiplane.domain.gpu.pool import Gpu, Owner

TAKEN = Owner("", "", -1)  # an instance someone else owns: shown as taken, never by name


def seen_by(gpus: Sequence[Gpu], tenant: str | None) -> tuple[Gpu, ...]:
    """The layout as the caller (bound to `tenant`, or None for every tenant) may see it."""
    if tenant is None:
        return tuple(gpus)
    return tuple(replace(g, instances=tuple(
        i if i.owner is None or i.owner.tenant == tenant else replace(i, owner=TAKEN) for i in g.instances))
        for g in gpus)


def check_device(pool: Inventory | None, device: str, profile: str | None) -> None:
    """Refuse a GPU device the pool can never give: no pool at all, or a MIG profile that no
    GPU model in the pool has (the message lists what the pool's models do have)."""
    if profile is None:
        return
    if pool is None:
        raise InvalidInput(f"device {device!r} is not available: this aiplane has no GPU pool; start it with "
                           "--gpu-inventory FILE (AIPLANE_GPU_INVENTORY) or on a machine with NVIDIA GPUs and the "
                           "gpu extra, or deploy with --device cpu.")
    models = {g.model.name: g.model for g in pool.gpus}
    if profile != WHOLE_GPU and not any(profile in m.profiles for m in models.values()):
        have = "; ".join(f"{name} has {', '.join(m.profiles)}" for name, m in models.items())
        raise InvalidInput(f"MIG profile {profile!r} does not exist on any GPU model in the pool ({have}); "
                           "choose one of those.")
