"""The control API against its own OpenAPI document, with schemathesis (property-based: the
documented examples, the coverage phase, fuzzing and stateful sequences) on a real `aiplane up`
with the platform-admin key: no answer is a 5xx, and every answer matches the document (status
codes, media types, bodies, `Allow` on 405). `make openapi-check` runs more examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import Platform

EXAMPLES = int(os.environ.get("AIPLANE_SCHEMATHESIS_EXAMPLES", "5"))
# Schema-valid requests the domain refuses (a name that is not a DNS label, a model that is
# not ONNX) are 400s by design: the document is looser than the rules, not wrong.
EXCLUDED = "positive_data_acceptance"


def schemathesis(url: str, key: str, examples: int) -> subprocess.CompletedProcess[str]:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is a dev extra: pip install -e '.[dev]'"
    return subprocess.run([st, "run", f"{url}/openapi.json", "-H", f"Authorization: Bearer {key}",
                           "--max-examples", str(examples), "--checks", "all", "--exclude-checks", EXCLUDED,
                           "--workers", "1", "--seed", "1", "--no-color"],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory):
    # Negative cases send wrong keys on purpose: a budget the run cannot spend, or the
    # failed-authentication guard would answer 429 to everything from 127.0.0.1.
    p = Platform(tmp_path_factory.mktemp("openapi") / "data", {"AIPLANE_GATEWAY_AUTH_FAILURES_PER_MINUTE": "1000000",
                                                               "AIPLANE_GATEWAY_AUTH_FAILURE_BURST": "100000"})
    p.start()
    yield p
    p.stop()
    p.kill_everything()


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(platform: Platform):
    run = schemathesis(platform.url, platform.admin_key, EXAMPLES)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failures" not in run.stdout.split("SUMMARY")[-1].lower(), run.stdout[-3000:]


def test_the_document_says_400_not_422_and_names_non_json_answers(platform: Platform):
    doc = httpx.get(f"{platform.url}/openapi.json", timeout=30).json()
    operations = [(p, m, op) for p, ms in doc["paths"].items() for m, op in ms.items()]
    assert not [(p, m) for p, m, op in operations if "422" in op["responses"]]
    assert all("400" in op["responses"] and "401" in op["responses"] for p, m, op in operations
               if p.startswith("/api/v1/"))
    export = doc["paths"]["/api/v1/audit/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/jsonl", "text/csv"}
    upload = doc["paths"]["/api/v1/tenants/{tenant}/models/{model}/versions"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert "text/plain" in doc["paths"]["/api/v1/audit/public-key"]["get"]["responses"]["200"]["content"]
