"""The store suite, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from aiplane.domain import keys as key_domain
from aiplane.domain.deployments import DeploymentSpec
from aiplane.domain.errors import Conflict, NotFound, QuotaExceeded
from aiplane.domain.keys import KeyRecord
from aiplane.domain.registry import ModelVersion, Signature, TensorSpec
from aiplane.domain.roles import Role
from aiplane.domain.tenancy import Quota, Tenant
from aiplane.store import deployments, keys, models, tenants
from aiplane.store.database import Database
from aiplane.store.tables import metadata

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)
SIG = Signature((TensorSpec("input", "FP32", (-1, 4)),), (TensorSpec("label", "INT64", (-1,)),))



def _tenant(name: str = "clinical", **quota) -> Tenant:
    return Tenant(name, Quota(**quota), "CC-1", (), NOW)


def _version(tenant: str = "clinical", model: str = "risk") -> ModelVersion:
    return ModelVersion(tenant, model, 0, "ab" * 32, 10, "onnx", SIG, {"accuracy": 0.9}, "key1")


def test_migrations_create_exactly_the_tables_the_code_queries(db: Database):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrating_twice_is_harmless(db: Database):
    db.migrate()
    assert db.generation() == 0


def test_tenants_round_trip_and_duplicates_conflict(db: Database):
    with db.write() as conn:
        tenants.insert(conn, _tenant(cpus_milli=8000, mig={"1g.10gb": 2}))
    with db.read() as conn:
        t = tenants.get(conn, "clinical")
    assert t.quota.cpus_milli == 8000 and dict(t.quota.mig) == {"1g.10gb": 2}
    with pytest.raises(Conflict, match="already exists"):
        with db.write() as conn:
            tenants.insert(conn, _tenant())
    with pytest.raises(NotFound, match="'nobody'"):
        with db.read() as conn:
            tenants.get(conn, "nobody")


def test_every_write_moves_the_generation(db: Database):
    before = db.generation()
    with db.write() as conn:
        tenants.insert(conn, _tenant())
    assert db.generation() == before + 1


def test_keys_store_hashes_and_revocation(db: Database):
    issued = key_domain.issue()
    with db.write() as conn:
        tenants.insert(conn, _tenant())
        keys.insert(conn, KeyRecord(issued.key_id, issued.hash, Role.PREDICTOR, "clinical", "n", NOW, None, None), None)
    with db.write() as conn:
        keys.revoke(conn, issued.key_id, NOW)
    with db.read() as conn:
        record = keys.get(conn, issued.key_id)
        dumped = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM api_keys")]
    assert record.revoked_at is not None
    assert issued.secret not in repr(dumped)


def test_model_versions_number_from_one_and_are_immutable_rows(db: Database):
    with db.write() as conn:
        tenants.insert(conn, _tenant())
        assert models.add_version(conn, _version(), NOW) == 1
        assert models.add_version(conn, _version(), NOW) == 2
    with db.read() as conn:
        _, latest = models.get_version(conn, "clinical", "risk", None)
        _, first = models.get_version(conn, "clinical", "risk", 1)
    assert latest.version == 2 and first.signature == SIG and first.metrics == {"accuracy": 0.9}


def test_a_derived_version_keeps_its_parent_validation_data_and_a_profile_that_may_be_measured_again(db: Database):
    import dataclasses

    with db.write() as conn:
        tenants.insert(conn, _tenant())
        models.add_version(conn, dataclasses.replace(_version(), validation_digest="a" * 64), NOW)
        models.add_version(conn, dataclasses.replace(_version(), parent_version=1, validation_digest="a" * 64), NOW)
        models.set_profile(conn, "clinical", "risk", 2, {"machine": "cpu", "cpu": [{"batch": 1}]})
        models.set_profile(conn, "clinical", "risk", 2, {"machine": "other cpu", "cpu": []})
    with db.read() as conn:
        first, second = models.list_versions(conn, "clinical", "risk")
    assert first.parent_version is None and first.profile is None and first.validation_digest == "a" * 64
    assert second.parent_version == 1 and second.profile == {"machine": "other cpu", "cpu": []}
    with pytest.raises(NotFound):
        with db.write() as conn:
            models.set_profile(conn, "clinical", "risk", 3, {})


def _deploy(db: Database, name: str, cpus_milli: int = 1000) -> int:
    with db.write() as conn:
        version_id, _ = models.get_version(conn, "clinical", "risk", 1)
        return deployments.insert(db, conn, "clinical", name, DeploymentSpec("risk", 1, cpus_milli=cpus_milli),
                                  version_id, "key1", NOW)


def test_admission_refuses_what_the_quota_does_not_hold(db: Database):
    with db.write() as conn:
        tenants.insert(conn, _tenant(cpus_milli=2000))
        models.add_version(conn, _version(), NOW)
    _deploy(db, "a")
    _deploy(db, "b")
    with pytest.raises(QuotaExceeded, match="cpus: asked 1, in use 2, limit 2"):
        _deploy(db, "c")
    with pytest.raises(Conflict):
        _deploy(db, "a")
    with db.read() as conn:
        assert [d.name for d in deployments.list_all(conn, "clinical")] == ["a", "b"]


def test_racing_deploys_never_over_commit(db: Database):
    with db.write() as conn:
        tenants.insert(conn, _tenant(replicas=3))
        models.add_version(conn, _version(), NOW)
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        try:
            _deploy(db, f"d{i}")
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 3 and outcomes.count("refused") == 9
