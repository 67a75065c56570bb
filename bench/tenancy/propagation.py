"""How long a change made by another process takes to reach a running gateway.

    .venv/bin/python bench/tenancy/propagation.py [--trials 20] [--poll-s 0.5]

Starts a real `aiplane up` (AIPLANE_STATE_POLL_S=--poll-s) with one tenant and deployment.
Each trial creates a predictor key, predicts with it, revokes it from this process through the
store (as a second `aiplane` process would), and times how long until the gateway answers 401.
Prints min/p50/p90/max. Nothing is asserted: this is a measurement (the tests check that the
change takes effect, not how fast).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/aiplane_up.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "src"))
from aiplane_up import running_up  # noqa: E402
from run import _model  # noqa: E402

from aiplane.control.keys import KeyService  # noqa: E402
from aiplane.domain.clock import SystemClock  # noqa: E402
from aiplane.domain.policy import Principal  # noqa: E402
from aiplane.domain.roles import Role  # noqa: E402
from aiplane.store.database import Database  # noqa: E402

_BENCH = Principal("bench-process", Role.PLATFORM_ADMIN, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--poll-s", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiplane-bench-") as tmp:
        folder = Path(tmp)
        onnx, body = _model(folder)
        data = folder / "data"
        with running_up(data, _free_port(), folder / "up.log", {"AIPLANE_STATE_POLL_S": str(args.poll_s)}) as url:
            admin = {"Authorization": f"Bearer {(data / 'admin.key').read_text().strip()}"}
            with httpx.Client(base_url=url, headers=admin, timeout=120) as http:
                http.post("/api/v1/tenants", json={"name": "bench"}).raise_for_status()
                files = {"file": ("m.onnx", onnx.read_bytes(), "application/octet-stream")}
                http.post("/api/v1/tenants/bench/models/m/versions", files=files).raise_for_status()
                http.post("/api/v1/tenants/bench/deployments", json={"name": "d", "model": "m:1"}).raise_for_status()
                db = Database(f"sqlite:///{(data / 'aiplane.db').resolve()}")
                keys = KeyService(db, SystemClock(), lambda: None)
                took = []
                for _ in range(args.trials):
                    key = http.post("/api/v1/keys", json={"role": "predictor", "tenant": "bench"}).json()
                    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key['secret']}",
                                                             "content-type": "application/json"}, timeout=60) as c:
                        assert c.post("/v2/models/d/infer", content=body).status_code == 200
                        keys.revoke(_BENCH, key["key_id"])
                        start = time.monotonic()
                        while c.post("/v2/models/d/infer", content=body).status_code != 401:
                            time.sleep(0.005)
                        took.append(time.monotonic() - start)
                db.dispose()
    took.sort()
    q = lambda p: took[min(len(took) - 1, int(p * len(took)))] * 1000  # noqa: E731
    print(f"aiplane propagation benchmark: key revoked by another process, AIPLANE_STATE_POLL_S={args.poll_s:g}, "
          f"{args.trials} trials, {os.cpu_count()} CPUs")
    print(f"{'change':<14} {'min':>9} {'p50':>9} {'p90':>9} {'max':>9}")
    print(f"{'key revoked':<14} {took[0] * 1000:>7.0f}ms {q(0.5):>7.0f}ms {q(0.9):>7.0f}ms {took[-1] * 1000:>7.0f}ms")


if __name__ == "__main__":
    main()
