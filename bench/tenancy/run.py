"""Noisy neighbour benchmark: one tenant bursts above its rate limit; the others are measured.

    .venv/bin/python bench/tenancy/run.py [--seconds 10] [--limit 50] [--burst-rps 500] [--measure-rps 20]

Starts a real `aiplane up` in a temporary directory with two tenants: `noisy` (rate limit
--limit requests/s) with deployments `burst` and `steady`, and `quiet` (no limit) with
`steady`. Phase 1 measures noisy/steady and quiet/steady alone (each --measure-rps, paced,
one keep-alive connection). Phase 2 measures them again while noisy/burst is offered
--burst-rps over 8 connections. Prints p50/p99 of each measured stream in both phases, their
ratio, and the burst's 200/429 counts. Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/aiplane_up.py
from aiplane_up import running_up  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _model(folder: Path) -> tuple[Path, bytes]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from aiplane.runtime import sklearn_convert

    x, y = load_breast_cancer(return_X_y=True)
    x = x.astype(np.float32)
    onnx = folder / "model.onnx"
    onnx.write_bytes(sklearn_convert.convert(LogisticRegression(max_iter=5000).fit(x, y)))
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": x[0].tolist()}]}
    return onnx, json.dumps(body).encode()


class Conn:
    """One keep-alive HTTP/1.1 connection; one request at a time (raw, so the client stays cheap)."""

    def __init__(self, port: int, path: str, token: str, body: bytes) -> None:
        self.port = port
        self.request = (f"POST {path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {token}\r\n"
                        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def paced(conn: Conn, rps: float, seconds: float, latencies: list[float], statuses: dict[int, int]) -> None:
    """Send at `rps` (a slot every 1/rps s; a late answer delays the next, as a real client would)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while loop.time() - start < seconds:
        t0 = time.perf_counter()
        status = await conn.send()
        latencies.append(time.perf_counter() - t0)
        statuses[status] = statuses.get(status, 0) + 1
        n += 1
        await asyncio.sleep(max(0.0, start + n / rps - loop.time()))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


async def phase(port: int, body: bytes, keys: dict[str, str], args: argparse.Namespace,
                burst: bool) -> dict[str, tuple[list[float], dict[int, int]]]:
    streams = {"noisy/steady": ("/v2/models/steady/infer", keys["noisy"]),
               "quiet/steady": ("/v2/models/steady/infer", keys["quiet"])}
    results: dict[str, tuple[list[float], dict[int, int]]] = {}
    tasks = []
    conns = []
    for name, (path, token) in streams.items():
        conn = Conn(port, path, token, body)
        conns.append(conn)
        results[name] = ([], {})
        tasks.append(paced(conn, args.measure_rps, args.seconds, *results[name]))
    if burst:
        results["noisy/burst"] = ([], {})
        for _ in range(8):
            conn = Conn(port, "/v2/models/burst/infer", keys["noisy"], body)
            conns.append(conn)
            tasks.append(paced(conn, args.burst_rps / 8, args.seconds, *results["noisy/burst"]))
    await asyncio.gather(*tasks)
    for conn in conns:
        conn.close()
    return results


def setup(url: str, admin: str, onnx: Path, limit: float) -> dict[str, str]:
    keys = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=120) as http:
        for tenant, deployments, quota in (("noisy", ("burst", "steady"), {"rate_limit": limit}),
                                           ("quiet", ("steady",), {})):
            http.post("/api/v1/tenants", json={"name": tenant, **quota}).raise_for_status()
            files = {"file": ("m.onnx", onnx.read_bytes(), "application/octet-stream")}
            http.post(f"/api/v1/tenants/{tenant}/models/m/versions", files=files).raise_for_status()
            for name in deployments:
                http.post(f"/api/v1/tenants/{tenant}/deployments", json={"name": name, "model": "m:1"}).raise_for_status()
            keys[tenant] = http.post("/api/v1/keys", json={"role": "predictor", "tenant": tenant}).json()["secret"]
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--limit", type=float, default=50.0, help="the noisy tenant's rate limit (requests/s)")
    parser.add_argument("--burst-rps", type=float, default=500.0, help="offered load on noisy/burst")
    parser.add_argument("--measure-rps", type=float, default=20.0, help="paced load of each measured stream")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiplane-bench-") as tmp:
        folder = Path(tmp)
        onnx, body = _model(folder)
        port = _free_port()
        with running_up(folder / "data", port, folder / "up.log") as url:
            keys = setup(url, (folder / "data" / "admin.key").read_text().strip(), onnx, args.limit)
            asyncio.run(phase(port, body, keys, argparse.Namespace(**{**vars(args), "seconds": 2.0}), False))  # warm
            quiet = asyncio.run(phase(port, body, keys, args, burst=False))
            loud = asyncio.run(phase(port, body, keys, args, burst=True))
    print(f"aiplane tenancy benchmark: noisy tenant limit {args.limit:g} req/s per deployment, burst offered "
          f"{args.burst_rps:g} req/s on noisy/burst, measured streams paced at {args.measure_rps:g} req/s, "
          f"{args.seconds:g} s per phase, {os.cpu_count()} CPUs")
    print(f"{'stream':<14} {'p50 alone':>10} {'p99 alone':>10} {'p50 burst':>10} {'p99 burst':>10} "
          f"{'p99 ratio':>10} {'statuses during burst'}")
    for name in ("noisy/steady", "quiet/steady"):
        (alone, _), (during, statuses) = quiet[name], loud[name]
        print(f"{name:<14} {pct(alone, 50):>9.2f}ms {pct(alone, 99):>9.2f}ms {pct(during, 50):>9.2f}ms "
              f"{pct(during, 99):>9.2f}ms {pct(during, 99) / pct(alone, 99):>10.2f} {statuses}")
    burst_lat, burst_statuses = loud["noisy/burst"]
    sent = sum(burst_statuses.values())
    print(f"noisy/burst: sent {sent} ({sent / args.seconds:.0f} req/s achieved), 200: {burst_statuses.get(200, 0)} "
          f"({burst_statuses.get(200, 0) / args.seconds:.1f} req/s), 429: {burst_statuses.get(429, 0)}, "
          f"other: {sum(v for k, v in burst_statuses.items() if k not in (200, 429))}, "
          f"p50 {pct(burst_lat, 50):.2f}ms p99 {pct(burst_lat, 99):.2f}ms")


if __name__ == "__main__":
    main()
