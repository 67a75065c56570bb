"""The GPU pool as plain data: GPUs, the MIG instances on them, who owns each, and what is asked.

`violations(gpu)` is the one statement of what a valid layout is, used to check declared and
detected layouts and, in the tests, every layout the placement engine produces.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from aiplane.domain.gpu.geometry import WHOLE_GPU, GpuModel


@dataclass(frozen=True, slots=True, order=True)
class GpuId:
    node: str
    index: int

    def __str__(self) -> str:
        return f"{self.node}/{self.index}"


@dataclass(frozen=True, slots=True)
class Owner:
    tenant: str
    deployment: str
    replica: int

    def __str__(self) -> str:
        return f"{self.tenant}/{self.deployment}#{self.replica}"


@dataclass(frozen=True, slots=True)
class Instance:
    """A MIG instance (`start` = first memory slice), or the whole GPU (profile "gpu", start None)."""

    profile: str
    start: int | None
    owner: Owner | None = None  # None: the instance exists but is free


@dataclass(frozen=True, slots=True)
class Gpu:
    id: GpuId
    model: GpuModel
    mig: bool
    instances: tuple[Instance, ...] = ()
    uuid: str | None = None  # the device (or MIG parent) UUID on a real GPU; None when simulated

    @property
    def busy(self) -> bool:
        return any(i.owner is not None for i in self.instances)


@dataclass(frozen=True, slots=True)
class Demand:
    """One replica's need: a MIG profile name (interpreted by each GPU's model) or "gpu"."""

    tenant: str
    deployment: str
    profile: str
    replica: int = 0

    @property
    def owner(self) -> Owner:
        return Owner(self.tenant, self.deployment, self.replica)

    @property
    def whole(self) -> bool:
        return self.profile == WHOLE_GPU


def violations(gpu: Gpu) -> list[str]:
    """Every rule of NVIDIA's geometry the GPU's layout breaks; empty when it is valid."""
    m, out = gpu.model, []
    whole = [i for i in gpu.instances if i.profile == WHOLE_GPU]
    if not gpu.mig:
        if len(gpu.instances) > 1 or len(whole) != len(gpu.instances):
            out.append(f"{gpu.id} has MIG off, so it holds one whole-GPU allocation and no MIG instance")
        return out
    if whole:
        out.append(f"{gpu.id} has MIG on, so it cannot be allocated as a whole GPU")
    used = 0
    compute = 0
    for inst in gpu.instances:
        p = m.profiles.get(inst.profile)
        if p is None:
            out.append(f"{gpu.id}: {inst.profile} is not a profile of {m.name}")
            continue
        if p.starts is None or inst.start not in p.starts:
            out.append(f"{gpu.id}: {p.name} cannot start at slice {inst.start} on {m.name}")
            continue
        bits = ((1 << p.size) - 1) << inst.start
        if used & bits:
            out.append(f"{gpu.id}: {p.name}@{inst.start} overlaps another instance")
        used |= bits
        compute += p.compute
    if compute > m.compute:
        out.append(f"{gpu.id}: instances take {compute} compute slices of {m.compute}")
    if len(gpu.instances) > m.max_instances:
        out.append(f"{gpu.id}: {len(gpu.instances)} instances, more than the {m.max_instances} allowed")
    for name, n in Counter(i.profile for i in gpu.instances).items():
        p = m.profiles.get(name)
        if p is not None and n > p.max_instances:
            out.append(f"{gpu.id}: {n} instances of {name}, more than its {p.max_instances}")
    if sum(1 for i in gpu.instances if i.profile in m.profiles and m.profiles[i.profile].media) > 1:
        out.append(f"{gpu.id}: more than one media-extension (+me) instance; the GPU has one JPEG/OFA set")
    return out
