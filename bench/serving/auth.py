"""The governed data plane with an SSO token (JWT) against the same with an API key.

One `aiplane up` with one issuer configured; a JWKS served from this process on loopback (the
gateway discovers and fetches it as it would a provider's); one deployment; then wrk, in
alternating rounds, with the predictor key and with a JWT mapped to the same role. A verified
token is cached by its hash, so the JWT rounds should cost what the key rounds cost (goal:
within 5%).

    .venv/bin/python bench/serving/auth.py [--duration 8] [--conns 32] [--reps 3]
    .venv/bin/python bench/serving/auth.py --key-only --src OTHER_CHECKOUT/src   # the key path of other code
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
LUA = ROOT / "bench" / "serving" / "lua" / "post_body.lua"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _provider(public_jwks: dict[str, object]) -> str:
    port = _port()
    issuer = f"http://127.0.0.1:{port}"
    docs = {"/.well-known/openid-configuration": {"issuer": issuer, "jwks_uri": issuer + "/jwks"},
            "/jwks": public_jwks}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(docs.get(self.path, {})).encode()
            self.send_response(200 if self.path in docs else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return issuer


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "aiplane", *args], env=env, capture_output=True, text=True,
                          timeout=300)
    if done.returncode:
        sys.exit(f"aiplane {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def _model(folder: Path) -> Path:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    sys.path.insert(0, str(ROOT / "src"))
    from aiplane.runtime import sklearn_convert

    x, y = load_breast_cancer(return_X_y=True)
    path = folder / "model.onnx"
    path.write_bytes(sklearn_convert.convert(LogisticRegression(max_iter=5000).fit(x.astype(np.float32), y)))
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32",
                        "data": x[:1].astype(np.float32).ravel().tolist()}]}
    (folder / "body.json").write_text(json.dumps(body))
    return path


def _wrk(url: str, body: Path, auth: Path, conns: int, seconds: int, out: Path) -> dict[str, float]:
    env = {**os.environ, "WRK_BODY": str(body), "WRK_AUTH_FILE": str(auth), "WRK_JSON": str(out)}
    subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(LUA), url], env=env,
                   capture_output=True, check=True)
    doc = json.loads(out.read_text())
    if sum(doc["errors"].values()):
        sys.exit(f"wrk saw errors: {doc['errors']} (is the token mapped?)")
    return {"rps": doc["requests"] / (doc["duration_us"] / 1e6), "p50_ms": doc["latency_us"]["p50"] / 1000,
            "p99_ms": doc["latency_us"]["p99"] / 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the aiplane code to run")
    parser.add_argument("--key-only", action="store_true", help="only the API key (code without SSO)")
    args = parser.parse_args()
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "bench", "alg": "RS256", "use": "sig"}, private=True)
    issuer = _provider({"keys": [key.as_dict(private=False)]})
    work = Path(tempfile.mkdtemp(prefix="aiplane-auth-bench-"))
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")}
    env.update(PYTHONPATH=str(args.src), AIPLANE_OIDC_ISSUERS=json.dumps([{"issuer": issuer, "audience": "aiplane"}]))
    up = subprocess.Popen([sys.executable, "-m", "aiplane", "up", "--port", str(port), "--data-dir", str(work / "data")],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        cli = {**env, "AIPLANE_URL": url, "AIPLANE_TOKEN": (work / "data" / "admin.key").read_text().strip()}
        _cli(cli, "tenant", "create", "bench", "--cpus", "4", "--memory", "8Gi")
        _cli(cli, "model", "register", "bench/bc", str(_model(work)))
        _cli(cli, "deploy", "create", "bench/bc", "--model", "bc:1")
        if not args.key_only:
            _cli(cli, "sso", "map", "--claim", "groups", "--value", "bench-predictors", "--tenant", "bench",
                 "--role", "predictor")
        secret = json.loads(_cli(cli, "key", "create", "--tenant", "bench", "--role", "predictor", "-o", "json"))
        (work / "key.auth").write_text(secret["secret"] + "\n")
        now = int(time.time())
        token = jwt.encode({"alg": "RS256", "kid": "bench"}, {"iss": issuer, "aud": "aiplane", "sub": "bench-user",
                                                              "iat": now, "exp": now + 7200,
                                                              "groups": ["bench-predictors"]}, key)
        (work / "jwt.auth").write_text(token + "\n")
        infer = url + "/v2/models/bc/infer"
        credentials = [("API key", work / "key.auth")] + ([] if args.key_only else [("JWT (SSO)", work / "jwt.auth")])
        results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in credentials}
        for rep in range(args.reps):
            for name, auth in credentials:
                _wrk(infer, work / "body.json", auth, args.conns, 2, work / "warm.json")
                results[name].append(_wrk(infer, work / "body.json", auth, args.conns, args.duration,
                                          work / f"{name[:3]}{rep}.json"))
        base = statistics.median(r["rps"] for r in results["API key"])
        print(f"\ncode: {args.src}; {args.conns} connections, {args.duration} s x {args.reps} rounds each, alternating; medians\n")
        print("| credential | requests/s | p50 ms | p99 ms | vs key |")
        print("|---|---:|---:|---:|---:|")
        for name, runs in results.items():
            rps = statistics.median(r["rps"] for r in runs)
            print(f"| {name} | {rps:,.0f} | {statistics.median(r['p50_ms'] for r in runs):.2f} | "
                  f"{statistics.median(r['p99_ms'] for r in runs):.2f} | {100 * (rps / base - 1):+.1f}% |")
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(60)


if __name__ == "__main__":
    main()
