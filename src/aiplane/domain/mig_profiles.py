"""The MIG profile names a quota may name, per GPU model.

Copied from the mig-profiles/v1 reference data (see docs/reference-figures.md: the NVIDIA MIG User Guide's
"Supported MIG Profiles" tables and NVIDIA/mig-parted's default config). Only the names are
needed here: a quota counts slices per profile name, so a name no GPU has is a typo.
"""

from __future__ import annotations

from aiplane.domain.errors import InvalidInput

BY_GPU: dict[str, tuple[str, ...]] = {
    "A30-24GB": ("1g.6gb", "1g.6gb+me", "2g.12gb", "2g.12gb+me", "4g.24gb"),
    "A100-SXM4-40GB": ("1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100-80GB": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-80GB": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-NVL-94GB": ("1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"),
    "H200-141GB": ("1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
    "B200-180GB": ("1g.23gb", "1g.23gb+me", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"),
}

NAMES: frozenset[str] = frozenset(name for names in BY_GPU.values() for name in names)


def check(name: str) -> str:
    """`name` when it is a MIG profile of a supported GPU, else InvalidInput naming a few real ones."""
    if name not in NAMES:
        raise InvalidInput(
            f"MIG profile {name!r} is not a profile of any supported GPU; use a name such as "
            "1g.10gb, 2g.20gb, 3g.40gb or 7g.80gb (A100/H100 80GB)."
        )
    return name
