"""bench/audit: what durable auditing costs.

1. Durable events/s into SQLite (WAL, synchronous=FULL) through the audit writer process (as
   `aiplane up` runs it) and the gateway's client, every event's future resolved only after its
   batch committed: saturated (all events offered at once) and closed-loop (C clients, each
   waiting for its event before sending the next).
2. The same writer with one transaction (one fsync) per event (AIPLANE_AUDIT_MAX_BATCH=1).
3. Verification speed: the server's `audit verify` over the database, and `audit verify
   --file` over a JSON Lines export, both recomputing every leaf hash, the chain and the tree.
4. Log growth under an anonymous flood: bytes the log grows by per 1,000 requests without a
   valid key (half control-plane calls with a 4,000-character path and no key, half
   predictions with a wrong key), against one `aiplane up`.
5. Serving with audit on vs off: two `aiplane up` processes in turn (pinned to CPU 0, or
   SERVER_CPUS), wrk on CPU 1 posting a 1-row V2 request through the gateway
   (`AIPLANE_AUDIT_RECORD_PREDICTIONS` is the benchmark-only switch that turns auditing off),
   with the CPU time each of the platform's processes spent per request.

Run: make bench-audit   (or .venv/bin/python bench/audit/run.py --help)
On a throwaway PostgreSQL (Debian's packages; parts 1-3):
    scripts/with-postgres.sh sh -c '.venv/bin/python bench/audit/run.py --database-url "$AIPLANE_TEST_POSTGRES_URL" --serving-seconds 0'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE.parent / "serving" / "lua" / "post_body.lua"  # the one wrk body script of bench/
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE.parent))  # bench/aiplane_up.py

from aiplane_up import running_up  # noqa: E402

from aiplane.control import audit_files  # noqa: E402
from aiplane.control.audit import AuditService  # noqa: E402
from aiplane.crypto.envelope import Envelope  # noqa: E402
from aiplane.crypto.signing import Signer  # noqa: E402
from aiplane.domain.audit import AuditEvent  # noqa: E402
from aiplane.domain.clock import SystemClock  # noqa: E402
from aiplane.domain.policy import Principal  # noqa: E402
from aiplane.domain.roles import Role  # noqa: E402
from aiplane.gateway.audit_log import AuditWriter  # noqa: E402
from aiplane.store.audit import Filters  # noqa: E402
from aiplane.store.database import Database  # noqa: E402

CLOCK = SystemClock()
ADMIN = Principal("bench", Role.PLATFORM_ADMIN, None)


def prediction(i: int) -> AuditEvent:
    now = CLOCK.now()
    return AuditEvent(
        audit_id=os.urandom(16).hex(), received_at=now, completed_at=now, actor="3fa85f6457", role="predictor",
        tenant="clinical", source_ip="127.0.0.1", action="predict", resource="deployments/readmission", status=200,
        deployment="readmission", model="readmission-risk", model_version="1", artifact_digest="sha256:" + "ab" * 32,
        request_id=f"req-{i}", latency_ms=1.234, input_hmac="cd" * 32, output_hmac="ef" * 32, decision="label=1")


async def saturated(socket_path: Path, n: int) -> float:
    writer = AuditWriter(socket_path, max_pending=max(n, 100_000))
    await writer.start()
    events = [prediction(i) for i in range(n)]
    start = time.perf_counter()
    await asyncio.gather(*[writer.record(e) for e in events])
    elapsed = time.perf_counter() - start
    await writer.stop()
    return elapsed


async def closed_loop(socket_path: Path, clients: int, per_client: int) -> tuple[float, list[float]]:
    writer = AuditWriter(socket_path)
    await writer.start()
    latencies: list[float] = []

    async def client(k: int) -> None:
        for i in range(per_client):
            event = prediction(k * per_client + i)
            t = time.perf_counter()
            await writer.record(event)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*[client(k) for k in range(clients)])
    elapsed = time.perf_counter() - start
    await writer.stop()
    return elapsed, latencies


@contextlib.contextmanager
def writer_process(folder: Path, db_url: str, max_batch: int) -> Iterator[Path]:
    """The real audit writer process, on its own socket."""
    socket_path = folder / f"writer-{max_batch}.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")}
    env.update(AIPLANE_DATA_DIR=str(folder), AIPLANE_DATABASE_URL=db_url, AIPLANE_AUDIT_MAX_BATCH=str(max_batch))
    proc = subprocess.Popen([sys.executable, "-m", "aiplane", "audit-writer", "--socket", str(socket_path)], env=env)
    try:
        yield socket_path
    finally:
        proc.terminate()
        proc.wait(30)


def fsync_latency(folder: Path) -> None:
    """The disk's own floor: every durable commit waits for at least one fsync like these."""
    fd = os.open(folder / "fsync-probe", os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    for _ in range(200):
        os.write(fd, b"x" * 4096)
        start = time.perf_counter()
        os.fsync(fd)
        times.append(time.perf_counter() - start)
    os.close(fd)
    q = statistics.quantiles(times, n=100)
    print(f"disk: fsync of 4 KiB p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms")


def durable(folder: Path, n: int, fsync_n: int, clients: int, url: str | None) -> AuditService:
    url = url or f"sqlite:///{folder / 'bench.db'}"
    db = Database(url)
    db.migrate()
    with db.read() as conn:
        if db.is_sqlite:
            mode = (conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                    conn.exec_driver_sql("PRAGMA synchronous").scalar())
            print(f"store: SQLite journal_mode={mode[0]} synchronous={mode[1]} (2 = FULL), {folder}")
        else:
            settings = [conn.exec_driver_sql(f"SHOW {name}").scalar() for name in ("fsync", "synchronous_commit")]
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            print(f"store: PostgreSQL {version} fsync={settings[0]} synchronous_commit={settings[1]}")
            if conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar():
                raise SystemExit("the PostgreSQL database already holds audit events; give the benchmark an empty one.")
    with writer_process(folder, url, 4096) as socket_path:
        elapsed = asyncio.run(saturated(socket_path, n))
        print(f"group commit, saturated:        {n:>7} events in {elapsed:6.2f} s = {n / elapsed:>9,.0f} durable events/s")
        per = max(1, n // 2 // clients)
        elapsed, lat = asyncio.run(closed_loop(socket_path, clients, per))
    q = statistics.quantiles(lat, n=100)
    print(f"group commit, {clients} clients:     {clients * per:>7} events in {elapsed:6.2f} s = "
          f"{clients * per / elapsed:>9,.0f} durable events/s (wait p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms)")
    with writer_process(folder, url, 1) as socket_path:
        elapsed = asyncio.run(saturated(socket_path, fsync_n))
    print(f"one fsync per event:            {fsync_n:>7} events in {elapsed:6.2f} s = {fsync_n / elapsed:>9,.0f} durable events/s")
    service = AuditService(db, CLOCK, Signer.load_or_create(folder / "signing.key"), Envelope(b"k" * 32), 2192)
    service.checkpoint()
    return service


def verification(service: AuditService, folder: Path) -> None:
    start = time.perf_counter()
    report = service.verify(ADMIN)
    elapsed = time.perf_counter() - start
    assert report.ok, report
    print(f"verify (database):              {report.entries:>7} events in {elapsed:6.2f} s = "
          f"{report.entries / elapsed:>9,.0f} events/s")
    export = folder / "export.jsonl"
    with export.open("wb") as f:
        for line in service.export_jsonl(ADMIN, Filters()):
            f.write(line)
    public = folder / "signing.pub"
    start = time.perf_counter()
    report, _ = audit_files.verify_export(export, public)
    elapsed = time.perf_counter() - start
    assert report.ok, report
    print(f"verify --file (JSON Lines):     {report.entries:>7} events in {elapsed:6.2f} s = "
          f"{report.entries / elapsed:>9,.0f} events/s ({export.stat().st_size / report.entries:.0f} bytes/event)")


# Log growth under an anonymous flood

def _log_bytes(data_dir: Path) -> tuple[int, int]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(data_dir / "aiplane.db")) as db:
        n, size = db.execute("SELECT count(*), coalesce(sum(length(entry)), 0) FROM audit_log").fetchone()
    return int(n), int(size)


def anonymous_flood(folder: Path, requests: int, port: int) -> None:
    import httpx

    data_dir = folder / "flood"
    window_s = 1.0
    env = {"AIPLANE_AUDIT_UNAUTHENTICATED_WINDOW_S": str(window_s),
           "AIPLANE_GATEWAY_AUTH_FAILURES_PER_MINUTE": "600000", "AIPLANE_GATEWAY_AUTH_FAILURE_BURST": "100000"}
    with running_up(data_dir, port, folder / "up-flood.log", env) as url:
        time.sleep(2 * window_s)
        entries, size = _log_bytes(data_dir)
        long_path = "/api/v1/tenants/" + "x" * 4000 + "/erase-payloads"
        bad_key = {"Authorization": "Bearer aip_0123456789ab_" + "0" * 48}
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(requests // 2):
                client.post(long_path, json={})
                client.post("/v2/models/bc/infer", json={}, headers=bad_key)
        time.sleep(3 * window_s)  # the last window closes and its counts are written
        grown_entries, grown = _log_bytes(data_dir)
    added = grown - size
    print(f"anonymous flood:                {requests:>7} requests added {grown_entries - entries} events, "
          f"{added:,} bytes = {added * 1000 / requests:,.0f} bytes per 1,000 anonymous requests")


# Serving: audit on vs off

def _cli(url: str, token: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPLANE_")} | {"AIPLANE_URL": url, "AIPLANE_TOKEN": token}
    out = subprocess.run([sys.executable, "-m", "aiplane", *args], env=env, capture_output=True, text=True, timeout=300)
    if out.returncode:
        raise SystemExit(f"aiplane {' '.join(args)} failed: {out.stderr}")
    return out.stdout


ROLES = {b"up": "gateway", b"audit-writer": "audit writer", b"serve-model": "replica"}


def cpu_by_role(data_dir: Path) -> dict[str, float]:
    """CPU seconds used so far by this platform's processes (those naming its data directory),
    by role: where the serving cost goes."""
    tick, seconds = os.sysconf("SC_CLK_TCK"), {}
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        role = next((ROLES[arg] for arg in argv if arg in ROLES), None)
        if role is not None and str(data_dir).encode() in b" ".join(argv):
            seconds[role] = seconds.get(role, 0.0) + (int(stat[11]) + int(stat[12])) / tick
    return seconds


def serving(folder: Path, audit_on: bool, seconds: int, conns: int, port: int) -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from aiplane.runtime import sklearn_convert

    data_dir = folder / ("on" if audit_on else "off")
    env = {"AIPLANE_AUDIT_RECORD_PREDICTIONS": "true" if audit_on else "false"}
    log = folder / f"up-{'on' if audit_on else 'off'}.log"
    with running_up(data_dir, port, log, env, cpus=os.environ.get("SERVER_CPUS", "0")) as url:
        import httpx

        admin = (data_dir / "admin.key").read_text().strip()
        x, y = load_breast_cancer(return_X_y=True)
        onnx = folder / "model.onnx"
        if not onnx.exists():
            onnx.write_bytes(sklearn_convert.convert(LogisticRegression(max_iter=5000).fit(x.astype("float32"), y)))
        _cli(url, admin, "tenant", "create", "clinical")
        _cli(url, admin, "model", "register", "clinical/bc", str(onnx))
        _cli(url, admin, "deploy", "create", "clinical/bc", "--model", "bc:1")
        key = json.loads(_cli(url, admin, "key", "create", "--tenant", "clinical", "--role", "predictor", "-o", "json"))
        (folder / "key").write_text(key["secret"] + "\n")
        body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": x[0].astype("float32").tolist()}]}
        (folder / "body.json").write_text(json.dumps(body))
        summary = folder / "wrk.json"
        wrk_env = os.environ | {"WRK_BODY": str(folder / "body.json"), "WRK_JSON": str(summary),
                                "WRK_AUTH_FILE": str(folder / "key")}
        target = f"{url}/v2/models/bc/infer"
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", "-d2s", "-s", str(WRK_SCRIPT), target],
                       env=wrk_env, capture_output=True, check=True)  # warm-up
        before = cpu_by_role(data_dir)
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
                        str(WRK_SCRIPT), target], env=wrk_env, capture_output=True, check=True)
        after = cpu_by_role(data_dir)
        result: dict[str, Any] = json.loads(summary.read_text())
        result["cpu_us"] = {role: (after[role] - before.get(role, 0.0)) / result["requests"] * 1e6 for role in after}
        if audit_on:
            admin_http = httpx.get(url + "/api/v1/audit", params={"action": "predict", "limit": 1, "order": "desc"},
                                   headers={"Authorization": f"Bearer {admin}"}, timeout=30).json()
            result["last_seq"] = admin_http[0]["seq"] if admin_http else None
        return result


def serving_comparison(folder: Path, seconds: int, conns: int, rounds: int) -> None:
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("serving: skipped (needs wrk and taskset: apt-get install wrk)")
        return
    rates: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds):
        for audit_on in (False, True):
            sub = folder / f"serve-{r}-{int(audit_on)}"
            sub.mkdir()
            res = serving(sub, audit_on, seconds, conns, 18500 + r * 2 + int(audit_on))
            rate = res["requests"] / (res["duration_us"] / 1e6)
            errors = sum(res["errors"].values())
            rates[audit_on].append(rate)
            cpu = ", ".join(f"{role} {us:.0f}" for role, us in sorted(res["cpu_us"].items()))
            print(f"serving audit {'on ' if audit_on else 'off'} (round {r + 1}): {rate:>8,.0f} req/s, "
                  f"p50 {res['latency_us']['p50'] / 1000:.1f} ms, p99 {res['latency_us']['p99'] / 1000:.1f} ms, "
                  f"{errors} errors" + (f", audit log size {res['last_seq'] + 1}" if audit_on and res.get("last_seq") is not None else "")
                  + f"; CPU µs a request: {cpu}")
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"serving: audit on {on:,.0f} req/s vs off {off:,.0f} req/s (medians): {100 * (on - off) / off:+.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events for the group-commit runs")
    parser.add_argument("--fsync-events", type=int, default=1_000, help="events for the fsync-per-event run")
    parser.add_argument("--clients", type=int, default=256, help="concurrent clients in the closed-loop run")
    parser.add_argument("--serving-seconds", type=int, default=8, help="wrk duration per serving run (0 skips)")
    parser.add_argument("--serving-rounds", type=int, default=2, help="on/off pairs to run")
    parser.add_argument("--conns", type=int, default=32, help="wrk connections")
    parser.add_argument("--flood-requests", type=int, default=1000, help="anonymous requests for the log-growth "
                        "run (0 skips)")
    parser.add_argument("--serving-only", action="store_true", help="skip the writer, verification and flood runs")
    parser.add_argument("--database-url", help="the store for the writer and verification runs (default: SQLite "
                        "in a temporary folder), e.g. an empty PostgreSQL database; serving always uses SQLite")
    args = parser.parse_args()
    print(f"bench/audit on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="aiplane-bench-audit-") as tmp:
        folder = Path(tmp)
        fsync_latency(folder)
        if not args.serving_only:
            service = durable(folder, args.events, args.fsync_events, args.clients, args.database_url)
            verification(service, folder)
            service.db.dispose()
            if args.flood_requests > 0:
                anonymous_flood(folder, args.flood_requests, 18490)
        if args.serving_seconds > 0:
            serving_comparison(folder, args.serving_seconds, args.conns, args.serving_rounds)


if __name__ == "__main__":
    main()
