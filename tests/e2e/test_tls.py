"""TLS on the platform's ports: `aiplane up --tls-self-signed` (and `--tls-cert/--tls-key`),
verified by real clients through the CA file, TLS 1.0/1.1 refused, SIGHUP reloading the pair
without dropping an open connection, and a broken file refused at start-up in one sentence."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest

from tests.conftest import Platform, TrainedModel, free_port, run_cli

pytestmark = pytest.mark.serial

_GRPC_CLIENT = r'''
import sys, json
import numpy as np
import tritonclient.grpc as triton
address, ca, key, rows_file = sys.argv[1:5]
rows = np.load(rows_file)
client = triton.InferenceServerClient(address, ssl=True, root_certificates=ca)
x = triton.InferInput("input", list(rows.shape), "FP32")
x.set_data_from_numpy(rows)
result = client.infer("bc", [x], headers={"authorization": "Bearer " + key})
print(json.dumps(result.as_numpy("label").tolist()))
'''


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


class World:
    def __init__(self, platform: Platform, grpc_port: int, predictor: str) -> None:
        self.platform, self.grpc_port, self.predictor = platform, grpc_port, predictor


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, trained_model: TrainedModel) -> Iterator[World]:
    grpc_port = free_port()
    data = tmp_path_factory.mktemp("tls") / "data"
    p = Platform(data, args=("--tls-self-signed", "--grpc-port", str(grpc_port)), ca=data / "tls" / "server.crt")
    p.start()
    _ok(p.cli("tenant", "create", "alpha", "--cpus", "4", "--memory", "8Gi"))
    predictor = json.loads(_ok(p.cli("key", "create", "--tenant", "alpha", "--role", "predictor", "-o", "json")))
    _ok(p.cli("model", "register", "alpha/bc", str(trained_model.onnx)))
    _ok(p.cli("deploy", "create", "alpha/bc", "--model", "bc:1"))
    yield World(p, grpc_port, predictor["secret"])
    p.stop()
    p.kill_everything()


def _served_fingerprint(port: int) -> str:
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()


def test_self_signed_pair_is_private_and_its_fingerprint_is_printed(world: World):
    folder = world.platform.data_dir / "tls"
    assert {f.name: f.stat().st_mode & 0o777 for f in folder.iterdir()} == {"server.crt": 0o600, "server.key": 0o600}
    printed = re.search(r"SHA-256 ([0-9A-F:]{95})", world.platform.output())
    assert printed is not None, world.platform.output()
    assert printed.group(1).replace(":", "") == _served_fingerprint(world.platform.port)


def test_a_client_verifies_the_certificate_by_its_ca_file_and_refuses_without_it(world: World):
    p = world.platform
    with p.http(p.admin_key) as client:
        assert client.get("/api/v1/tenants").json()[0]["name"] == "alpha"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(p.url + "/healthz")
    # The CLI trusts what AIPLANE_CA_BUNDLE names; without it, one sentence that says so.
    assert "alpha" in _ok(p.cli("tenant", "list"))
    refused = run_cli("tenant", "list", url=p.url, token=p.admin_key)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "AIPLANE_CA_BUNDLE" in refused.stderr + refused.stdout


def test_plain_http_on_the_tls_port_gets_no_answer(world: World):
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{world.platform.port}/healthz", timeout=5)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
@pytest.mark.parametrize("port", ["http", "grpc"])
def test_tls_before_1_2_is_refused_at_the_handshake(world: World, version: ssl.TLSVersion, port: str):
    number = world.platform.port if port == "http" else world.grpc_port
    with warnings.catch_warnings():  # the point is to speak the deprecated versions
        warnings.simplefilter("ignore", DeprecationWarning)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
        old.minimum_version = old.maximum_version = version
    old.set_ciphers("ALL:@SECLEVEL=0")  # so that it is the server, not this client, that refuses
    with socket.create_connection(("127.0.0.1", number), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            old.wrap_socket(raw, server_hostname="127.0.0.1")
    # The same client allowed TLS 1.2 gets through: the refusal is the version's.
    modern = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    modern.load_verify_locations(world.platform.ca)
    with socket.create_connection(("127.0.0.1", number), timeout=10) as raw:
        with modern.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_tritonclient_http_with_ssl_predicts_through_the_gateway(world: World, trained_model: TrainedModel):
    import tritonclient.http as triton

    client = triton.InferenceServerClient(f"127.0.0.1:{world.platform.port}", ssl=True,
                                          ssl_options={"ca_certs": str(world.platform.ca)})
    rows = trained_model.x[:3]
    x = triton.InferInput("input", list(rows.shape), "FP32")
    x.set_data_from_numpy(rows)
    result = client.infer("bc", [x], headers={"Authorization": f"Bearer {world.predictor}"})
    assert result.as_numpy("label").tolist() == trained_model.estimator.predict(rows).tolist()
    client.close()


def test_tritonclient_grpc_with_tls_predicts_through_the_gateway(world: World, trained_model: TrainedModel,
                                                                   tmp_path: Path):
    rows = trained_model.x[:3]
    np.save(tmp_path / "rows.npy", rows)
    done = subprocess.run([sys.executable, "-c", _GRPC_CLIENT, f"127.0.0.1:{world.grpc_port}",
                           str(world.platform.ca), world.predictor, str(tmp_path / "rows.npy")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == trained_model.estimator.predict(rows).tolist()


def test_sighup_serves_a_new_pair_to_new_connections_and_keeps_open_ones(world: World, tmp_path: Path):
    from aiplane.crypto import tls

    p = world.platform
    assert p.proc is not None
    before = _served_fingerprint(p.port)
    client = p.http(p.admin_key)
    assert client.get("/healthz").status_code == 200  # a keep-alive connection, opened on the old pair
    fresh, _ = tls.self_signed(tmp_path / "new", "127.0.0.1")
    folder = p.data_dir / "tls"
    shutil.copyfile(fresh.cert, folder / "server.crt")
    shutil.copyfile(fresh.key, folder / "server.key")
    p.proc.send_signal(signal.SIGHUP)
    new = hashlib.sha256(ssl.PEM_cert_to_DER_cert(fresh.cert.read_text())).hexdigest().upper()
    deadline = time.monotonic() + 10
    while _served_fingerprint(p.port) != new and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _served_fingerprint(p.port) == new != before
    # The open connection is the same one, still answering (no reconnect: no new handshake).
    assert client.get("/api/v1/tenants").status_code == 200
    client.close()
    assert _served_fingerprint(world.grpc_port) == new or _grpc_reloads_lazily(world, new)
    assert p.proc.poll() is None


def _grpc_reloads_lazily(world: World, new: str) -> bool:
    """gRPC asks for a reloaded pair before new handshakes: give it a few."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _served_fingerprint(world.grpc_port) == new:
            return True
        time.sleep(0.2)
    return False


def test_a_broken_pair_on_sighup_keeps_the_current_one(world: World):
    p = world.platform
    assert p.proc is not None
    served = _served_fingerprint(p.port)
    (p.data_dir / "tls" / "server.key").write_text("not a key\n")
    p.proc.send_signal(signal.SIGHUP)
    time.sleep(1)
    assert p.proc.poll() is None
    assert _served_fingerprint(p.port) == served
    assert "TLS reload failed" in p.output()


@pytest.mark.parametrize("case, says", [
    ("garbage certificate", "is not a PEM certificate"),
    ("key of another certificate", "cannot be used with certificate"),
    ("missing key file", "does not exist"),
])
def test_a_malformed_certificate_file_at_start_up_is_one_sentence_and_exit_non_zero(tmp_path: Path, case: str,
                                                                                    says: str):
    from aiplane.crypto import tls

    one, _ = tls.self_signed(tmp_path / "one", "127.0.0.1")
    two, _ = tls.self_signed(tmp_path / "two", "127.0.0.1")
    cert, key = one.cert, one.key
    if case == "garbage certificate":
        cert = tmp_path / "garbage.crt"
        cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    elif case == "key of another certificate":
        key = two.key
    else:
        key = tmp_path / "absent.key"
    done = run_cli("up", "--port", str(free_port()), "--data-dir", str(tmp_path / "data"),
                   "--tls-cert", str(cert), "--tls-key", str(key), timeout=60)
    assert done.returncode != 0
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr, done.stderr + done.stdout


def test_gateway_workers_serve_tls_too_and_relay_the_control_api(tmp_path: Path, trained_model: TrainedModel):
    data = tmp_path / "data"
    p = Platform(data, args=("--tls-self-signed", "--workers", "2"), ca=data / "tls" / "server.crt")
    try:
        p.start()
        _ok(p.cli("tenant", "create", "alpha", "--cpus", "4", "--memory", "8Gi"))
        predictor = json.loads(_ok(p.cli("key", "create", "--tenant", "alpha", "--role", "predictor",
                                         "-o", "json")))["secret"]
        _ok(p.cli("model", "register", "alpha/bc", str(trained_model.onnx)))
        _ok(p.cli("deploy", "create", "alpha/bc", "--model", "bc:1"))
        body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                            "data": trained_model.x[:1].ravel().tolist()}]}
        answered_by: set[str] = set()
        deadline = time.monotonic() + 60
        while answered_by != {"0", "1"} and time.monotonic() < deadline:
            with p.http(predictor) as client:  # a new connection: the kernel picks its process
                answer = client.post("/v2/models/bc/infer", json=body)
                if answer.status_code == 200:
                    answered_by.add(answer.headers["x-aiplane-worker"])
                    # The control API on the same TLS connection, relayed when it is a worker's.
                    assert client.get("/api/v1/tenants", headers={"Authorization": f"Bearer {p.admin_key}"}
                                      ).status_code == 200
        assert answered_by == {"0", "1"}
    finally:
        p.kill_everything()
