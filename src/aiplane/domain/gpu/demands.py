"""The demand of an offline what-if (`aiplane gpu pack --demand`): replicas to place.

    replicas:
      - {tenant: clinical, deployment: triage, profile: 3g.40gb, count: 2}
      - {tenant: research, deployment: train, profile: gpu}

`profile` is a MIG profile name (each GPU model reads it by its own geometry) or `gpu`.
"""

from __future__ import annotations

from aiplane.domain import names
from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import geometry, located
from aiplane.domain.gpu.geometry import WHOLE_GPU
from aiplane.domain.gpu.pool import Demand

_MAX_REPLICAS = 1_000_000


def parse(text: str, source: str) -> list[Demand]:
    doc, top = located.load(text, source)
    fields = located.fields(doc, top, "the demand", ("replicas",), ("replicas",))
    rows = fields["replicas"]
    if not isinstance(rows, list):
        raise doc.error(top, "replicas", "must be a list of {tenant, deployment, profile, count}")
    out: list[Demand] = []
    seen: dict[tuple[str, str], int] = {}  # replicas so far per deployment: indexes continue
    for r, row in enumerate(rows):
        path = f"replicas[{r}]"
        f = located.fields(doc, row, path, ("tenant", "deployment", "profile", "count"),
                           ("tenant", "deployment", "profile"))
        for key in ("tenant", "deployment"):
            try:
                names.check(key, str(f[key]))
            except InvalidInput as exc:
                raise doc.error(row, f"{path}.{key}", exc.message.rstrip(".")) from None
        profile, count = str(f["profile"]), f.get("count", 1)
        if profile != WHOLE_GPU:
            try:
                geometry.check_profile(profile)
            except InvalidInput as exc:
                raise doc.error(row, f"{path}.profile", f"{exc.message.rstrip('.')}, or gpu for a whole GPU") from None
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise doc.error(row, f"{path}.count", f"is {count!r}; give a whole number of replicas, at least 1")
        owner = (str(f["tenant"]), str(f["deployment"]))
        out += [Demand(owner[0], owner[1], profile, seen.get(owner, 0) + i) for i in range(count)]
        seen[owner] = seen.get(owner, 0) + count
        if len(out) > _MAX_REPLICAS:
            raise doc.error(row, f"{path}.count", f"brings the demand over {_MAX_REPLICAS} replicas; split it")
    return out
