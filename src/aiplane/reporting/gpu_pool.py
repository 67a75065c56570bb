"""The GPU pool as documents: a packing (what-if or live), and the layout as a mig-parted config."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import yaml

from aiplane.domain.gpu.geometry import WHOLE_GPU
from aiplane.domain.gpu.inventory import Inventory
from aiplane.domain.gpu.placement import Packing
from aiplane.domain.gpu.pool import Gpu


def packing(inv: Inventory, p: Packing) -> dict[str, Any]:
    """The answer of `aiplane gpu pack`: each placement, what was not placed and why, the totals."""
    return {
        "inventory": inv.source, "simulated": inv.simulated,
        "placements": [{"tenant": x.demand.tenant, "deployment": x.demand.deployment, "replica": x.demand.replica,
                        "node": x.gpu.node, "gpu": x.gpu.index, "profile": x.profile, "start": x.start}
                       for x in p.placed],
        "unplaced": [{"tenant": r.demand.tenant, "deployment": r.demand.deployment, "replica": r.demand.replica,
                      "profile": r.demand.profile, "reason": r.reason} for r in p.refused],
        "gpus_used": p.gpus_used, "gpus_total": len(p.gpus),
        "slices": {"allocated": p.slices_allocated, "total": p.slices_total},
        "optimal": p.optimal,
    }


def mig_parted(gpus: Sequence[Gpu]) -> str:
    """A mig-parted config (version v1) with one config per node, named `aiplane-NODE`: for each
    GPU its MIG mode and the count of each profile it holds now. mig-parted applies counts, not
    start positions; it tries orders until the set fits, which a valid layout always does."""
    configs: dict[str, list[dict[str, Any]]] = {}
    for g in gpus:
        entry: dict[str, Any] = {"devices": [g.id.index], "mig-enabled": g.mig}
        if g.mig:
            entry["mig-devices"] = dict(sorted(Counter(i.profile for i in g.instances if i.profile != WHOLE_GPU).items()))
        configs.setdefault(f"aiplane-{g.id.node}", []).append(entry)
    return str(yaml.safe_dump({"version": "v1", "mig-configs": configs}, sort_keys=False))
