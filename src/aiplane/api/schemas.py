"""Request bodies of the control API (pydantic lives here, at the edge, and only here)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict

# Booleans are not numbers (strict), NaN and infinities are not numbers, and every integer and
# string is bounded, so no value reaches the store too large for its column; the domain checks
# the tighter ranges and names the field in its 400.
Int = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
Real = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=128)]
Number = Int | Real | Text


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuotaFields(_Body):
    cpus: Number | None = None
    memory: Number | None = None
    gpus: Int | Text | None = None
    mig: dict[Text, Int | Text] | None = Field(None, max_length=64)
    max_replicas: Int | Text | None = None
    rate_limit: Number | None = None
    cost_center: Text | None = None
    compliance: list[Text] | None = Field(None, max_length=16)

    def quota(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory": self.memory, "gpus": self.gpus, "mig": self.mig,
                "replicas": self.max_replicas, "rate_limit": self.rate_limit}


class TenantCreate(QuotaFields):
    name: Text


class KeyCreate(_Body):
    role: Text
    tenant: Text | None = None
    name: Text | None = None
    expires_in: Text | None = None
    rate_limit: Number | None = None


class DeploymentScale(_Body):
    replicas: Int | Text


class DeploymentUpdate(_Body):
    """A partial change: fields left out stay as they are."""
    min_replicas: Int | Text | None = None
    max_replicas: Int | Text | None = None
    target_concurrency: Int | Text | None = None
    cpus: Number | None = None
    memory: Number | None = None
    max_batch_size: Int | Text | None = None
    max_batch_delay_ms: Number | None = None

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DeploymentCanary(_Body):
    model: Text
    percent: Int
    auto_rollback: Annotated[bool, Strict()] = False


class DeploymentCreate(_Body):
    name: Text
    model: Text
    device: Text = "cpu"
    cpus: Number | None = None
    memory: Number | None = None
    min_replicas: Int = 1
    max_replicas: Int | None = None
    target_concurrency: Int | None = None
    max_batch_size: Int | None = None
    max_batch_delay_ms: Real | Int | None = None
    payload_logging: Annotated[bool, Strict()] = False
    allow_non_finite: Annotated[bool, Strict()] = False

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "model"})


class ProfileRequest(_Body):
    requests_per_day: Real | None = None
    p99_ms: Real | None = None


class SsoMappingCreate(_Body):
    claim: Annotated[str, Field(max_length=64)]
    value: Annotated[str, Field(max_length=255)]
    role: Text
    tenant: Text | None = None
