"""Model registry values: versions, their signatures, and references like `model:3`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from aiplane.domain import names
from aiplane.domain.errors import InvalidInput

# Open Inference Protocol datatypes.
DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
     "FP16", "FP32", "FP64", "BF16", "BYTES"}
)


@dataclass(frozen=True, slots=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 marks a variable dimension

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSpec:
        return cls(name=str(d["name"]), datatype=str(d["datatype"]), shape=tuple(int(x) for x in d["shape"]))


@dataclass(frozen=True, slots=True)
class Signature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": [t.as_dict() for t in self.inputs], "outputs": [t.as_dict() for t in self.outputs]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        return cls(
            inputs=tuple(TensorSpec.from_dict(t) for t in d["inputs"]),
            outputs=tuple(TensorSpec.from_dict(t) for t in d["outputs"]),
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    tenant: str
    model: str
    version: int
    digest: str  # sha256 hex of the ONNX artifact
    size_bytes: int
    source_format: str  # "onnx" or "sklearn" (converted on registration)
    signature: Signature
    metrics: Mapping[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    created_at: datetime | None = None
    parent_version: int | None = None  # the version of the same model this one was derived from
    validation_digest: str | None = None  # the validation .npz it was registered with, kept for re-measuring
    profile: Mapping[str, Any] | None = None  # the measured latency profile (aiplane.domain.planning.measured)


LATEST = "latest"


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Parse `MODEL:VERSION` (VERSION an integer or `latest`); None means latest."""
    model, sep, version = ref.partition(":")
    names.check("model", model)
    if not sep or version == LATEST:
        return model, None
    return model, parse_version(version, f" in {ref!r}")


def parse_version(version: str, where: str = "") -> int:
    """A version number: ASCII digits, from 1 up to what the store holds."""
    if not (version.isascii() and version.isdigit()) or len(version) > 10 or not 1 <= int(version) <= 2**31 - 1:
        raise InvalidInput(f"model version {version!r}{where} is not valid; use an integer from 1, or 'latest'.")
    return int(version)
