"""The GPU pool end to end on a real `aiplane up` with a simulated inventory (no GPU here):
two tenants' MIG deployments placed and shown, a scale-up refused when the pool is full, and
slices freed by a delete, through the CLI and the API, scoped by role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import Platform, TrainedModel

pytestmark = pytest.mark.serial

INVENTORY = """\
simulated: true
nodes:
  - name: node-a
    gpus:
      - {model: A100-80GB, mig: true}
"""


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return str(result.stdout)


def _fails(result: Any, fragment: str) -> str:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr and fragment in result.stderr.replace("\n", " "), result.stderr
    return str(result.stderr)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("gpu")
    (folder / "pool.yaml").write_text(INVENTORY)
    p = Platform(folder / "data", args=("--gpu-inventory", str(folder / "pool.yaml"))).start()
    _ok(p.cli("tenant", "create", "clinical", "--cpus", "4", "--mig", "3g.40gb=2"))
    _ok(p.cli("tenant", "create", "fraud", "--cpus", "8", "--mig", "1g.10gb=6"))
    for tenant in ("clinical", "fraud"):
        _ok(p.cli("model", "register", f"{tenant}/bc", str(trained_model.onnx)))
    yield p
    p.stop()
    p.kill_everything()


def _instances(p: Platform, token: str | None = None) -> list[dict[str, Any]]:
    with p.http(token or p.admin_key) as http:
        doc = http.get("/api/v1/gpu").json()
    assert doc["simulated"] is True
    return [i for g in doc["gpus"] for i in g["instances"]]


def test_two_tenants_mig_deployments_are_placed_shown_refused_when_full_and_freed_on_delete(platform: Platform):
    p = platform
    _ok(p.cli("deploy", "create", "clinical/triage", "--model", "bc:1", "--device", "mig-3g.40gb",
              "--max-replicas", "3"))
    _ok(p.cli("deploy", "create", "fraud/score", "--model", "bc:1", "--device", "mig-1g.10gb", "--max-replicas", "6"))
    status = _ok(p.cli("gpu", "status"))
    assert "simulated" in status and "clinical/triage#0" in status and "fraud/score#0" in status
    assert max(len(line) for line in status.splitlines()) <= 80
    owners = {(i["owner"]["tenant"], i["profile"]) for i in _instances(p)}
    assert owners == {("clinical", "3g.40gb"), ("fraud", "1g.10gb")}

    for replicas in (2, 3, 4):  # the 3g.40gb left four 1g slots: the pool takes four 1g.10gb
        _ok(p.cli("deploy", "scale", "fraud/score", "--replicas", str(replicas)))
    refused = _fails(p.cli("deploy", "scale", "fraud/score", "--replicas", "5"),
                     "not admitted to the GPU pool: mig-1g.10gb for fraud/score#4 cannot be placed: considered 1 GPU, "
                     "node-a/0 (A100-80GB: ")
    assert "Free slices (scale down or delete a deployment) or add GPUs to the inventory." in refused.replace("\n", " ")
    _fails(p.cli("deploy", "scale", "clinical/triage", "--replicas", "2"), "not admitted to the GPU pool")
    assert len(_instances(p)) == 5  # the refusals changed nothing

    _ok(p.cli("deploy", "delete", "fraud/score"))
    assert [i["owner"]["tenant"] for i in _instances(p)] == ["clinical"]
    _ok(p.cli("deploy", "scale", "clinical/triage", "--replicas", "2"))  # the freed slices take a second 3g
    assert sorted(i["start"] for i in _instances(p)) == [0, 4]
    layout = _ok(p.cli("gpu", "layout", "--format", "mig-parted"))
    assert "version: v1" in layout and "aiplane-node-a:" in layout and "3g.40gb: 2" in layout


def test_a_tenant_key_sees_its_own_slices_and_the_others_only_as_taken(platform: Platform):
    p = platform
    _ok(p.cli("deploy", "scale", "clinical/triage", "--replicas", "1"))  # a scale-down frees its slices
    _ok(p.cli("deploy", "create", "fraud/rules", "--model", "bc:1", "--device", "mig-1g.10gb"))
    key = _ok(p.cli("key", "create", "--tenant", "clinical", "--role", "deployer", "--output", "json"))
    token = json.loads(key)["secret"]
    seen = _instances(p, token)
    assert {i["state"] for i in seen} >= {"allocated", "taken"}
    assert all(i["owner"] is None or i["owner"]["tenant"] == "clinical" for i in seen)
    with p.http(token) as http:
        assert "fraud" not in http.get("/api/v1/gpu").text and "rules" not in http.get("/api/v1/gpu").text
    _ok(p.cli("deploy", "delete", "fraud/rules"))


def test_a_replica_on_a_simulated_pool_serves_on_the_cpu_and_says_so(platform: Platform, trained_model):
    p = platform
    logs = list((p.data_dir / "replicas" / "clinical").glob("triage-*/replica.log"))
    assert logs and all("placed on a simulated GPU pool: runs on the CPU" in log.read_text() for log in logs)
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                        "data": trained_model.x[:1].ravel().tolist()}]}
    with p.http(p.admin_key) as http:
        r = http.post("/v2/models/triage/infer", json=body, headers={"X-Aiplane-Tenant": "clinical"})
    assert r.status_code == 200, r.text


def test_a_device_the_pool_cannot_give_is_refused_naming_what_it_has(platform: Platform,
                                                                     trained_model: TrainedModel):
    p = platform
    _fails(p.cli("deploy", "create", "clinical/small", "--model", "bc:1", "--device", "mig-1g.6gb"),
           "MIG profile '1g.6gb' does not exist on any GPU model in the pool (A100-80GB has 1g.10gb, ")
    _fails(p.cli("deploy", "create", "clinical/odd", "--model", "bc:1", "--device", "mig-9g.1gb"),
           "MIG profile '9g.1gb' is not a profile of any supported GPU; valid profiles are 1g.6gb, ")
    _fails(p.cli("deploy", "create", "clinical/whole", "--model", "bc:1", "--device", "gpu"),
           "a whole GPU for clinical/whole#0 cannot be placed: considered 1 GPU, node-a/0 (A100-80GB: MIG is on "
           "(a whole GPU needs MIG off))")
    # Canary replicas are not placed on the pool yet: refused rather than run unaccounted for.
    _ok(p.cli("model", "register", "clinical/bc", str(trained_model.onnx)))  # version 2
    _fails(p.cli("deploy", "canary", "clinical/triage", "--model", "bc:2", "--percent", "10"),
           "runs on the GPU pool (mig-3g.40gb), and canary replicas are not placed on it yet")


def test_without_an_inventory_a_gpu_device_is_refused_in_one_sentence(tmp_path: Path, trained_model: TrainedModel):
    p = Platform(tmp_path / "data").start()
    try:
        _ok(p.cli("tenant", "create", "clinical", "--gpus", "1"))
        _ok(p.cli("model", "register", "clinical/bc", str(trained_model.onnx)))
        _fails(p.cli("deploy", "create", "clinical/triage", "--model", "bc:1", "--device", "gpu"),
               "device 'gpu' is not available: this aiplane has no GPU pool; start it with --gpu-inventory FILE")
        assert "no GPU pool" in _ok(p.cli("gpu", "status"))
    finally:
        p.stop()
        p.kill_everything()
