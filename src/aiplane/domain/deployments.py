"""Deployments: the desired state of a served model version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiplane.domain.admission import Resources
from aiplane.domain.errors import InvalidInput
from aiplane.domain.gpu import geometry

DEVICES_CPU = "cpu"
DEVICE_GPU = "gpu"  # a whole GPU, MIG off
MIG_PREFIX = "mig-"  # mig-3g.40gb: one MIG instance of that profile


def gpu_profile(device: str) -> str | None:
    """The pool profile a device takes ("gpu", a MIG profile name), None for the CPU; InvalidInput
    for a device that is none of these, naming the valid ones."""
    if device == DEVICES_CPU:
        return None
    if device == DEVICE_GPU:
        return geometry.WHOLE_GPU
    if device.startswith(MIG_PREFIX):
        return geometry.check_profile(device[len(MIG_PREFIX):])
    raise InvalidInput(f"device {device!r} is not a device; use cpu, gpu or mig-PROFILE (e.g. mig-3g.40gb).")


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    model: str
    model_version: int
    device: str = DEVICES_CPU
    cpus_milli: int = 1000
    memory_bytes: int = 1 << 30
    min_replicas: int = 1
    max_replicas: int = 1
    target_concurrency: int = 8
    max_batch_size: int = 1
    max_batch_delay_ms: float = 0.0
    payload_logging: bool = False
    allow_non_finite: bool = False  # NaN and infinities in float inputs: refused (400) unless allowed

    def validate(self) -> DeploymentSpec:
        if self.max_replicas < max(self.min_replicas, 1):
            raise InvalidInput(
                f"max-replicas {self.max_replicas} is below min-replicas {self.min_replicas}; "
                "set max-replicas to at least min-replicas and at least 1."
            )
        if self.cpus_milli <= 0 or self.memory_bytes <= 0:
            raise InvalidInput("cpus and memory per replica must be greater than zero.")
        if self.max_batch_size < 1:
            raise InvalidInput(f"max-batch-size {self.max_batch_size} must be at least 1.")
        if not 0 <= self.max_batch_delay_ms <= 60_000:  # NaN fails this too
            raise InvalidInput(f"max-batch-delay-ms {self.max_batch_delay_ms} must be a number from 0 to 60000.")
        if self.target_concurrency < 1:
            raise InvalidInput(f"target-concurrency {self.target_concurrency} must be at least 1.")
        gpu_profile(self.device)
        return self

    @property
    def desired_replicas(self) -> int:
        """Replicas to run now: the minimum, and at least one until scale-to-zero exists."""
        return max(self.min_replicas, 1)

    def replica_settings(self) -> tuple[object, ...]:
        """What a running replica was started with: a change to any of these replaces the
        replicas (the replica counts and the autoscaler's target do not)."""
        return (self.model_version, self.device, self.cpus_milli, self.memory_bytes, self.max_batch_size,
                self.max_batch_delay_ms, self.allow_non_finite)

    def admitted_replicas(self, current: int) -> int:
        """The replica count to keep after a change of the bounds: `current`, moved inside them."""
        return min(max(current, self.desired_replicas), self.max_replicas)

    @property
    def gpu_profile(self) -> str | None:
        return gpu_profile(self.device)

    def per_replica(self) -> Resources:
        profile = self.gpu_profile
        gpus = 1 if profile == geometry.WHOLE_GPU else 0
        mig = {profile: 1} if profile not in (None, geometry.WHOLE_GPU) else {}
        return Resources(cpus_milli=self.cpus_milli, memory_bytes=self.memory_bytes, gpus=gpus, mig=mig, replicas=1)


@dataclass(frozen=True, slots=True)
class Canary:
    """A second model version served beside the stable one, taking `percent` of the traffic."""

    model: str
    model_version: int
    artifact_digest: str
    percent: int
    auto_rollback: bool
    replicas: int  # admitted replica count of the canary (capacity reserved against the quota)


@dataclass(frozen=True, slots=True)
class Deployment:
    id: int
    tenant: str
    name: str
    spec: DeploymentSpec
    artifact_digest: str
    created_at: datetime
    created_by: str | None
    replicas: int  # admitted replica count (capacity reserved against the quota)
    canary: Canary | None = None
    rollout_note: str | None = None  # why the last canary ended (a rollback's reason), for status

    def reserved(self) -> Resources:
        """What the deployment holds against its tenant's quota: stable and canary replicas."""
        total = self.spec.per_replica().times(self.replicas)
        if self.canary is not None:
            total = total.plus(self.spec.per_replica().times(self.canary.replicas))
        return total
