"""Input values through a real `aiplane up`: NaN and infinities are refused (400) unless the
deployment allows them, a setting stored, shown and exported in the API; a request id that
could split a header is refused before it reaches one."""

from __future__ import annotations

import json

import numpy as np
import orjson

from tests.conftest import Platform, TrainedModel


def _binary_infer(client, name: str, row: np.ndarray, **doc_extra):
    raw = row.astype("<f4").tobytes()
    head = orjson.dumps({"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}], **doc_extra})
    return client.post(f"/v2/models/{name}/infer", content=head + raw,
                       headers={"inference-header-content-length": str(len(head))})


def test_nan_is_refused_unless_the_deployment_allows_it(platform_factory, trained_model: TrainedModel):
    p: Platform = platform_factory().start()
    assert p.cli("tenant", "create", "t", "--cpus", "2", "--memory", "2Gi").returncode == 0
    assert p.cli("model", "register", "t/bc", str(trained_model.onnx)).returncode == 0
    assert p.cli("deploy", "create", "t/strict", "--model", "bc:1").returncode == 0
    made = p.cli("deploy", "create", "t/lenient", "--model", "bc:1", "--allow-non-finite", "-o", "json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["allow_non_finite"] is True
    listed = {d["name"]: d["allow_non_finite"] for d in json.loads(p.cli("deploy", "list", "-o", "json").stdout)}
    assert listed == {"strict": False, "lenient": True}
    key = json.loads(p.cli("key", "create", "--tenant", "t", "--role", "predictor", "-o", "json").stdout)["secret"]
    row = trained_model.x[:1].copy()
    row[0, 3] = np.nan
    with p.http(key) as client:
        refused = _binary_infer(client, "strict", row)
        assert refused.status_code == 400 and "NaN or infinite" in refused.json()["error"]
        assert _binary_infer(client, "lenient", row).status_code == 200
        spliced = _binary_infer(client, "strict", trained_model.x[:1], id="a\r\nset-cookie: x=1")
        assert spliced.status_code == 400 and "control characters" in spliced.json()["error"]
        assert "set-cookie" not in spliced.headers
