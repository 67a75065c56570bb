"""Single sign-on against a real OpenID Provider (npm oidc-provider): `aiplane login` through the
device flow and through code + PKCE, client credentials for a service account, refresh and
logout, claims mapped to tenants and roles, the human identity in the audit trail, key rotation
at the provider, a user moved out of a group, and the tokens that must be refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import grpc
import httpx
import pytest

from tests import openid
from tests.conftest import Platform, TrainedModel, free_port

pytestmark = pytest.mark.serial

USERS = {
    "alice": {"email": "alice@hospital.example", "name": "Alice Admin", "groups": ["clinical-admins"]},
    "bob": {"email": "bob@hospital.example", "name": "Bob Both", "groups": ["clinical-auditors", "finance-predictors"]},
    "carol": {"email": "carol@hospital.example", "name": "Carol Nobody", "groups": ["visitors"]},
    "dave": {"email": "dave@hospital.example", "name": "Dave Mover", "groups": ["clinical-admins"]},
}
MAPPINGS = [("groups", "clinical-admins", "clinical", "tenant-admin"),
            ("groups", "clinical-auditors", "clinical", "auditor"),
            ("groups", "finance-predictors", "finance", "predictor"),
            ("client_id", openid.SERVICE_CLIENT, "clinical", "deployer")]


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


class World:
    def __init__(self, platform: Platform, idp: openid.OpenIdProvider, second: openid.OpenIdProvider,
                 body: dict[str, Any], grpc_port: int) -> None:
        self.platform, self.idp, self.second, self.body = platform, idp, second, body
        self.grpc_address = f"127.0.0.1:{grpc_port}"

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        with self.platform.http(token) as client:
            return client.request(method, path, **kwargs)


def issuers_env(*providers: openid.OpenIdProvider, **more: str) -> dict[str, str]:
    doc = [{"issuer": p.issuer, "audience": openid.AUDIENCE, "algorithms": ["RS256"]} for p in providers]
    return {"AIPLANE_OIDC_ISSUERS": json.dumps(doc), "AIPLANE_OIDC_JWKS_REFRESH_S": "0.5", **more}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[World]:
    openid.install()
    folder = tmp_path_factory.mktemp("sso")
    idp = openid.OpenIdProvider(folder / "idp", {k: dict(v) for k, v in USERS.items()}).start()
    second = openid.OpenIdProvider(folder / "second", {"mallory": {"groups": ["clinical-admins"]}})
    second.keys = [openid.new_key(idp.keys[0].kid)]  # the same kid as the first provider's key
    second.start()
    grpc_port = free_port()
    p = Platform(folder / "data", issuers_env(idp, second), args=("--grpc-port", str(grpc_port)))
    try:
        p.start()
        with p.http(p.admin_key) as admin:  # the set-up over HTTP: a CLI process per step would cost seconds
            for tenant in ("clinical", "finance"):
                assert admin.post("/api/v1/tenants", json={"name": tenant, "cpus": 4, "memory": "8Gi"}).status_code == 201
            for claim, value, tenant, role in MAPPINGS:
                made = admin.post("/api/v1/sso/mappings", json={"claim": claim, "value": value, "tenant": tenant,
                                                                 "role": role})
                assert made.status_code == 201, made.text
        for tenant in ("clinical", "finance"):
            _ok(p.cli("model", "register", f"{tenant}/bc", str(trained_model.onnx)))
            _ok(p.cli("deploy", "create", f"{tenant}/bc", "--model", "bc:1"))
        body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                            "data": trained_model.x[:1].ravel().tolist()}]}
        yield World(p, idp, second, body, grpc_port)
    finally:
        p.stop()
        p.kill_everything()
        idp.stop()
        second.stop()


def _cli_env(home: Path) -> dict[str, str]:
    """A user's shell: their own config folder, no AIPLANE_TOKEN, no data directory at hand."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")}
    env.update(XDG_CONFIG_HOME=str(home), AIPLANE_DATA_DIR=str(home / "no-data-dir"))
    return env


def _login(world: World, home: Path, user: str, *flags: str, line: str = "or open ") -> subprocess.CompletedProcess[str]:
    """`aiplane login` as the user runs it; this test is the user's browser."""
    cmd = [sys.executable, "-m", "aiplane", "login", "--issuer", world.idp.issuer, "--client-id", openid.CLI_CLIENT,
           *flags]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_cli_env(home))
    assert proc.stdout is not None
    printed = []
    for text in proc.stdout:
        printed.append(text)
        if line in text:
            openid.sign_in(text.split(line, 1)[1].split()[0], user)
            break
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(printed) + out, err)


def _as(world: World, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = _cli_env(home)
    env["AIPLANE_URL"] = world.platform.url
    return subprocess.run([sys.executable, "-m", "aiplane", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=home)


def test_sso_mappings_are_managed_by_platform_admins_only(world: World):
    p = world.platform
    listed = json.loads(_ok(p.cli("sso", "list", "-o", "json")))
    assert [(m["claim"], m["value"], m["tenant"], m["role"]) for m in listed] == MAPPINGS
    again = p.cli("sso", "map", "--claim", "groups", "--value", "clinical-admins", "--tenant", "clinical",
                  "--role", "tenant-admin")
    assert again.returncode == 1 and "already mapped" in again.stderr
    missing = p.cli("sso", "map", "--claim", "groups", "--value", "x", "--tenant", "nope", "--role", "predictor")
    assert missing.returncode == 1 and "nope" in missing.stderr
    tenant_admin = json.loads(_ok(p.cli("key", "create", "--tenant", "clinical", "--role", "tenant-admin",
                                        "-o", "json")))["secret"]
    refused = world.call("POST", "/api/v1/sso/mappings", tenant_admin,
                         json={"claim": "groups", "value": "x", "tenant": "clinical", "role": "tenant-admin"})
    assert refused.status_code == 403
    made = json.loads(_ok(p.cli("sso", "map", "--claim", "groups", "--value", "temp", "--tenant", "finance",
                                "--role", "auditor", "-o", "json")))
    _ok(p.cli("sso", "unmap", str(made["id"])))
    assert made["id"] not in [m["id"] for m in json.loads(_ok(p.cli("sso", "list", "-o", "json")))]
    gone = p.cli("sso", "unmap", str(made["id"]))
    assert gone.returncode == 1 and "does not exist" in gone.stderr


def test_device_flow_login_then_the_cli_acts_as_the_person(world: World, tmp_path: Path):
    done = _login(world, tmp_path, "alice")
    assert done.returncode == 0, done.stderr + done.stdout
    cache = tmp_path / "aiplane" / "login.json"
    assert cache.stat().st_mode & 0o777 == 0o600 and (tmp_path / "aiplane").stat().st_mode & 0o777 == 0o700
    assert json.loads(cache.read_text())["grant"] == "device_code"
    tenants = json.loads(_ok(_as(world, tmp_path, "tenant", "list", "-o", "json")))
    assert [t["name"] for t in tenants] == ["clinical"]  # a tenant-admin of clinical sees clinical only
    answer = json.loads(_ok(_as(world, tmp_path, "predict", "clinical/bc", "--json", json.dumps(world.body))))
    assert answer["outputs"]
    refused = _as(world, tmp_path, "tenant", "create", "legal")
    assert refused.returncode == 1 and "may not perform 'tenant.create'" in refused.stderr
    # The audit trail names the person: issuer, subject, email and name.
    events = world.call("GET", "/api/v1/audit", world.platform.admin_key,
                        params={"action": "predict", "tenant": "clinical"}).json()
    mine = [e for e in events if (e.get("user") or {}).get("subject") == "alice"]
    assert mine and mine[-1]["user"] == {"issuer": world.idp.issuer, "subject": "alice",
                                         "email": "alice@hospital.example", "name": "Alice Admin"}
    assert mine[-1]["actor"].startswith("sso:") and mine[-1]["role"] == "tenant-admin"


def test_code_and_pkce_login_on_a_loopback_redirect(world: World, tmp_path: Path):
    done = _login(world, tmp_path, "bob", "--browser", "--no-open", line="To sign in, open ")
    assert done.returncode == 0, done.stderr + done.stdout
    assert json.loads((tmp_path / "aiplane" / "login.json").read_text())["grant"] == "authorization_code"
    # Bob audits clinical and predicts in finance: the union, each in its own tenant.
    assert _as(world, tmp_path, "audit", "tail", "--tenant", "clinical").returncode == 0
    predicted = _as(world, tmp_path, "predict", "finance/bc", "--json", json.dumps(world.body))
    assert predicted.returncode == 0, predicted.stderr
    refused = _as(world, tmp_path, "predict", "clinical/bc", "--json", json.dumps(world.body))
    assert refused.returncode == 1


def test_an_expiring_sign_in_is_refreshed_and_logout_forgets_it(world: World, tmp_path: Path):
    assert _login(world, tmp_path, "alice").returncode == 0
    cache = tmp_path / "aiplane" / "login.json"
    before = json.loads(cache.read_text())
    cache.write_text(json.dumps({**before, "expires_at": time.time() - 1}))
    _ok(_as(world, tmp_path, "tenant", "list"))
    after = json.loads(cache.read_text())
    assert after["access_token"] != before["access_token"] and after["expires_at"] > time.time()
    assert after["refresh_token"] != before["refresh_token"]  # the provider rotates refresh tokens
    assert "Signed out" in _ok(_as(world, tmp_path, "logout"))
    assert not cache.exists()
    anonymous = _as(world, tmp_path, "tenant", "list")
    assert anonymous.returncode == 1 and "no API key found: set AIPLANE_TOKEN" in anonymous.stderr


def test_a_service_account_signs_in_with_client_credentials(world: World, tmp_path: Path):
    env = _cli_env(tmp_path)
    env["CI_SECRET"] = openid.SERVICE_SECRET
    done = subprocess.run([sys.executable, "-m", "aiplane", "login", "--issuer", world.idp.issuer, "--client-id",
                           openid.SERVICE_CLIENT, "--client-secret-env", "CI_SECRET"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert openid.SERVICE_SECRET not in (tmp_path / "aiplane" / "login.json").read_text()
    assert "bc" in _ok(_as(world, tmp_path, "deploy", "list", "clinical"))  # mapped by client_id: deployer
    assert _as(world, tmp_path, "key", "create", "--tenant", "clinical", "--role", "predictor").returncode == 1


def test_jwt_on_the_data_plane_beside_keys_and_the_tenant_it_acts_in(world: World):
    bob = world.idp.device_token("bob")["access_token"]
    assert world.call("POST", "/v2/models/bc/infer", bob, json=world.body,
                      headers={"X-Aiplane-Tenant": "finance"}).status_code == 200
    unnamed = world.call("POST", "/v2/models/bc/infer", bob, json=world.body)
    assert unnamed.status_code == 400 and "X-Aiplane-Tenant" in unnamed.json()["error"]
    assert world.call("POST", "/v2/models/bc/infer", bob, json=world.body,
                      headers={"X-Aiplane-Tenant": "clinical"}).status_code == 403  # an auditor there


def test_jwt_on_the_grpc_data_plane_as_on_http(world: World):
    alice = world.idp.device_token("alice")["access_token"]
    carol = world.idp.device_token("carol")["access_token"]
    with grpc.insecure_channel(world.grpc_address) as channel:
        ready = channel.unary_unary("/inference.GRPCInferenceService/ModelReady")
        request = b"\x0a\x02bc"  # ModelReadyRequest(name="bc"), as raw bytes
        assert ready(request, metadata=(("authorization", "Bearer " + alice),)) == b"\x08\x01"
        for token, code in ((carol, grpc.StatusCode.PERMISSION_DENIED),
                            (world.idp.mint({"groups": ["clinical-admins"]}, ttl=-600), grpc.StatusCode.UNAUTHENTICATED)):
            with pytest.raises(grpc.RpcError) as refused:
                ready(request, metadata=(("authorization", "Bearer " + token),))
            assert refused.value.code() is code and refused.value.details().endswith(".")


def test_claims_that_map_to_nothing_get_403_with_a_sentence(world: World):
    carol = world.idp.device_token("carol")["access_token"]
    for method, path in (("GET", "/api/v1/tenants"), ("POST", "/v2/models/bc/infer")):
        answer = world.call(method, path, carol, json=world.body)
        assert answer.status_code == 403
        text = answer.json().get("detail") or answer.json().get("error")
        assert "no SSO mapping matches" in text and "carol@hospital.example" in text


def test_a_user_moved_out_of_the_group_is_refused_with_the_next_token(world: World):
    first = world.idp.device_token("dave")["access_token"]
    assert world.call("GET", "/api/v1/tenants/clinical", first).status_code == 200
    world.idp.set_groups("dave", ["visitors"])
    second = world.idp.device_token("dave")["access_token"]
    assert world.call("GET", "/api/v1/tenants/clinical", second).status_code == 403


def test_a_mapping_removed_takes_effect_on_tokens_already_verified(world: World):
    p = world.platform
    made = json.loads(_ok(p.cli("sso", "map", "--claim", "email", "--value", "carol@hospital.example",
                                "--tenant", "finance", "--role", "auditor", "-o", "json")))
    carol = world.idp.device_token("carol")["access_token"]
    assert world.call("GET", "/api/v1/audit", carol, params={"tenant": "finance"}).status_code == 200
    _ok(p.cli("sso", "unmap", str(made["id"])))
    assert world.call("GET", "/api/v1/audit", carol, params={"tenant": "finance"}).status_code == 403


def test_key_rotation_at_the_provider_accepts_the_new_kid_and_the_old_one(world: World):
    old_token = world.idp.mint({"sub": "alice", "groups": ["clinical-admins"]})
    assert world.call("GET", "/api/v1/tenants/clinical", old_token).status_code == 200
    fresh = world.idp.rotate()
    token = world.idp.device_token("alice")["access_token"]
    assert json.loads(openid.header_of(token))["kid"] == fresh.kid
    assert world.call("GET", "/api/v1/tenants/clinical", token).status_code == 200  # new kid: keys refetched
    old_again = world.idp.mint({"sub": "alice", "groups": ["clinical-admins"], "jti": "another"},
                               key=world.idp.keys[1])
    assert world.call("GET", "/api/v1/tenants/clinical", old_again).status_code == 200  # old kid still published


def _claims(world: World) -> dict[str, Any]:
    return {"iss": world.idp.issuer, "aud": openid.AUDIENCE, "sub": "alice", "exp": int(time.time()) + 300,
            "groups": ["clinical-admins"]}


def _confusion(world: World) -> str:
    """HS256 signed with the provider's public key (PEM), the classic algorithm confusion."""
    key = world.idp.keys[0]
    return openid.hand_signed({"alg": "HS256", "kid": key.kid}, _claims(world), key.as_pem(private=False))


BAD = {
    "expired": (lambda w: w.idp.mint({"groups": ["clinical-admins"]}, ttl=-600), "expired"),
    "wrong audience": (lambda w: w.idp.mint({"groups": ["clinical-admins"], "aud": "another-api"}), "audience"),
    "unknown issuer": (lambda w: w.idp.mint({"groups": ["clinical-admins"], "iss": "https://evil.example"}),
                       "not one this platform trusts"),
    "alg none": (lambda w: openid.hand_signed({"alg": "none", "kid": w.idp.keys[0].kid}, _claims(w), None),
                 "'none'"),
    "HS256 with the public key": (_confusion, "'HS256'"),
    "second provider, same kid": (lambda w: w.second.mint({"iss": w.idp.issuer, "groups": ["clinical-admins"]}),
                                  "signature does not verify"),
    "not yet valid": (lambda w: w.idp.mint({"groups": ["clinical-admins"], "nbf": int(time.time()) + 3600}),
                      "not valid yet"),
    "malformed": (lambda w: "e30.e30.not-a-signature!", "well-formed JWT"),
}


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("plane", ["control", "data"])
def test_bad_tokens_get_401_with_the_reason(world: World, case: str, plane: str):
    make, says = BAD[case]
    token = make(world)
    if plane == "control":
        answer = world.call("GET", "/api/v1/tenants/clinical", token)
        reason = answer.json()["detail"]
    else:
        answer = world.call("POST", "/v2/models/bc/infer", token, json=world.body)
        reason = answer.json()["error"]
    assert answer.status_code == 401, answer.text
    assert says in reason


def test_the_second_providers_own_token_is_judged_by_its_own_keys(world: World):
    mallory = world.second.mint({"sub": "mallory", "groups": ["clinical-admins"]})
    # Verified against the second provider's keys (same kid, other key): accepted, then mapped.
    assert world.call("GET", "/api/v1/tenants/clinical", mallory).status_code == 200


def test_jwks_down_cached_keys_work_until_their_cache_ends_and_new_kids_fail_closed(tmp_path: Path):
    openid.install()
    idp = openid.OpenIdProvider(tmp_path / "idp", {"alice": dict(USERS["alice"])}).start()
    p = Platform(tmp_path / "data", issuers_env(idp, AIPLANE_OIDC_JWKS_CACHE_S="10"))
    try:
        p.start()
        with p.http(p.admin_key) as admin:
            assert admin.post("/api/v1/tenants", json={"name": "clinical"}).status_code == 201
            assert admin.post("/api/v1/sso/mappings", json={"claim": "groups", "value": "clinical-admins",
                                                            "tenant": "clinical", "role": "tenant-admin"}).status_code == 201
        # The cache counts from the last fetch that worked: make it now, with a kid the gateway
        # has not seen (a rotation), so the timeline below does not depend on how fast start-up was.
        rotated = idp.rotate()
        with p.http(idp.mint({"groups": ["clinical-admins"]}, key=rotated)) as client:
            assert client.get("/api/v1/tenants/clinical").status_code == 200
        fetched = time.monotonic()
        idp.stop()
        with p.http(idp.mint({"groups": ["clinical-admins"], "jti": "2"})) as client:
            assert client.get("/api/v1/tenants/clinical").status_code == 200  # a new token, cached keys
        unknown = idp.mint({"groups": ["clinical-admins"]}, key=openid.new_key("never-published"))
        time.sleep(1)  # past the refresh interval: the unknown kid makes the gateway try the provider
        with p.http(unknown) as client:
            answer = client.get("/api/v1/tenants/clinical")
        assert answer.status_code == 401 and "never-published" in answer.json()["detail"]
        time.sleep(max(0.0, 11 - (time.monotonic() - fetched)))
        with p.http(idp.mint({"groups": ["clinical-admins"], "jti": "3"})) as client:
            answer = client.get("/api/v1/tenants/clinical")
        assert answer.status_code == 401
        assert "not available" in answer.json()["detail"] and "could not be reached" in answer.json()["detail"]
    finally:
        p.kill_everything()
        idp.stop()
