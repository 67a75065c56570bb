"""The access matrix, from tables written down here, checked against a real server.

Every route of both planes x every kind of principal x its own / another tenant x a valid,
expired or revoked key. The expected status of each cell comes from this file alone: the role
table (a copy of the one in docs/security.md, checked against it) and which action each route
performs and where it finds its tenant, both written here as data, not read from
`aiplane.domain.policy`; so a wrong row there fails cells here. The probe of each route only
says which request to send and what an admitted caller gets back. A route without a policy
entry stops the server from starting (and fails the coverage test here); a policy entry without
a probe fails too.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from aiplane.domain.policy import ROUTES
from aiplane.domain.roles import Role
from tests.conftest import Platform, TrainedModel
from tests.domain.test_role_table import documented_role_table

pytestmark = pytest.mark.serial
OWN, OTHER = "alpha", "beta"
PRINCIPALS = [(Role.PLATFORM_ADMIN, None), (Role.AUDITOR, None), (Role.TENANT_ADMIN, OWN), (Role.DEPLOYER, OWN),
              (Role.PREDICTOR, OWN), (Role.AUDITOR, OWN)]
STATES = ("valid", "expired", "revoked")


@dataclass
class World:
    platform: Platform
    model: TrainedModel
    admin: httpx.Client
    keys: dict[tuple[Role, str | None, str], str]  # (role, tenant, state) -> secret
    counter: itertools.count[int]

    def sacrificial_key(self, tenant: str) -> str:
        doc = self.admin.post("/api/v1/keys", json={"role": "predictor", "tenant": tenant}).json()
        return str(doc["key_id"])

    def sacrificial_mapping(self, tenant: str) -> int:
        body = {"claim": "groups", "value": f"g{next(self.counter)}", "tenant": tenant, "role": "predictor"}
        return int(self.admin.post("/api/v1/sso/mappings", json=body).json()["id"])

    def sacrificial_tenant(self) -> str:
        name = f"gone{next(self.counter)}"
        assert self.admin.post("/api/v1/tenants", json={"name": name}).status_code == 201
        return name

    def infer_body(self) -> dict[str, Any]:
        row = self.model.x[:1]
        return {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": row.ravel().tolist()}]}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    status: int  # what a caller the policy admits gets
    kwargs: dict[str, Any]


Prober = Callable[[World, str, bool], Probe]  # (world, target tenant, admitted by the policy) -> probe


def _get(path: str, status: int = 200) -> Prober:
    return lambda w, t, ok: Probe("GET", path.format(t=t, d=f"dep-{t}"), status, {})


def _delete_tenant(w: World, t: str, ok: bool) -> Probe:
    return Probe("DELETE", f"/api/v1/tenants/{w.sacrificial_tenant() if ok else t}", 204, {})


def _register(w: World, t: str, ok: bool) -> Probe:
    files = {"file": ("junk.onnx", b"not onnx", "application/octet-stream")}
    return Probe("POST", f"/api/v1/tenants/{t}/models/m/versions", 400, {"files": files})


def _data(method: str, suffix: str, body: bool = False) -> Prober:
    def probe(w: World, t: str, ok: bool) -> Probe:
        kwargs: dict[str, Any] = {"headers": {"X-Aiplane-Tenant": t}}
        if body:
            kwargs["json"] = w.infer_body()
        return Probe(method, f"/v2/models/dep-{t}{suffix}", 200, kwargs)

    return probe


PORTFOLIO = {"workloads": [{"name": "risk", "industry": "healthcare", "compliance": ["hipaa"],
                            "data_residency": "on-prem", "model_size_gb": 0.4, "latency_p99_ms": 200,
                            "requests_per_day": 1000000, "training": {"gpus": 16, "hours_per_month": 730},
                            "inference": {"gpus": 4}}]}

PROBES: dict[tuple[str, str], Prober] = {
    ("POST", "/api/v1/tenants"): lambda w, t, ok: Probe("POST", "/api/v1/tenants", 409, {"json": {"name": t}}),
    ("GET", "/api/v1/tenants"): _get("/api/v1/tenants"),
    ("GET", "/api/v1/tenants/{tenant}"): _get("/api/v1/tenants/{t}"),
    ("PATCH", "/api/v1/tenants/{tenant}"): lambda w, t, ok: Probe("PATCH", f"/api/v1/tenants/{t}", 200, {"json": {}}),
    ("DELETE", "/api/v1/tenants/{tenant}"): _delete_tenant,
    ("GET", "/api/v1/tenants/{tenant}/quota"): _get("/api/v1/tenants/{t}/quota"),
    ("POST", "/api/v1/keys"): lambda w, t, ok: Probe("POST", "/api/v1/keys", 201,
                                                     {"json": {"role": "predictor", "tenant": t}}),
    ("GET", "/api/v1/keys"): lambda w, t, ok: Probe("GET", "/api/v1/keys", 200, {"params": {"tenant": t}}),
    ("DELETE", "/api/v1/keys/{key_id}"): lambda w, t, ok: Probe("DELETE", f"/api/v1/keys/{w.sacrificial_key(t)}",
                                                                200, {}),
    ("GET", "/api/v1/models"): _get("/api/v1/models"),
    ("GET", "/api/v1/tenants/{tenant}/models"): _get("/api/v1/tenants/{t}/models"),
    ("POST", "/api/v1/tenants/{tenant}/models/{model}/versions"): _register,
    ("GET", "/api/v1/tenants/{tenant}/models/{model}/versions"): _get("/api/v1/tenants/{t}/models/m/versions"),
    ("GET", "/api/v1/tenants/{tenant}/models/{model}/versions/{version}"):
        _get("/api/v1/tenants/{t}/models/m/versions/1"),
    # An admitted caller asking for a version that does not exist gets 404 before any work starts.
    ("POST", "/api/v1/tenants/{tenant}/models/{model}/versions/{version}/quantize"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/models/ghost/versions/1/quantize", 404, {}),
    ("POST", "/api/v1/tenants/{tenant}/models/{model}/versions/{version}/profile"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/models/ghost/versions/1/profile", 404, {"json": {}}),
    ("GET", "/api/v1/deployments"): _get("/api/v1/deployments"),
    ("POST", "/api/v1/tenants/{tenant}/deployments"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/deployments", 409, {"json": {"name": f"dep-{t}", "model": "m:1"}}),
    ("GET", "/api/v1/tenants/{tenant}/deployments"): _get("/api/v1/tenants/{t}/deployments"),
    ("GET", "/api/v1/tenants/{tenant}/deployments/{name}"): _get("/api/v1/tenants/{t}/deployments/{d}"),
    ("DELETE", "/api/v1/tenants/{tenant}/deployments/{name}"): lambda w, t, ok: Probe(
        "DELETE", f"/api/v1/tenants/{t}/deployments/ghost", 404, {}),
    ("PATCH", "/api/v1/tenants/{tenant}/deployments/{name}"): lambda w, t, ok: Probe(
        "PATCH", f"/api/v1/tenants/{t}/deployments/dep-{t}", 200, {"json": {"target_concurrency": 8}}),
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/scale"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/deployments/dep-{t}/scale", 200, {"json": {"replicas": 1}}),
    # Rollouts: the authorized answer is a refusal that changes nothing (a percent out of range,
    # nothing to promote or roll back), so the matrix can run them for every key.
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/canary"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/deployments/dep-{t}/canary", 400, {"json": {"model": "m:1", "percent": 101}}),
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/promote"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/deployments/dep-{t}/promote", 409, {}),
    ("POST", "/api/v1/tenants/{tenant}/deployments/{name}/rollback"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/deployments/dep-{t}/rollback", 409, {}),
    ("POST", "/api/v1/sso/mappings"): lambda w, t, ok: Probe("POST", "/api/v1/sso/mappings", 201, {"json": {
        "claim": "groups", "value": f"p{next(w.counter)}", "tenant": t, "role": "predictor"}}),
    ("GET", "/api/v1/sso/mappings"): _get("/api/v1/sso/mappings"),
    ("DELETE", "/api/v1/sso/mappings/{mapping_id}"): lambda w, t, ok: Probe(
        "DELETE", f"/api/v1/sso/mappings/{w.sacrificial_mapping(t)}", 204, {}),
    ("POST", "/api/v1/plan"): lambda w, t, ok: Probe("POST", "/api/v1/plan", 200, {"json": PORTFOLIO}),
    ("GET", "/api/v1/gpu"): _get("/api/v1/gpu"),
    ("GET", "/api/v1/gpu/layout"): _get("/api/v1/gpu/layout"),
    ("GET", "/api/v1/audit"): lambda w, t, ok: Probe("GET", "/api/v1/audit", 200, {"params": {"tenant": t}}),
    ("GET", "/api/v1/audit/export"): lambda w, t, ok: Probe("GET", "/api/v1/audit/export", 200,
                                                            {"params": {"tenant": t}}),
    ("GET", "/api/v1/audit/verify"): _get("/api/v1/audit/verify"),
    ("GET", "/api/v1/audit/public-key"): _get("/api/v1/audit/public-key"),
    ("GET", "/api/v1/audit/checkpoints"): _get("/api/v1/audit/checkpoints"),
    ("POST", "/api/v1/audit/checkpoints"): lambda w, t, ok: Probe("POST", "/api/v1/audit/checkpoints", 201, {}),
    ("GET", "/api/v1/audit/events/{audit_id}/proof"): _get("/api/v1/audit/events/nosuchevent/proof", 404),
    ("GET", "/api/v1/audit/events/{audit_id}/payload"): _get("/api/v1/audit/events/nosuchevent/payload", 404),
    ("GET", "/api/v1/audit/consistency"): lambda w, t, ok: Probe("GET", "/api/v1/audit/consistency", 400,
                                                                 {"params": {"first": 2, "second": 1}}),
    ("POST", "/api/v1/audit/prune"): lambda w, t, ok: Probe("POST", "/api/v1/audit/prune", 200, {}),
    ("POST", "/api/v1/tenants/{tenant}/erase-payloads"): lambda w, t, ok: Probe(
        "POST", f"/api/v1/tenants/{t}/erase-payloads", 200, {}),
    ("PUT", "/api/v1/tenants/{tenant}/audit-retention"): lambda w, t, ok: Probe(
        "PUT", f"/api/v1/tenants/{t}/audit-retention", 200, {"json": {"days": 2192}}),
    ("GET", "/v2"): lambda w, t, ok: Probe("GET", "/v2", 200, {"headers": {"X-Aiplane-Tenant": t}}),
    ("GET", "/v2/models/{name}"): _data("GET", ""),
    ("GET", "/v2/models/{name}/ready"): _data("GET", "/ready"),
    ("POST", "/v2/models/{name}/infer"): _data("POST", "/infer", body=True),
    ("GET", "/v2/models/{name}/versions/{version}"): _data("GET", "/versions/1"),
    ("GET", "/v2/models/{name}/versions/{version}/ready"): _data("GET", "/versions/1/ready"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"): _data("POST", "/versions/1/infer", body=True),
    ("POST", "/v2/repository/index"): lambda w, t, ok: Probe("POST", "/v2/repository/index", 200,
                                                             {"headers": {"X-Aiplane-Tenant": t}, "json": {}}),
    ("GET", "/v2/health/live"): _get("/v2/health/live"),
    ("GET", "/v2/health/ready"): _get("/v2/health/ready"),
    ("GET", "/healthz"): _get("/healthz"),
    ("GET", "/readyz"): _get("/readyz"),
    ("GET", "/metrics"): _get("/metrics"),
    ("GET", "/openapi.json"): _get("/openapi.json"),
    ("GET", "/docs"): _get("/docs"),
    ("GET", "/docs/oauth2-redirect"): _get("/docs/oauth2-redirect"),
    ("GET", "/redoc"): _get("/redoc"),
}


_ALL = {"tenant.create", "tenant.list", "tenant.read", "tenant.update", "tenant.delete", "key.create", "key.read",
        "key.revoke", "model.register", "model.read", "deployment.write", "deployment.read", "predict",
        "audit.read", "cost.read", "plan", "sso.manage", "gpu.read"}
# Who may do what: docs/security.md's table, written out again as data.
ROLE_TABLE: dict[str, set[str]] = {
    "platform-admin": _ALL,
    "tenant-admin": {"tenant.read", "key.create", "key.read", "key.revoke", "model.register", "model.read",
                     "deployment.write", "deployment.read", "predict", "audit.read", "cost.read", "plan",
                     "gpu.read"},
    "deployer": {"tenant.read", "model.register", "model.read", "deployment.write", "deployment.read", "plan",
                 "gpu.read"},
    "predictor": {"predict", "plan"},
    "auditor": {"audit.read", "cost.read", "plan", "gpu.read"},
}

# Which action each route performs and where its tenant comes from: "public" (no key),
# "anywhere" (the action alone decides: not inside a tenant, or lists narrowed to what the key
# sees) or "named" (the tenant the request names: a key bound to another tenant is refused).
T, M, D = "/api/v1/tenants/{tenant}", "/api/v1/tenants/{tenant}/models/{model}", "/api/v1/tenants/{tenant}/deployments"
ROUTE_TABLE: dict[tuple[str, str], tuple[str | None, str]] = {
    ("POST", "/api/v1/tenants"): ("tenant.create", "anywhere"),
    ("GET", "/api/v1/tenants"): ("tenant.read", "anywhere"),
    ("GET", T): ("tenant.read", "named"),
    ("PATCH", T): ("tenant.update", "named"),
    ("DELETE", T): ("tenant.delete", "named"),
    ("GET", T + "/quota"): ("tenant.read", "named"),
    ("POST", "/api/v1/keys"): ("key.create", "named"),
    ("GET", "/api/v1/keys"): ("key.read", "named"),
    ("DELETE", "/api/v1/keys/{key_id}"): ("key.revoke", "named"),
    ("GET", "/api/v1/models"): ("model.read", "anywhere"),
    ("GET", T + "/models"): ("model.read", "named"),
    ("POST", M + "/versions"): ("model.register", "named"),
    ("GET", M + "/versions"): ("model.read", "named"),
    ("GET", M + "/versions/{version}"): ("model.read", "named"),
    ("POST", M + "/versions/{version}/quantize"): ("model.register", "named"),
    ("POST", M + "/versions/{version}/profile"): ("model.register", "named"),
    ("GET", "/api/v1/deployments"): ("deployment.read", "anywhere"),
    ("POST", D): ("deployment.write", "named"),
    ("GET", D): ("deployment.read", "named"),
    ("GET", D + "/{name}"): ("deployment.read", "named"),
    ("DELETE", D + "/{name}"): ("deployment.write", "named"),
    ("PATCH", D + "/{name}"): ("deployment.write", "named"),
    ("POST", D + "/{name}/scale"): ("deployment.write", "named"),
    ("POST", D + "/{name}/canary"): ("deployment.write", "named"),
    ("POST", D + "/{name}/promote"): ("deployment.write", "named"),
    ("POST", D + "/{name}/rollback"): ("deployment.write", "named"),
    ("POST", "/api/v1/plan"): ("plan", "anywhere"),
    ("GET", "/api/v1/gpu"): ("gpu.read", "anywhere"),
    ("GET", "/api/v1/gpu/layout"): ("gpu.read", "anywhere"),
    ("POST", "/api/v1/sso/mappings"): ("sso.manage", "anywhere"),
    ("GET", "/api/v1/sso/mappings"): ("sso.manage", "anywhere"),
    ("DELETE", "/api/v1/sso/mappings/{mapping_id}"): ("sso.manage", "anywhere"),
    ("GET", "/api/v1/audit"): ("audit.read", "named"),
    ("GET", "/api/v1/audit/export"): ("audit.read", "named"),
    ("GET", "/api/v1/audit/verify"): ("audit.read", "anywhere"),
    ("GET", "/api/v1/audit/public-key"): ("audit.read", "anywhere"),
    ("GET", "/api/v1/audit/checkpoints"): ("audit.read", "anywhere"),
    ("POST", "/api/v1/audit/checkpoints"): ("audit.read", "anywhere"),
    ("GET", "/api/v1/audit/events/{audit_id}/proof"): ("audit.read", "anywhere"),
    ("GET", "/api/v1/audit/events/{audit_id}/payload"): ("audit.read", "anywhere"),
    ("GET", "/api/v1/audit/consistency"): ("audit.read", "anywhere"),
    ("POST", "/api/v1/audit/prune"): ("tenant.update", "anywhere"),
    ("POST", T + "/erase-payloads"): ("tenant.update", "named"),
    ("PUT", T + "/audit-retention"): ("tenant.update", "named"),
    **{("GET" if "infer" not in p and "index" not in p else "POST", p): ("predict", "data") for p in (
        "/v2", "/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}", "/v2/models/{name}/versions/{version}/ready",
        "/v2/models/{name}/versions/{version}/infer", "/v2/repository/index")},
    **{("GET", p): (None, "public") for p in (
        "/v2/health/live", "/v2/health/ready", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs",
        "/docs/oauth2-redirect", "/redoc")},
}


def admitted(route: tuple[str, str], role: Role, bound: str | None, tenant: str) -> bool:
    """What the tables here say: may a `role` key bound to `bound` (None: every tenant) do this in `tenant`?"""
    action, where = ROUTE_TABLE[route]
    if action not in ROLE_TABLE[role.value]:
        return False
    return where == "anywhere" or bound is None or bound == tenant


def expected(route: tuple[str, str], role: Role, bound: str | None, state: str, tenant: str, success: int) -> int:
    action, where = ROUTE_TABLE[route]
    if where == "public":
        return success
    if state != "valid":
        return 401
    if action not in ROLE_TABLE[role.value]:
        return 403
    if admitted(route, role, bound, tenant) or (where == "data" and "{name}" not in route[1]):
        return success  # /v2 and the repository index name no deployment: they answer for the caller's tenant
    # Another tenant's deployment does not exist for the caller on the data plane.
    return 404 if where == "data" else 403


def test_the_tables_here_are_the_documented_ones_and_cover_every_route():
    assert ROLE_TABLE == documented_role_table()
    assert set(ROUTE_TABLE) == set(ROUTES)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[World]:
    env = {"AIPLANE_GATEWAY_AUTH_FAILURE_BURST": "100000"}  # this test fails authentication on purpose, a lot
    platform = Platform(tmp_path_factory.mktemp("matrix") / "data", env).start()
    admin = platform.http(platform.admin_key)
    w = World(platform, trained_model, admin, {}, itertools.count())
    onnx = trained_model.onnx.read_bytes()
    for tenant in (OWN, OTHER):
        assert admin.post("/api/v1/tenants", json={"name": tenant}).status_code == 201
        files = {"file": ("m.onnx", onnx, "application/octet-stream")}
        assert admin.post(f"/api/v1/tenants/{tenant}/models/m/versions", files=files).status_code == 201
        created = admin.post(f"/api/v1/tenants/{tenant}/deployments", json={"name": f"dep-{tenant}", "model": "m:1"})
        assert created.status_code == 201, created.text
    for (role, tenant), state in itertools.product(PRINCIPALS, STATES):
        body = {"role": role.value, "tenant": tenant, "expires_in": "1s" if state == "expired" else None}
        doc = admin.post("/api/v1/keys", json=body).json()
        if state == "revoked":
            assert admin.delete(f"/api/v1/keys/{doc['key_id']}").status_code == 200
        w.keys[(role, tenant, state)] = doc["secret"]
    time.sleep(1.1)  # the "expired" keys expire
    yield w
    admin.close()
    platform.stop()
    platform.kill_everything()


def test_every_route_has_a_policy_and_a_probe(world: World):
    spec = world.admin.get("/openapi.json").json()
    served = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert served <= set(ROUTES), f"routes without a policy entry: {served - set(ROUTES)}"
    assert {k for k in ROUTES if k[1].startswith("/api/v1")} <= served, "policy entries for routes that do not exist"
    assert set(PROBES) == set(ROUTES), f"policy entries without a probe: {set(ROUTES) ^ set(PROBES)}"


def test_the_full_matrix_matches_the_tables_here(world: World):
    failures: list[str] = []
    statuses: set[int] = set()
    cells = 0
    with httpx.Client(base_url=world.platform.url, timeout=60) as http:
        for (method, template), (role, bound), own, state in itertools.product(
                ROUTE_TABLE, PRINCIPALS, (True, False), STATES):
            tenant = OWN if own else OTHER
            ok = ROUTE_TABLE[(method, template)][1] == "public" or (
                state == "valid" and admitted((method, template), role, bound, tenant))
            probe = PROBES[(method, template)](world, tenant, ok)
            want = expected((method, template), role, bound, state, tenant, probe.status)
            kwargs = dict(probe.kwargs)
            kwargs["headers"] = {**kwargs.get("headers", {}),
                                 "Authorization": f"Bearer {world.keys[(role, bound, state)]}"}
            response = http.request(probe.method, probe.path, **kwargs)
            cells += 1
            statuses.add(want)
            if response.status_code != want:
                failures.append(f"{role.value}@{bound} {state} {'own' if own else 'other'} {probe.method} "
                                f"{probe.path}: want {want}, got {response.status_code} {response.text[:120]}")
    assert cells == len(ROUTES) * len(PRINCIPALS) * 2 * len(STATES)
    assert sorted(statuses) == [200, 201, 204, 400, 401, 403, 404, 409]  # every kind of outcome was exercised
    assert failures == [], f"{len(failures)} of {cells} cells differ:\n" + "\n".join(failures[:40])


def test_the_gateway_answers_only_the_routes_of_the_table(world: World):
    token = world.keys[(Role.PREDICTOR, OWN, "valid")]
    with world.platform.http(token) as http:
        for method, path in [("GET", "/v2/models/dep-alpha/infer"), ("GET", "/v2/repository/index"),
                             ("DELETE", "/v2/models/dep-alpha"), ("GET", "/v2/models/dep-alpha/versions/1/x")]:
            response = http.request(method, path)
            assert response.status_code == 404 and "no route" in response.json()["error"], (method, path)


def test_a_route_without_a_policy_entry_stops_the_app_from_being_built(tmp_path: Path):
    from fastapi import APIRouter, Depends, FastAPI

    from aiplane.api import guarding

    router = APIRouter(prefix="/api/v1")

    @router.get("/unlisted")
    def unlisted() -> None: ...

    with pytest.raises(KeyError, match="GET /api/v1/unlisted has no entry"):
        guarding.check_covered(router.routes)
    app = FastAPI()
    app.include_router(router)  # as create_app does: the app lists an included router, not its routes
    with pytest.raises(KeyError, match="GET /api/v1/unlisted has no entry"):
        guarding.check_covered(app.routes)

    unguarded = APIRouter(prefix="/api/v1")

    @unguarded.get("/tenants")
    def listed_but_unguarded() -> None: ...

    with pytest.raises(RuntimeError, match="does not run aiplane.api.guarding.Guard"):
        guarding.check_covered(unguarded.routes)
    app = FastAPI()
    app.include_router(unguarded)
    with pytest.raises(RuntimeError, match="does not run aiplane.api.guarding.Guard"):
        guarding.check_covered(app.routes)
    app = FastAPI()
    app.include_router(unguarded, dependencies=[Depends(guarding.guard(None))])  # type: ignore[arg-type]
    guarding.check_covered(app.routes)  # guarded where it is included: accepted

    outside = APIRouter()

    @outside.get("/v2/models/{name}")
    def shadow(name: str) -> None: ...

    # A guarded route served outside /api/v1 would skip the guard: refused as well.
    with pytest.raises(RuntimeError, match="guarded .* but lives outside /api/v1"):
        guarding.check_covered(outside.routes)
