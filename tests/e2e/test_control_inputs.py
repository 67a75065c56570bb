"""Odd values on any control-API field are 400s that name the field, never 5xx; retention is
bounded and per known tenant; the last platform-admin key cannot lock everyone out, and
`aiplane admin recover` gets access back offline; 405 names what is allowed; the trailing-slash
redirect does not trust the Host header."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Platform, run_cli

HUGE = 10**25


@pytest.fixture(scope="module")
def admin(platform: Platform):
    with platform.http(platform.admin_key) as client:
        assert client.post("/api/v1/tenants", json={"name": "odd"}).status_code in (201, 409)
        yield client


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/api/v1/tenants", {"name": "a1", "memory": f"{HUGE}Gi"}, "memory"),
    ("POST", "/api/v1/tenants", {"name": "a2", "max_replicas": HUGE}, "max_replicas"),
    ("POST", "/api/v1/tenants", {"name": "a3", "max_replicas": str(HUGE)}, "max-replicas"),
    ("POST", "/api/v1/tenants", {"name": "a4", "gpus": True}, "gpus"),
    ("POST", "/api/v1/tenants", {"name": "a5", "cpus": True}, "cpus"),
    ("POST", "/api/v1/tenants", {"name": "a6", "rate_limit": 1e308}, "rate-limit"),
    ("POST", "/api/v1/tenants", {"name": "a7", "mig": {"1g.10gb": HUGE}}, "mig.1g.10gb"),
    ("POST", "/api/v1/tenants", {"name": "a8", "gpus": "\u0661"}, "gpus"),  # an Arabic-Indic digit one
    ("POST", "/api/v1/tenants", {"name": "a9", "cost_center": "x" * 500}, "cost_center"),
    ("PATCH", "/api/v1/tenants/odd", {"cpus": "NaN"}, "cpus"),
    ("POST", "/api/v1/keys", {"role": "predictor", "tenant": "odd", "expires_in": f"{HUGE}d"}, "expires-in"),
    ("POST", "/api/v1/keys", {"role": "predictor", "tenant": "odd", "rate_limit": True}, "rate_limit"),
    ("POST", "/api/v1/keys", {"role": "predictor", "tenant": "odd", "name": "n" * 500}, "name"),
    ("POST", "/api/v1/tenants/odd/deployments", {"name": "d", "model": f"m:{HUGE}"}, "model version"),
    ("POST", "/api/v1/tenants/odd/deployments", {"name": "d", "model": "m:\u00b2"}, "model version"),  # superscript two
    ("POST", "/api/v1/tenants/odd/deployments", {"name": "d", "model": "m:1", "min_replicas": HUGE}, "min_replicas"),
    ("POST", "/api/v1/tenants/odd/deployments", {"name": "d", "model": "m:1", "max_batch_delay_ms": True},
     "max_batch_delay_ms"),
    ("POST", "/api/v1/tenants/odd/deployments/d/scale", {"replicas": True}, "replicas"),
    ("PATCH", "/api/v1/tenants/odd/deployments/d", {"max_replicas": HUGE}, "max_replicas"),
    ("PUT", "/api/v1/tenants/odd/audit-retention", {"days": HUGE}, "days"),
    ("PUT", "/api/v1/tenants/odd/audit-retention", {"days": 10**9}, "days"),
    ("PUT", "/api/v1/tenants/odd/audit-retention", {"days": True}, "days"),
    ("GET", "/api/v1/audit?after=" + str(HUGE), None, "after"),
    ("GET", "/api/v1/audit?since=99999999999d", None, "since"),
    ("GET", "/api/v1/audit?since=9999-12-31T23:59:59-23:59", None, "since"),
    ("GET", "/api/v1/audit/consistency?first=" + str(HUGE), None, "first"),
    ("GET", "/api/v1/tenants/odd/models/m/versions/\u00b2", None, "model version"),
])
def test_an_odd_value_is_a_400_naming_its_field(admin: httpx.Client, method: str, path: str, body: Any, field: str):
    answer = admin.request(method, path, json=body)
    assert answer.status_code == 400, (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith(field) or f" {field} " in answer.json()["detail"], answer.json()


def test_nan_in_a_json_body_is_a_400(admin: httpx.Client):
    body = b'{"name": "d", "model": "m:1", "max_batch_delay_ms": NaN}'
    answer = admin.post("/api/v1/tenants/odd/deployments", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "max_batch_delay_ms" in answer.json()["detail"], answer.text


def test_retention_is_per_known_tenant_and_bounded_and_pruning_still_works(admin: httpx.Client):
    missing = admin.put("/api/v1/tenants/nosuch/audit-retention", json={"days": 5})
    assert missing.status_code == 404 and "nosuch" in missing.json()["detail"]
    assert admin.put("/api/v1/tenants/odd/audit-retention", json={"days": 36525}).json() == {"tenant": "odd", "days": 36525}
    assert admin.put("/api/v1/tenants/odd/audit-retention", json={"days": 36526}).status_code == 400
    assert admin.post("/api/v1/audit/prune").status_code == 200


def test_405_names_every_method_the_path_takes(admin: httpx.Client):
    answer = admin.put("/api/v1/tenants")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, POST"


def test_the_trailing_slash_redirect_is_relative_whatever_the_host_header_says(platform: Platform):
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {platform.admin_key}"}) as client:
        moved = client.get("/api/v1/tenants/?x=1", headers={"Host": "evil.example"})
        assert moved.status_code == 307 and moved.headers["location"] == "/api/v1/tenants?x=1"
        assert client.get("//evil.example/").status_code == 404  # no protocol-relative redirect
        assert client.get("/api/v1/tenants/", follow_redirects=True).status_code == 200


def test_the_last_platform_admin_key_cannot_revoke_itself_and_admin_recover_restores_access(platform_factory):
    p: Platform = platform_factory().start()
    admin_id = p.admin_key.split("_")[1]
    refused = p.cli("key", "revoke", admin_id)
    assert refused.returncode == 1 and "last active platform-admin key" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    second = json.loads(p.cli("key", "create", "--role", "platform-admin", "-o", "json").stdout)
    assert p.cli("key", "revoke", admin_id).returncode == 0  # another one is left now
    assert p.cli("key", "revoke", second["key_id"], token=second["secret"]).returncode == 1  # and it is the last
    p.stop()

    recovered = run_cli("admin", "recover", "--data-dir", str(p.data_dir))
    assert recovered.returncode == 0, recovered.stderr
    secret = recovered.stdout.strip().splitlines()[-1]
    assert secret.startswith("aip_") and (p.data_dir / "admin.key").read_text().strip() == secret
    p.start()
    events = p.cli("audit", "tail", "--action", "admin.recover", "-o", "json", token=secret)
    assert events.returncode == 0 and json.loads(events.stdout)[0]["resource"] == f"keys/{secret.split('_')[1]}"
    p.cli("audit", "checkpoint", token=secret)
    assert json.loads(p.cli("audit", "verify", "-o", "json", token=secret).stdout)["ok"]
    nowhere = run_cli("admin", "recover", "--data-dir", str(p.data_dir.parent / "nothing-here"))
    assert nowhere.returncode == 1 and "holds no aiplane database" in nowhere.stderr
    p.stop()
