"""Domain values -> JSON documents of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiplane.control.deployments import DeploymentStatus
from aiplane.control.supervisor import ReplicaStatus
from aiplane.control.tenants import QuotaReport
from aiplane.domain import quantities
from aiplane.domain.keys import KeyRecord
from aiplane.domain.planning.advice import Advice, Choice
from aiplane.domain.registry import ModelVersion
from aiplane.domain.tenancy import Tenant


def _time(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _cpus(milli: int | None) -> str | None:
    return None if milli is None else quantities.format_cpus(milli)


def _memory(num: int | None) -> str | None:
    return None if num is None else quantities.format_memory(num)


def tenant(t: Tenant) -> dict[str, Any]:
    q = t.quota
    return {
        "name": t.name, "cost_center": t.cost_center, "compliance": [c.value for c in t.compliance],
        "quota": {"cpus": _cpus(q.cpus_milli), "memory": _memory(q.memory_bytes), "gpus": q.gpus,
                  "mig": dict(q.mig), "max_replicas": q.replicas, "rate_limit": q.rate_limit},
        "created_at": _time(t.created_at),
    }


def quota(report: QuotaReport) -> dict[str, Any]:
    q, used = report.tenant.quota, report.used
    resources = {
        "cpus": {"used": _cpus(used.cpus_milli), "limit": _cpus(q.cpus_milli)},
        "memory": {"used": _memory(used.memory_bytes), "limit": _memory(q.memory_bytes)},
        "gpus": {"used": used.gpus, "limit": q.gpus},
        "replicas": {"used": used.replicas, "limit": q.replicas},
    }
    for profile in sorted(set(q.mig) | set(used.mig)):
        resources[f"mig/{profile}"] = {"used": used.mig.get(profile, 0), "limit": q.mig.get(profile, 0)}
    return {"tenant": report.tenant.name, "resources": resources, "rate_limit": q.rate_limit}


def key(k: KeyRecord, secret: str | None = None) -> dict[str, Any]:
    doc = {"key_id": k.key_id, "name": k.name, "role": k.role.value, "tenant": k.tenant,
           "created_at": _time(k.created_at), "expires_at": _time(k.expires_at), "revoked_at": _time(k.revoked_at),
           "last_used_at": _time(k.last_used_at), "rate_limit": k.rate_limit}
    if secret is not None:
        doc["secret"] = secret
    return doc


def model_version(v: ModelVersion) -> dict[str, Any]:
    return {
        "tenant": v.tenant, "model": v.model, "version": v.version, "digest": f"sha256:{v.digest}",
        "size_bytes": v.size_bytes, "source_format": v.source_format, "signature": v.signature.as_dict(),
        "metrics": dict(v.metrics), "created_by": v.created_by, "created_at": _time(v.created_at),
        "parent_version": v.parent_version, "has_validation": v.validation_digest is not None,
        "profile": dict(v.profile) if v.profile else None,
    }


def _replica(r: ReplicaStatus) -> dict[str, Any]:
    return {"index": r.index, "state": r.state, "pid": r.pid, "restarts": r.restarts,
            "model_version": r.model_version}


def _canary(s: DeploymentStatus) -> dict[str, Any] | None:
    c = s.deployment.canary
    if c is None:
        return None
    return {"model": c.model, "model_version": c.model_version, "digest": f"sha256:{c.artifact_digest}",
            "percent": c.percent, "auto_rollback": c.auto_rollback,
            "replicas": {"desired": c.replicas, "ready": s.canary_ready},
            "replica_status": [_replica(r) for r in s.canary_replicas]}


def advice(a: Advice) -> dict[str, Any]:
    def choice(c: Choice) -> dict[str, Any]:
        ruled = c.ruled_out is not None
        return {"device": c.device, "size": c.size, "per_million": None if ruled else round(c.per_million, 4),
                "monthly": None if ruled or c.monthly is None else round(c.monthly, 2), "p99_ms": c.p99_ms,
                "estimated": c.estimated, "reason": c.ruled_out if ruled else c.reason, "ruled_out": ruled}

    return {"chosen": a.chosen.device if a.chosen else None, "placement": a.placement.value,
            "gpu_model": a.gpu_model, "peak_rps": None if a.peak_rps is None else round(a.peak_rps, 3),
            "machine": a.machine, "choices": [choice(c) for c in a.choices]}


def deployment(s: DeploymentStatus) -> dict[str, Any]:
    d, spec = s.deployment, s.deployment.spec
    return {
        "tenant": d.tenant, "name": d.name, "model": spec.model, "model_version": spec.model_version,
        "digest": f"sha256:{d.artifact_digest}", "device": spec.device,
        "resources": {"cpus": _cpus(spec.cpus_milli), "memory": _memory(spec.memory_bytes)},
        "replicas": {"min": spec.min_replicas, "max": spec.max_replicas, "desired": d.replicas,
                     "ready": s.ready_replicas, "target_concurrency": spec.target_concurrency},
        "batching": {"max_batch_size": spec.max_batch_size, "max_batch_delay_ms": spec.max_batch_delay_ms},
        "payload_logging": spec.payload_logging,
        "allow_non_finite": spec.allow_non_finite,
        "phase": s.phase,
        "replica_status": [_replica(r) for r in s.replicas],
        "canary": _canary(s),
        "rollout_note": d.rollout_note,
        "infer_path": f"/v2/models/{d.name}/infer",
        "created_by": d.created_by, "created_at": _time(d.created_at),
    }
