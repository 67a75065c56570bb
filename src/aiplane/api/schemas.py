"""Request bodies of the control API (pydantic lives here, at the edge, and only here)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Number = int | float | str


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuotaFields(_Body):
    cpus: Number | None = None
    memory: Number | None = None
    gpus: int | str | None = None
    mig: dict[str, int | str] | None = None
    max_replicas: int | str | None = None
    rate_limit: Number | None = None
    cost_center: str | None = None
    compliance: list[str] | None = None

    def quota(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory": self.memory, "gpus": self.gpus, "mig": self.mig,
                "replicas": self.max_replicas, "rate_limit": self.rate_limit}


class TenantCreate(QuotaFields):
    name: str


class KeyCreate(_Body):
    role: str
    tenant: str | None = None
    name: str | None = None
    expires_in: str | None = None
    rate_limit: Number | None = None


class DeploymentScale(_Body):
    replicas: int | str


class DeploymentUpdate(_Body):
    """A partial change: fields left out stay as they are."""
    min_replicas: int | str | None = None
    max_replicas: int | str | None = None
    target_concurrency: int | str | None = None
    cpus: Number | None = None
    memory: Number | None = None
    max_batch_size: int | str | None = None
    max_batch_delay_ms: Number | None = None

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DeploymentCanary(_Body):
    model: str
    percent: int
    auto_rollback: bool = False


class DeploymentCreate(_Body):
    name: str
    model: str
    device: str = "cpu"
    cpus: Number | None = None
    memory: Number | None = None
    min_replicas: int = 1
    max_replicas: int | None = None
    target_concurrency: int | None = None
    max_batch_size: int | None = None
    max_batch_delay_ms: float | None = None
    payload_logging: bool = False

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "model"})


class ProfileRequest(_Body):
    requests_per_day: float | None = None
    p99_ms: float | None = None


class SsoMappingCreate(_Body):
    claim: str
    value: str
    role: str
    tenant: str | None = None
