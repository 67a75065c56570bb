"""50 concurrent deploy and scale requests over HTTP, against a real server on SQLite and on
PostgreSQL, competing for N free replicas: exactly N are admitted, never one more."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.conftest import TrainedModel, postgres_url, reset_postgres

pytestmark = pytest.mark.serial
FREE = 2  # N: kept small, every admitted replica is a real process


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_racing_deploys_and_scales_admit_exactly_the_free_units(store: str, platform_factory: Any,
                                                                  trained_model: TrainedModel):
    env = {}
    if store == "postgres":
        env["AIPLANE_DATABASE_URL"] = postgres_url()
        reset_postgres(env["AIPLANE_DATABASE_URL"])
    p = platform_factory(env=env).start()
    with p.http(p.admin_key) as admin:
        assert admin.post("/api/v1/tenants", json={"name": "race", "max_replicas": 1 + FREE}).status_code == 201
        files = {"file": ("m.onnx", trained_model.onnx.read_bytes(), "application/octet-stream")}
        assert admin.post("/api/v1/tenants/race/models/m/versions", files=files).status_code == 201
        body = {"name": "s", "model": "m:1", "max_replicas": 1 + FREE}
        assert admin.post("/api/v1/tenants/race/deployments", json=body).status_code == 201
    statuses: list[tuple[str, int]] = []
    start = threading.Barrier(50)

    def attempt(i: int) -> None:
        with p.http(p.admin_key) as http:
            start.wait()
            if i % 2:  # scale the existing deployment to 2 (one unit more, whoever gets there first)
                response = http.post("/api/v1/tenants/race/deployments/s/scale", json={"replicas": 2})
                statuses.append(("scale", response.status_code))
            else:
                response = http.post("/api/v1/tenants/race/deployments", json={"name": f"n{i}", "model": "m:1"})
                statuses.append(("deploy", response.status_code))
            if response.status_code == 409:
                assert "quota exceeded for replicas" in response.json()["detail"]

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {code for _, code in statuses} <= {200, 201, 409} and len(statuses) == 50
    with p.http(p.admin_key) as admin:
        quota = admin.get("/api/v1/tenants/race/quota").json()["resources"]["replicas"]
        deployments = admin.get("/api/v1/tenants/race/deployments").json()
    deployed = sum(1 for kind, code in statuses if kind == "deploy" and code == 201)
    scaled = next(d for d in deployments if d["name"] == "s")["replicas"]["desired"] - 1
    assert deployed + scaled == FREE  # exactly N units' worth admitted
    assert quota == {"used": 1 + FREE, "limit": 1 + FREE}
    assert sum(d["replicas"]["desired"] for d in deployments) == 1 + FREE == len(deployments) + scaled
    assert all(d["replicas"]["ready"] == d["replicas"]["desired"] for d in deployments)
