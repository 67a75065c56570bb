"""The GPU inventory: which nodes have which GPUs, MIG on or off, and any instances already made.

Declared in YAML (AIPLANE_GPU_INVENTORY, `aiplane up --gpu-inventory`, `aiplane gpu pack
--inventory`) or detected with NVML. A declared inventory may say `simulated: true`: the whole
path then runs on a machine without GPUs, and every view says so.

    simulated: true
    nodes:
      - name: node-a
        gpus:
          - {model: A100-80GB, count: 2, mig: true}
          - {model: A100-80GB, mig: true, layout: [3g.40gb@0, 3g.40gb@4]}  # instances made, free
          - {model: H100-80GB, mig: false}

Every mistake is one sentence naming the file, the line and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import geometry, located
from aiplane.domain.gpu.pool import Gpu, GpuId, Instance, violations

_MAX_GPUS = 100_000


@dataclass(frozen=True, slots=True)
class Inventory:
    gpus: tuple[Gpu, ...]
    simulated: bool
    source: str  # the file, or "NVML"

    @property
    def label(self) -> str:
        return "simulated" if self.simulated else "real"

    def gpu(self, gpu_id: GpuId) -> Gpu | None:
        return next((g for g in self.gpus if g.id == gpu_id), None)


def parse(text: str, source: str) -> Inventory:
    """The inventory declared by the YAML `text` read from `source`."""
    doc, top = located.load(text, source)
    fields = located.fields(doc, top, "the inventory", ("simulated", "nodes"), ("nodes",))
    simulated = fields.get("simulated", False)
    if not isinstance(simulated, bool):
        raise doc.error(top, "simulated", f"is {simulated!r}; give true or false")
    nodes = fields["nodes"]
    if not isinstance(nodes, list) or not nodes:
        raise doc.error(top, "nodes", "must be a non-empty list of {name, gpus}")
    gpus: list[Gpu] = []
    names: set[str] = set()
    for n, node in enumerate(nodes):
        gpus += _node(doc, node, f"nodes[{n}]", names)
        if len(gpus) > _MAX_GPUS:
            raise doc.error(node, f"nodes[{n}]", f"brings the pool over {_MAX_GPUS} GPUs; split it")
    return Inventory(tuple(gpus), simulated, source)


def _node(doc: located.Located, raw: Any, path: str, names: set[str]) -> list[Gpu]:
    fields = located.fields(doc, raw, path, ("name", "gpus"), ("name", "gpus"))
    name = fields["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", name):
        raise doc.error(raw, f"{path}.name", f"is {name!r}; give a host name of letters, digits, '.', '_' or '-'")
    if name in names:
        raise doc.error(raw, f"{path}.name", f"{name!r} is declared twice; give each node once")
    names.add(name)
    entries = fields["gpus"]
    if not isinstance(entries, list) or not entries:
        raise doc.error(raw, f"{path}.gpus", "must be a non-empty list of {model, count, mig}")
    out: list[Gpu] = []
    for e, entry in enumerate(entries):
        out += _gpus(doc, entry, f"{path}.gpus[{e}]", name, len(out))
    return out


def _gpus(doc: located.Located, raw: Any, path: str, node: str, first: int) -> list[Gpu]:
    fields = located.fields(doc, raw, path, ("model", "count", "mig", "layout"), ("model",))
    check: Callable[[str, str], InvalidInput] = lambda field, problem: doc.error(raw, f"{path}.{field}", problem)
    try:
        model = geometry.model(str(fields["model"]))
    except InvalidInput as exc:
        raise check("model", f"is {fields['model']!r}, not a known GPU model; use one of "
                             f"{', '.join(geometry.models())}") from exc
    count, mig = fields.get("count", 1), fields.get("mig", True)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= _MAX_GPUS:
        raise check("count", f"is {count!r}; give a whole number of GPUs, at least 1")
    if not isinstance(mig, bool):
        raise check("mig", f"is {mig!r}; give true or false")
    instances = _layout(check, model, mig, fields.get("layout", []))
    gpus = [Gpu(GpuId(node, first + i), model, mig, instances) for i in range(count)]
    problems = violations(gpus[0])
    if problems:
        raise check("layout", f"is not a valid layout: {problems[0]}")
    return gpus


def _layout(check: Callable[[str, str], InvalidInput], model: geometry.GpuModel, mig: bool,
            raw: Any) -> tuple[Instance, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise check("layout", "must be a list of PROFILE@START, e.g. [3g.40gb@0, 3g.40gb@4]")
    if raw and not mig:
        raise check("layout", "lists MIG instances, but mig is false")
    out = []
    for item in raw:
        match = re.fullmatch(r"(.+)@([0-9])", item)
        if not match:
            raise check("layout", f"has {item!r}; write PROFILE@START, e.g. 3g.40gb@4")
        try:
            model.profile(match[1])
        except InvalidInput as exc:
            raise check("layout", exc.message.rstrip(".")) from exc
        out.append(Instance(match[1], int(match[2])))
    return tuple(out)
