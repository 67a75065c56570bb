"""Tenancy against a real `aiplane up`: quotas as teams write them, scaling under admission,
rate limits, failed logins, changes made by another process, and replicas that share nothing."""

from __future__ import annotations

import json
import os
import pwd
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from aiplane.control.keys import KeyService
from aiplane.control.tenants import TenantService
from aiplane.domain.clock import SystemClock
from aiplane.domain.policy import Principal
from aiplane.domain.roles import Role
from aiplane.store import deployments as deployment_rows
from aiplane.store.database import Database
from tests.conftest import Platform, TrainedModel, fails_in_one_line, pids_alive

pytestmark = pytest.mark.serial
OTHER_PROCESS = Principal("test-process", Role.PLATFORM_ADMIN, None)


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return str(result.stdout)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[Platform]:
    p = Platform(tmp_path_factory.mktemp("tenancy") / "data").start()
    with p.http(p.admin_key) as http:
        for tenant, quota in (("clinical", {"cpus": 3, "memory": "6Gi", "max_replicas": 3, "rate_limit": 5}),
                              ("finance", {"cpus": 2, "max_replicas": 2})):
            _created(http.post("/api/v1/tenants", json={"name": tenant, **quota}))
            _register(http, tenant, trained_model)
        for tenant, name in (("clinical", "hot"), ("clinical", "calm"), ("finance", "fraud")):
            _created(http.post(f"/api/v1/tenants/{tenant}/deployments",
                               json={"name": name, "model": "bc:1", "max_replicas": 3}))
    yield p
    p.stop()
    p.kill_everything()


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def _register(http: httpx.Client, tenant: str, model: TrainedModel) -> None:
    files = {"file": ("bc.onnx", model.onnx.read_bytes(), "application/octet-stream")}
    _created(http.post(f"/api/v1/tenants/{tenant}/models/bc/versions", files=files))


def _key(p: Platform, tenant: str, **extra: Any) -> dict[str, Any]:
    with p.http(p.admin_key) as http:
        return _created(http.post("/api/v1/keys", json={"role": "predictor", "tenant": tenant, **extra}))


def _infer(client: httpx.Client, name: str, x: Any) -> httpx.Response:
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": x[:1].ravel().tolist()}]}
    return client.post(f"/v2/models/{name}/infer", json=body)


def test_the_reference_team_quotas_are_expressible_as_written(platform: Platform):
    # docs/reference-figures.md, "Example team quotas (a mid-sized enterprise)".
    teams = {"data-science": (16, 128), "engineering": (4, 64), "research": (16, 128)}
    _ok(platform.cli("tenant", "create", "data-science", "--gpus", "16", "--cpus", "128"))
    with platform.http(platform.admin_key) as http:
        for team, (gpus, cpus) in teams.items():
            if team != "data-science":
                _created(http.post("/api/v1/tenants", json={"name": team, "gpus": gpus, "cpus": cpus}))
        assert http.patch("/api/v1/tenants/finance", json={"gpus": 8, "cpus": 64}).status_code == 200
        finance = http.get("/api/v1/tenants/finance/quota").json()
        research = http.get("/api/v1/tenants/research/quota").json()
    assert finance["resources"]["gpus"] == {"used": 0, "limit": 8}
    assert finance["resources"]["cpus"] == {"used": "1", "limit": "64"}
    assert research["resources"]["gpus"] == {"used": 0, "limit": 16}
    shown = json.loads(_ok(platform.cli("tenant", "show", "data-science", "-o", "json")))
    assert shown["quota"]["gpus"] == 16 and shown["quota"]["cpus"] == "128"
    assert shown["usage"]["gpus"] == {"used": 0, "limit": 16} and shown["usage"]["cpus"]["limit"] == "128"
    with platform.http(platform.admin_key) as http:
        for team in teams:
            assert http.delete(f"/api/v1/tenants/{team}").status_code == 204
        assert http.patch("/api/v1/tenants/finance", json={"cpus": 2}).status_code == 200


def test_mig_quotas_by_profile_are_reported_and_bad_quota_values_are_refused(platform: Platform):
    _ok(platform.cli("tenant", "create", "vision", "--mig", "1g.10gb=2", "--mig", "3g.40gb=1", "--memory", "16Gi"))
    with platform.http(platform.admin_key) as http:
        quota = http.get("/api/v1/tenants/vision/quota").json()["resources"]
        assert quota["mig/1g.10gb"] == {"used": 0, "limit": 2} and quota["mig/3g.40gb"] == {"used": 0, "limit": 1}
        assert quota["memory"] == {"used": "0", "limit": "16Gi"}
        cases = [
            ({"cpus": "-1"}, "not a valid quantity"),
            ({"cpus": -1}, "not a valid quantity"),
            ({"cpus": "eight"}, "not a valid quantity"),
            ({"gpus": -2}, "is negative"),
            ({"gpus": "two"}, "not a whole number"),
            ({"max_replicas": "1.5"}, "not a whole number"),
            ({"memory": "16Gb"}, "'16Gb' is not a valid quantity"),
            ({"memory": "16 Gi"}, "not a valid quantity"),
            ({"mig": {"1g.11gb": 1}}, "MIG profile '1g.11gb' is not a profile of any supported GPU"),
            ({"mig": {"1g.10gb": -1}}, "is negative"),
            ({"rate_limit": 0}, "must be a positive number"),
            ({"rate_limit": "fast"}, "not a number"),
        ]
        for body, fragment in cases:
            response = http.patch("/api/v1/tenants/vision", json=body)
            assert response.status_code == 400 and fragment in response.json()["detail"], (body, response.text)
        assert http.get("/api/v1/tenants/vision/quota").json()["resources"] == quota  # nothing changed
    fails_in_one_line(platform.cli("tenant", "set-quota", "vision", "--memory", "16Gb"), "'16Gb' is not a valid quantity")
    fails_in_one_line(platform.cli("tenant", "set-quota", "vision", "--mig", "1g.10gb"), "not PROFILE=COUNT")
    with platform.http(platform.admin_key) as http:
        assert http.delete("/api/v1/tenants/vision").status_code == 204


def test_scaling_starts_and_stops_replicas_within_the_quota(platform: Platform, trained_model: TrainedModel):
    doc = json.loads(_ok(platform.cli("deploy", "scale", "clinical/hot", "--replicas", "2", "-o", "json")))
    assert doc["replicas"]["desired"] == 2 and doc["replicas"]["ready"] == 2
    pids = [r["pid"] for r in doc["replica_status"]]
    assert len(set(pids)) == 2 and len(pids_alive(pids)) == 2
    fails_in_one_line(platform.cli("deploy", "scale", "clinical/hot", "--replicas", "3"),
           "quota exceeded for cpus: asked 1, in use 3, limit 3")
    with platform.http(platform.admin_key) as http:
        for replicas, fragment in ((0, "below 1"), (9, "above max-replicas 3"), ("two", "not a whole number")):
            response = http.post("/api/v1/tenants/clinical/deployments/hot/scale", json={"replicas": replicas})
            assert response.status_code == 400 and fragment in response.json()["detail"]
    doc = json.loads(_ok(platform.cli("deploy", "scale", "clinical/hot", "--replicas", "1", "-o", "json")))
    assert doc["replicas"]["desired"] == 1 and [r["pid"] for r in doc["replica_status"]] == pids[:1]
    deadline = time.monotonic() + 15
    while pids_alive(pids[1:]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids_alive(pids[1:]) == []
    with platform.http(platform.admin_key) as http:
        quota = http.get("/api/v1/tenants/clinical/quota").json()["resources"]
    assert quota["replicas"] == {"used": 2, "limit": 3} and quota["cpus"] == {"used": "2", "limit": "3"}


def test_lowering_a_quota_below_use_warns_and_blocks_growth(platform: Platform):
    result = platform.cli("tenant", "set-quota", "clinical", "--cpus", "1")
    _ok(result)
    assert "warning: tenant 'clinical' uses 2 of cpus, above the new limit of 1" in " ".join(result.stderr.split())
    fails_in_one_line(platform.cli("deploy", "scale", "clinical/hot", "--replicas", "2"),
           "in use 2, limit 1; the quota was lowered below what is in use")
    with platform.http(platform.admin_key) as http:
        assert http.patch("/api/v1/tenants/clinical", json={"cpus": 3}).json()["warnings"] == []


def test_a_burst_above_the_rate_limit_gets_429_and_spares_the_others(platform: Platform, trained_model: TrainedModel):
    clinical = _key(platform, "clinical")["secret"]
    finance = _key(platform, "finance")["secret"]
    with platform.http(clinical) as hot, platform.http(finance) as other:
        # At once: every answer, a 429 too, waits for its audit event, so one after the other the
        # burst would take as long as the machine's fsyncs, and the bucket would refill meanwhile.
        with ThreadPoolExecutor(13) as pool:
            burst = list(pool.map(lambda _: _infer(hot, "hot", trained_model.x), range(13)))
        statuses = [r.status_code for r in burst]
        refused = next((r for r in burst if r.status_code == 429), burst[-1])
        # The tenant's limit (5/s) holds per deployment: its other deployment and other tenants go on.
        calm = [_infer(hot, "calm", trained_model.x).status_code for _ in range(4)]
        fraud = [_infer(other, "fraud", trained_model.x).status_code for _ in range(12)]
    assert statuses.count(200) >= 5 and statuses.count(429) >= 6, statuses
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "over the rate limit of tenant 'clinical' (5 requests per second" in refused.json()["error"]
    assert calm == [200] * 4 and fraud == [200] * 12
    time.sleep(1.2)  # the bucket refills
    with platform.http(clinical) as hot:
        assert _infer(hot, "hot", trained_model.x).status_code == 200


def test_a_key_with_its_own_rate_limit_is_held_to_it(platform: Platform, trained_model: TrainedModel):
    limited = json.loads(_ok(platform.cli("key", "create", "--tenant", "finance", "--role", "predictor",
                                          "--rate-limit", "2", "-o", "json")))
    assert limited["rate_limit"] == 2.0
    with platform.http(limited["secret"]) as http:
        statuses = [_infer(http, "fraud", trained_model.x).status_code for _ in range(8)]
    assert statuses[:2] == [200, 200] and statuses.count(429) >= 4, statuses
    with platform.http(platform.admin_key) as http:
        response = http.post("/api/v1/keys", json={"role": "predictor", "tenant": "finance", "rate_limit": -3})
    assert response.status_code == 400 and "must be a positive number" in response.json()["detail"]


def test_keys_record_when_they_were_last_used(platform: Platform, trained_model: TrainedModel):
    key = _key(platform, "finance")
    assert key["last_used_at"] is None
    with platform.http(key["secret"]) as http:
        assert _infer(http, "fraud", trained_model.x).status_code == 200
    platform.stop()  # a clean stop writes the pending batch
    platform.start()
    with platform.http(platform.admin_key) as http:
        listed = http.get("/api/v1/keys", params={"tenant": "finance"}).json()
        deadline = time.monotonic() + 60  # let the replicas come back for the tests that follow
        while any(d["phase"] != "Ready" for d in http.get("/api/v1/deployments").json()):
            assert time.monotonic() < deadline, "replicas did not come back after the restart"
            time.sleep(0.1)
    used = next(k for k in listed if k["key_id"] == key["key_id"])
    assert used["last_used_at"] is not None and used["last_used_at"] > key["created_at"]


def _store(platform: Platform) -> Database:
    return Database(f"sqlite:///{(platform.data_dir / 'aiplane.db').resolve()}")


def _takes_effect(check: Any) -> None:
    """The change reaches this running gateway, with no restart (how fast: bench/tenancy/propagation.py)."""
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, "the change made by another process did not take effect"
        time.sleep(0.02)


def test_a_key_revoked_by_another_process_stops_working_without_a_restart(platform: Platform,
                                                                       trained_model: TrainedModel):
    key = _key(platform, "finance")
    db = _store(platform)
    with platform.http(key["secret"]) as http:
        assert _infer(http, "fraud", trained_model.x).status_code == 200
        KeyService(db, SystemClock(), lambda: None).revoke(OTHER_PROCESS, key["key_id"])
        _takes_effect(lambda: _infer(http, "fraud", trained_model.x).status_code == 401)
        assert _infer(http, "fraud", trained_model.x).status_code == 401  # refused from now on, not once
    db.dispose()
    assert platform.proc is not None and platform.proc.poll() is None  # the same process, still running


def test_a_tenant_deleted_by_another_process_loses_access_without_a_restart(platform: Platform,
                                                                         trained_model: TrainedModel):
    with platform.http(platform.admin_key) as http:
        _created(http.post("/api/v1/tenants", json={"name": "shortlived", "cpus": 1}))
        _register(http, "shortlived", trained_model)
        _created(http.post("/api/v1/tenants/shortlived/deployments", json={"name": "bc", "model": "bc:1"}))
        pids = [r["pid"] for r in http.get("/api/v1/tenants/shortlived/deployments/bc").json()["replica_status"]]
    key = _key(platform, "shortlived")
    db = _store(platform)
    with platform.http(key["secret"]) as http:
        assert _infer(http, "bc", trained_model.x).status_code == 200
        TenantService(db, SystemClock(), lambda: None).delete(OTHER_PROCESS, "shortlived")
        _takes_effect(lambda: _infer(http, "bc", trained_model.x).status_code == 401)
    db.dispose()
    deadline = time.monotonic() + 20  # the reconciler stops the deleted tenant's replicas
    while pids_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids and pids_alive(pids) == []
    with platform.http(platform.admin_key) as http:
        named = http.post("/v2/models/bc/infer", headers={"X-Aiplane-Tenant": "shortlived"}, json={})
    assert named.status_code == 404


def test_a_deployment_scaled_by_another_process_gets_its_replicas(platform: Platform):
    db = _store(platform)
    with db.write() as conn:
        deployment_rows.scale(db, conn, "finance", "fraud", 2)
    db.dispose()
    with platform.http(platform.admin_key) as http:
        deadline = time.monotonic() + 60
        while (doc := http.get("/api/v1/tenants/finance/deployments/fraud").json())["replicas"]["ready"] < 2:
            assert time.monotonic() < deadline, doc
            time.sleep(0.2)
        assert http.post("/api/v1/tenants/finance/deployments/fraud/scale", json={"replicas": 1}).status_code == 200
        assert http.get("/api/v1/tenants/finance/quota").json()["resources"]["replicas"]["used"] == 1


def test_replicas_of_different_tenants_share_no_writable_directory(platform: Platform):
    dirs = {}
    for ref in ("clinical/calm", "finance/fraud"):
        with platform.http(platform.admin_key) as http:
            status = http.get(f"/api/v1/tenants/{ref.split('/')[0]}/deployments/{ref.split('/')[1]}").json()
        pid = status["replica_status"][0]["pid"]
        environ = dict(item.split("=", 1) for item in
                       Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item)
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        assert Path(environ["TMPDIR"]).parent == cwd and environ["HOME"] == str(cwd)
        assert not any(k.startswith("AIPLANE_") for k in environ)
        assert oct(cwd.stat().st_mode & 0o777) == "0o700"
        dirs[ref] = (cwd, Path(environ["TMPDIR"]))
    (a_cwd, a_tmp), (b_cwd, b_tmp) = dirs.values()
    for mine, theirs in ((a_cwd, b_cwd), (b_cwd, a_cwd)):
        assert not mine.is_relative_to(theirs)
    assert a_cwd.parent.name == "clinical" and b_cwd.parent.name == "finance"
    assert a_tmp != b_tmp and not a_tmp.is_relative_to(b_cwd) and not b_tmp.is_relative_to(a_cwd)


def _replica(platform: Platform, ref: str) -> tuple[int, Path]:
    tenant, name = ref.split("/")
    with platform.http(platform.admin_key) as http:
        pid = http.get(f"/api/v1/tenants/{tenant}/deployments/{name}").json()["replica_status"][0]["pid"]
    return pid, Path(os.readlink(f"/proc/{pid}/cwd"))


def _ids(pid: int) -> tuple[list[int], list[int]]:
    """(real, effective, saved, fs uids), (the same gids) of a running process."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return [int(v) for v in fields["Uid"].split()], [int(v) for v in fields["Gid"].split()]


def _attempt_as(uid: int, gid: int, cwd: Path, paths: dict[str, str]) -> dict[str, str]:
    """From a process with exactly a replica's identity (its uid and gid, no other group), in
    `cwd`: try each "write" or "connect" on its path; what happened, by label."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read)
            os.chdir(cwd)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            outcome = {}
            for label, path in paths.items():
                try:
                    if label.startswith("write"):
                        with open(path, "w") as f:
                            f.write("written by another tenant's replica")
                    else:
                        with socket.socket(socket.AF_UNIX) as s:
                            s.connect(path)
                    outcome[label] = "ok"
                except OSError as exc:
                    outcome[label] = type(exc).__name__
            os.write(write, json.dumps(outcome).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        result = f.read()
    os.waitpid(child, 0)
    return dict(json.loads(result))


@pytest.mark.skipif(os.geteuid() != 0, reason="tenant users need a root platform (CI and `make test` run as root)")
def test_a_replica_cannot_write_into_or_connect_to_another_tenants_replica(platform: Platform):
    (a_pid, a_cwd), (b_pid, b_cwd) = _replica(platform, "clinical/calm"), _replica(platform, "finance/fraud")
    (a_uids, a_gids), (b_uids, b_gids) = _ids(a_pid), _ids(b_pid)
    assert a_uids == [pwd.getpwnam("aiplane-clinical").pw_uid] * 4  # no saved root id to go back to
    assert b_uids == [pwd.getpwnam("aiplane-finance").pw_uid] * 4 and a_uids[0] != b_uids[0] and 0 not in a_gids
    root = a_cwd.parent.parent
    assert b_cwd.parent.parent == root
    for cwd, uid in ((a_cwd, a_uids[0]), (b_cwd, b_uids[0])):
        assert cwd.stat().st_uid == cwd.parent.stat().st_uid == uid and cwd.parent.stat().st_mode & 0o777 == 0o700
        sock = cwd / "http.sock"
        assert sock.stat().st_uid == uid and sock.stat().st_mode & 0o777 == 0o600
    mine, theirs = a_cwd.relative_to(root), b_cwd.relative_to(root)
    # From the replica root, so that only the tenants' own directories stand in the way.
    outcome = _attempt_as(a_uids[0], a_gids[0], root, {
        "write own": f"{mine}/probe", "connect own": f"{mine}/http.sock",
        "write theirs": f"{theirs}/probe", "write their tenant": f"{theirs.parent}/probe",
        "connect theirs": f"{theirs}/http.sock"})
    assert outcome == {"write own": "ok", "connect own": "ok", "write theirs": "PermissionError",
                       "write their tenant": "PermissionError", "connect theirs": "PermissionError"}
    assert not (b_cwd / "probe").exists() and not (b_cwd.parent / "probe").exists()
    (a_cwd / "probe").unlink()


def test_failed_authentications_are_limited_per_client_address(platform_factory: Any, trained_model: TrainedModel):
    p = platform_factory(env={"AIPLANE_GATEWAY_AUTH_FAILURE_BURST": "3",
                              "AIPLANE_GATEWAY_AUTH_FAILURES_PER_MINUTE": "6"}).start()
    bad = "aip_000000000000_" + "0" * 48
    attacker = httpx.Client(base_url=p.url, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with attacker, p.http(p.admin_key) as admin:
        first = [attacker.get("/v2", headers={"Authorization": f"Bearer {bad}"}).status_code for _ in range(3)]
        blocked = attacker.get("/api/v1/tenants", headers={"Authorization": f"Bearer {p.admin_key}"})
        assert first == [401, 401, 401]
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        assert "too many failed authentications from 127.0.0.2" in blocked.json()["detail"]
        assert admin.get("/api/v1/tenants").status_code == 200  # another address is not affected
