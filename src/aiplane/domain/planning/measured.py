"""A model version's measured profile: latency and throughput against batch size.

`aiplane model profile` measures it (one ONNX Runtime thread, so figures are per core) and
stores it with the version; `model profile`'s advice and `aiplane plan` (a workload naming
`model: tenant/name:version`) read it in place of the rules of thumb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from aiplane.domain.errors import InvalidInput

BYTES_PER_GB = 1e9


@dataclass(frozen=True, slots=True)
class Point:
    batch: int
    p50_ms: float  # one call of `batch` rows
    p99_ms: float
    rows_per_s: float  # at p50, on one core

    def as_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "rows_per_s": self.rows_per_s}


@dataclass(frozen=True, slots=True)
class Measured:
    machine: str  # where it was measured, in words
    size_bytes: int
    int8: bool  # quantized already: the planner adds no INT8 saving on top of measured figures
    cpu: tuple[Point, ...]  # ascending batch sizes, at least one
    gpu: tuple[Point, ...] = ()  # measured on a GPU where one exists; empty: none was there
    inputs: str = "made-up inputs"  # or "validation data"
    measured_at: str | None = None

    @property
    def size_gb(self) -> float:
        return self.size_bytes / BYTES_PER_GB

    @property
    def single(self) -> Point:
        """The smallest batch measured (batch 1): one request alone."""
        return self.cpu[0]

    def best(self, p99_ms: float | None, max_batch: float | None = None) -> Point | None:
        """The highest-throughput CPU point whose p99 fits `p99_ms` and whose batch is at most
        `max_batch` (as many requests as arrive within the latency budget); None if none fits."""
        fits = [p for p in self.cpu if (p99_ms is None or p.p99_ms <= p99_ms)
                and (max_batch is None or p.batch <= max(1.0, max_batch))]
        return max(fits, key=lambda p: p.rows_per_s) if fits else None

    def as_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "threads": 1, "size_bytes": self.size_bytes, "int8": self.int8,
                "inputs": self.inputs, "measured_at": self.measured_at, "cpu": [p.as_dict() for p in self.cpu],
                "gpu": [p.as_dict() for p in self.gpu] or None}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Measured:
        try:
            cpu = tuple(sorted((_point(p) for p in doc["cpu"]), key=lambda p: p.batch))
            gpu = tuple(sorted((_point(p) for p in doc.get("gpu") or ()), key=lambda p: p.batch))
            measured = cls(str(doc["machine"]), int(doc["size_bytes"]), bool(doc["int8"]), cpu, gpu,
                           str(doc.get("inputs", "made-up inputs")), doc.get("measured_at"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"the stored profile is malformed ({type(exc).__name__}); measure it again with "
                               "'aiplane model profile'.") from None
        if not cpu or any(p.rows_per_s <= 0 or p.p99_ms <= 0 for p in cpu):
            raise InvalidInput("the stored profile has no usable CPU points; measure it again with "
                               "'aiplane model profile'.")
        return measured


def _point(doc: Mapping[str, Any]) -> Point:
    return Point(int(doc["batch"]), float(doc["p50_ms"]), float(doc["p99_ms"]), float(doc["rows_per_s"]))
