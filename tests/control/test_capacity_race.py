"""Admission under contention: 50 concurrent deploy and scale requests for N free units admit
exactly N, on SQLite and on PostgreSQL (real databases, real threads, the real services)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from aiplane.control.deployments import DeploymentService
from aiplane.control.supervisor import Supervisor
from aiplane.control.tenants import TenantService
from aiplane.domain.clock import SystemClock
from aiplane.domain.errors import InvalidInput, QuotaExceeded
from aiplane.domain.policy import Principal
from aiplane.domain.registry import ModelVersion, Signature, TensorSpec
from aiplane.domain.roles import Role
from aiplane.store import models
from aiplane.store.database import Database

ADMIN = Principal("race-admin", Role.PLATFORM_ADMIN, None)
SIG = Signature((TensorSpec("input", "FP32", (-1, 4)),), (TensorSpec("label", "INT64", (-1,)),))
FREE_UNITS = 10  # N
SCALED = 25  # deployments that each try to grow by one replica
NEW = 25  # new deployments that each try to take one replica



def _services(db: Database, tmp_path: Path) -> tuple[TenantService, DeploymentService]:
    clock = SystemClock()
    supervisor = Supervisor(tmp_path / "data", lambda digest: tmp_path / digest, 60.0, 1 << 20, lambda *_: None)
    return TenantService(db, clock, lambda: None), DeploymentService(db, clock, supervisor, lambda: None, 60.0)


def test_fifty_racing_deploys_and_scales_admit_exactly_the_free_units(db: Database, tmp_path: Path):
    tenants, deployments = _services(db, tmp_path)
    tenants.create(ADMIN, "race", {"cpus": SCALED + FREE_UNITS, "memory": "1Ti"})
    with db.write() as conn:
        models.add_version(conn, ModelVersion("race", "m", 0, "ab" * 32, 10, "onnx", SIG, {}, None),
                           datetime.now(timezone.utc))
    for i in range(SCALED):
        deployments.admit(ADMIN, "race", f"s{i}", "m:1", {"cpus": 1, "min_replicas": 1, "max_replicas": 4})
    outcomes: dict[str, list[str]] = {"ok": [], "refused": [], "other": []}
    start = threading.Barrier(SCALED + NEW)

    def attempt(kind: str, i: int) -> None:
        start.wait()
        try:
            if kind == "scale":
                deployments.admit_scale(ADMIN, "race", f"s{i}", 2)
            else:
                deployments.admit(ADMIN, "race", f"n{i}", "m:1", {"cpus": 1})
            outcomes["ok"].append(f"{kind}{i}")
        except QuotaExceeded as exc:
            assert "quota exceeded for cpus: asked 1" in exc.message
            outcomes["refused"].append(f"{kind}{i}")
        except Exception as exc:  # noqa: BLE001 - any other failure is a bug; report it below
            outcomes["other"].append(f"{kind}{i}: {exc!r}")

    threads = [threading.Thread(target=attempt, args=(kind, i))
               for i in range(max(SCALED, NEW)) for kind in ("scale", "new")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes["other"] == []
    assert len(outcomes["ok"]) == FREE_UNITS and len(outcomes["refused"]) == SCALED + NEW - FREE_UNITS
    report = tenants.quota(ADMIN, "race")
    assert report.used.cpus_milli == (SCALED + FREE_UNITS) * 1000 == report.tenant.quota.cpus_milli
    replicas = sum(s.deployment.replicas for s in deployments.list(ADMIN, "race"))
    assert replicas == SCALED + FREE_UNITS


def test_scale_down_is_admitted_above_a_lowered_quota_but_growth_is_not(db: Database, tmp_path: Path):
    tenants, deployments = _services(db, tmp_path)
    tenants.create(ADMIN, "t", {"cpus": 4, "replicas": 4})
    with db.write() as conn:
        models.add_version(conn, ModelVersion("t", "m", 0, "ab" * 32, 10, "onnx", SIG, {}, None),
                           datetime.now(timezone.utc))
    deployments.admit(ADMIN, "t", "d", "m:1", {"cpus": 1, "min_replicas": 3, "max_replicas": 4})
    update = tenants.update(ADMIN, "t", {"cpus": 2})
    assert update.tenant.quota.cpus_milli == 2000
    assert update.warnings == ("tenant 't' uses 3 of cpus, above the new limit of 2; what runs keeps running, "
                               "but no deploy or scale-up is admitted until use falls under the limit.",)
    with pytest.raises(QuotaExceeded, match="in use 3, limit 2; the quota was lowered below what is in use"):
        deployments.admit_scale(ADMIN, "t", "d", 4)
    assert deployments.admit_scale(ADMIN, "t", "d", 2).replicas == 2  # shrinking is always admitted
    assert tenants.update(ADMIN, "t", {"cpus": 8}).warnings == ()
    with pytest.raises(InvalidInput, match="above max-replicas 4"):
        deployments.admit_scale(ADMIN, "t", "d", 5)
    with pytest.raises(InvalidInput, match="below 1"):
        deployments.admit_scale(ADMIN, "t", "d", 0)
    with pytest.raises(InvalidInput, match="not a whole number"):
        deployments.admit_scale(ADMIN, "t", "d", "two")
