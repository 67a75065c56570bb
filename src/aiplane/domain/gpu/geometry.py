"""MIG geometry: which instances a GPU model can hold, keyed by (GPU model, profile name).

The data is `mig-profiles.json` beside this module (schema mig-profiles/v1), copied with its
sources: NVIDIA's MIG User Guide tables and `nvidia-smi mig -lgipp` placements, NVIDIA's
mig-parted default config, and the transcripts each entry names. The same name means different
things on different models (A100-40GB `1g.10gb` takes two memory slices, A100-80GB `1g.10gb`
one), so a profile is only ever looked up through its model.

A profile whose placements no source confirms (every H200 and B200 profile today) is
*unconfirmed*: it is listed, but nothing is placed on it until a live GPU reports its
placements (`GpuModel.with_placements`, from NVML). `assuming_expected()` is for what-if
planning only, and every report that uses it says so.

Reading the file is the only I/O, done once on first use (never at import) from the installed
package, so the module stays a pure function of its data.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

from aiplane.domain.errors import InvalidInput

WHOLE_GPU = "gpu"  # a demand for a whole GPU with MIG off


@dataclass(frozen=True, slots=True)
class Profile:
    name: str  # e.g. "3g.40gb": 3 compute slices, about 40 GB
    compute: int  # compute (SM) slices
    size: int  # memory slices occupied: [start, start + size)
    starts: tuple[int, ...] | None  # valid start slices; None = not confirmed by a source
    expected_starts: tuple[int, ...] | None  # what the data expects where `starts` is None
    max_instances: int
    media: bool  # a +me profile: takes the GPU's one JPEG/OFA engine set
    memory_gb: int  # the nominal GB in the name (NVML's memorySizeMB is the truth at runtime)
    profile_id: int | None  # the GPU-instance profile ID of `nvidia-smi mig -cgi` on this model
    nvml_enum: int | None = None  # NVML's GPU_INSTANCE_PROFILE_* value, to query the profile


@dataclass(frozen=True, slots=True)
class GpuModel:
    name: str
    memory_gb: int
    compute: int  # compute slices in all (7, or 4 on A30)
    slices: int  # memory slices in all (8, or 4 on A30)
    max_instances: int
    profiles: Mapping[str, Profile]
    aliases: tuple[str, ...] = ()

    def profile(self, name: str) -> Profile:
        """The profile `name` of this model, else InvalidInput listing this model's profiles."""
        found = self.profiles.get(name)
        if found is None:
            raise InvalidInput(f"MIG profile {name!r} does not exist on {self.name}; its profiles are "
                               f"{', '.join(self.profiles)}.")
        return found

    @property
    def full(self) -> Profile:
        """The profile that takes the whole GPU (7g.80gb on an A100-80GB)."""
        return max(self.profiles.values(), key=lambda p: (p.size, p.compute))

    def with_placements(self, reported: Mapping[str, tuple[int, ...]]) -> GpuModel:
        """This model with the placements a live GPU reported (NVML), which confirm them."""
        profiles = {n: dataclasses.replace(p, starts=tuple(reported[n])) if n in reported else p
                    for n, p in self.profiles.items()}
        return dataclasses.replace(self, profiles=profiles)

    def assuming_expected(self) -> GpuModel:
        """What-if only: unconfirmed placements replaced by the expected ones."""
        return self.with_placements({n: p.expected_starts for n, p in self.profiles.items()
                                     if p.starts is None and p.expected_starts is not None})


@functools.cache
def models() -> Mapping[str, GpuModel]:
    """Every GPU model of the data, by name."""
    raw = json.loads(resources.files(__package__).joinpath("mig-profiles.json").read_text(encoding="utf-8"))
    return {name: _model(name, doc) for name, doc in raw["models"].items()}


def _model(name: str, doc: Mapping[str, Any]) -> GpuModel:
    expected = doc.get("placements_expected_unverified") or {}
    profiles = {}
    for p in doc["profiles"]:
        placements = p["placements"]
        guess = expected.get(p["name"])
        profiles[p["name"]] = Profile(
            name=p["name"], compute=p["compute_slices"], size=p["memory_slices"],
            starts=tuple(placements["starts"]) if placements else None,
            expected_starts=tuple(guess["starts"]) if guess else None,
            max_instances=p["max_instances"], media=bool(p["media_extensions"]),
            memory_gb=int(re.fullmatch(r"\d+g\.(\d+)gb(\+me)?", p["name"])[1]),  # type: ignore[index]
            profile_id=p.get("profile_id"), nvml_enum=_enum_value(p.get("nvml_profile_enum")),
        )
    return GpuModel(name=name, memory_gb=int(doc["memory_total_gb_nominal"]), compute=doc["compute_slices_total"],
                    slices=doc["memory_slices_total"], max_instances=doc["max_gpu_instances"], profiles=profiles,
                    aliases=tuple(a.split(" (")[0] for a in doc.get("applies_also_to") or ()))


def _enum_value(raw: str | None) -> int | None:
    """'GPU_INSTANCE_PROFILE_3_SLICE (2)' -> 2."""
    match = re.search(r"\((\d+)\)", raw or "")
    return int(match[1]) if match else None


def model(name: str) -> GpuModel:
    """The GPU model `name` (or one of its aliases), else InvalidInput listing the valid ones."""
    found = models().get(name) or next((m for m in models().values() if name in m.aliases), None)
    if found is None:
        raise InvalidInput(f"GPU model {name!r} is not known; use one of {', '.join(models())}.")
    return found


def profile_names() -> tuple[str, ...]:
    """Every profile name of every model, each once, in the data's order."""
    return tuple(dict.fromkeys(n for m in models().values() for n in m.profiles))


def check_profile(name: str) -> str:
    """`name` when some GPU model has that profile, else InvalidInput listing the valid names."""
    if name not in profile_names():
        raise InvalidInput(f"MIG profile {name!r} is not a profile of any supported GPU; valid profiles are "
                           f"{', '.join(profile_names())}.")
    return name


def smallest_profile(gpu: GpuModel, memory_gb: float, compute: int = 1) -> Profile | None:
    """The smallest usable profile of `gpu` with at least `memory_gb` GB and `compute` slices, or None
    when only a whole GPU (or more) will do. Media-extension profiles are never chosen: they take
    the GPU's one JPEG/OFA set, which an ONNX model does not need."""
    fits = [p for p in gpu.profiles.values()
            if not p.media and p.memory_gb >= memory_gb and p.compute >= compute]
    return min(fits, key=lambda p: (p.size, p.compute, p.memory_gb), default=None)


def smallest_profiles(memory_gb: float, compute: int = 1) -> dict[str, Profile | None]:
    """Per GPU model, the smallest profile holding `memory_gb` GB (None: a whole GPU or more).
    For advice (e.g. `model profile`): it includes profiles whose placements are unconfirmed."""
    return {name: smallest_profile(m, memory_gb, compute) for name, m in models().items()}
