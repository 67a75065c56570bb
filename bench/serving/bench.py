#!/usr/bin/env python3
"""(Copied from the peer benchmark harness's bench.py; changed: BENCH_ARTIFACTS chooses the model folder.)

Side-by-side HTTP load benchmark of model servers (stdlib only; run by run.sh).

For every repetition, for every entry of peers.conf (and any --peers-file): start the
server pinned to SERVER_CPUS, wait until its infer URL answers, check its answer, then for
each request body and connection count run wrk (pinned to WRK_CPUS) for a warm-up and a
measured window, record RSS of the server's process tree, and stop the server (SIGTERM to
the PIDs it started, SIGKILL after a grace period). Writes results.json and results.md.

  python3 bench.py [--reps 2] [--duration 10] [--warmup 3] [--conns 1,32,64]
                   [--bodies 1,32] [--only NAME[,NAME]] [--peers-file F] [--out DIR]
  python3 bench.py --report DIR/results.json      # re-render results.md only
"""
import argparse
import datetime as dt
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_ROOT = os.environ.get("PEERS_ROOT", "/tmp/peers")
ART = os.environ.get("BENCH_ARTIFACTS") or os.path.join(PEERS_ROOT, "artifacts")
CLK_TCK = os.sysconf("SC_CLK_TCK")
KEY_PACKAGES = ["mlserver", "mlserver-sklearn", "kserve", "bentoml", "uvicorn", "uvloop",
                "httptools", "fastapi", "starlette", "pydantic", "orjson", "numpy",
                "scikit-learn", "onnxruntime", "skl2onnx", "onnx", "joblib", "grpcio"]


# ---------------------------------------------------------------- peers file
def read_peers(paths):
    entries = []
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = [p.strip() for p in line.split("|", 5)]
                if len(parts) != 6:
                    sys.exit(f"{path}: bad line (need 6 '|'-separated fields): {line}")
                name, config, venv, check, url_path, command = parts
                entries.append(dict(name=name, config=config, venv=venv, check=check,
                                    url_path=url_path, command=command))
    return entries


# ---------------------------------------------------------------- processes
def _stat(pid):
    """(ppid, starttime, utime+stime ticks) of pid, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[19]), int(rest[11]) + int(rest[12])


def _alive(pid, start):
    """pid still runs the process that had this start time (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return False
    rest = s[s.rindex(")") + 2:].split()
    return rest[0] != "Z" and int(rest[19]) == start


def tree(root):
    """{pid: starttime} for root and all its live descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                children.setdefault(st[0], []).append((int(d), st[1]))
    rst = _stat(root)
    if not rst:
        return {}
    out, todo = {root: rst[1]}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            if pid not in out:
                out[pid] = start
                todo.append(pid)
    return out


def cpu_ticks(pids):
    total = 0
    for pid, start in pids.items():
        st = _stat(pid)
        if st and st[1] == start:
            total += st[2]
    return total


def rss_kb(pids):
    """RSS of the given PIDs in KiB, via `ps -o rss=` (sum, per-pid list)."""
    if not pids:
        return 0, []
    r = subprocess.run(["ps", "-o", "pid=,rss=,comm=", "-p", ",".join(map(str, pids))],
                       capture_output=True, text=True)
    rows = []
    for line in r.stdout.splitlines():
        p = line.split(None, 2)
        if len(p) >= 2:
            rows.append({"pid": int(p[0]), "rss_kb": int(p[1]), "comm": p[2] if len(p) > 2 else ""})
    return sum(x["rss_kb"] for x in rows), rows


def stop(proc, grace=20):
    """SIGTERM the server we started and, after `grace` s, SIGKILL whatever of its
    process tree (snapshotted before the signal, matched by PID + start time) is left."""
    pids = tree(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline:
        alive = [p for p, s in pids.items() if p != proc.pid and _alive(p, s)]
        if proc.poll() is not None and not alive:
            return
        time.sleep(0.2)
    for pid, start in pids.items():
        if _alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def port_free(port):
    """Nothing listens on 127.0.0.1:port (TIME_WAIT leftovers are fine, as for any server
    that sets SO_REUSEADDR, which uvicorn and grpc do)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# ---------------------------------------------------------------- http
def auth_headers():
    """A bearer key for servers that require one: the first line of the file
    named by $BENCH_AUTH_FILE, read at each call (the server may write it late)."""
    path = os.environ.get("BENCH_AUTH_FILE")
    if path and os.path.exists(path):
        with open(path) as f:
            return {"Authorization": "Bearer " + f.readline().strip()}
    return {}


def post(url, body, timeout=5):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **auth_headers()})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return None, b""


def wait_ready(url, proc, timeout):
    body = open(os.path.join(ART, "body_1.json"), "rb").read()
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            return None, f"exited with code {proc.returncode}"
        status, _ = post(url, body, timeout=2)
        if status == 200:
            return time.time() - t0, None
        time.sleep(0.5)
    return None, f"not answering 200 after {timeout}s"


def check_answer(url, check):
    body = open(os.path.join(ART, "body_32.json"), "rb").read()
    status, resp = post(url, body, timeout=10)
    if status != 200:
        return f"HTTP {status} for the 32-row body: {resp[:300]!r}"
    if check == "none":
        return None
    expected = json.load(open(os.path.join(ART, "expected.json")))["32"]
    try:
        data = json.loads(resp)["outputs"][0]["data"]
        flat = []
        for v in data:
            flat.extend(v if isinstance(v, list) else [v])
        got = [int(v) for v in flat]
    except Exception as e:  # noqa: BLE001
        return f"cannot read outputs[0].data ({e!r}): {resp[:300]!r}"
    if got != expected:
        return f"wrong labels: {got} != {expected}"
    return None


# ---------------------------------------------------------------- wrk
def run_wrk(url, rows, conns, duration, json_out, txt_out, wrk_cpus):
    env = dict(os.environ, WRK_BODY=os.path.join(ART, f"body_{rows}.json"))
    if os.environ.get("BENCH_AUTH_FILE"):
        env["WRK_AUTH_FILE"] = os.environ["BENCH_AUTH_FILE"]
    if json_out:
        env["WRK_JSON"] = json_out
    else:
        env.pop("WRK_JSON", None)
    cmd = ["timeout", "-k", "5", str(duration + 30)]
    if wrk_cpus:
        cmd += ["taskset", "-c", wrk_cpus]
    cmd += ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s", "--latency",
            "-s", os.path.join(HERE, "lua", "post_body.lua"), url]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if txt_out:
        with open(txt_out, "w") as f:
            f.write(" ".join(cmd) + "\n" + r.stdout + r.stderr)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return r.returncode, cpu


# ---------------------------------------------------------------- metadata
def versions():
    out = {}
    for d in sorted(os.listdir(PEERS_ROOT)):
        fz = os.path.join(PEERS_ROOT, d, "freeze.txt")
        if os.path.isfile(fz):
            pk = {}
            for line in open(fz):
                if "==" in line:
                    n, v = line.strip().split("==", 1)
                    pk[n.lower()] = v
            out[d] = pk
    return out


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrkv = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {"cpu": cpu, "nproc": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(),
            "wrk": (wrkv.stdout + wrkv.stderr).splitlines()[0] if (wrkv.stdout + wrkv.stderr) else "?"}


# ---------------------------------------------------------------- report
def fmt_ms(us):
    return "-" if us is None else f"{us / 1000:.2f}"


def render(res):
    meta, runs, servers = res["meta"], res["runs"], res["servers"]
    reps = sorted({r["rep"] for r in runs} | {s["rep"] for s in servers})
    keyed = {(r["name"], r["config"], r["rows"], r["conns"], r["rep"]): r for r in runs}
    srv = {(s["name"], s["config"], s["rep"]): s for s in servers}
    order = []
    for s in servers:
        k = (s["name"], s["config"])
        if k not in order:
            order.append(k)
    L = [f"# Model-server HTTP benchmark ({meta['started']})", "",
         f"Machine: {meta['machine']['cpu']}, {meta['machine']['nproc']} CPUs, kernel "
         f"{meta['machine']['kernel']}, Python {meta['machine']['python']}, {meta['machine']['wrk']}.",
         f"Load: wrk -t1, {meta['warmup']} s warm-up + {meta['duration']} s measured per cell, "
         f"--timeout 5s; server pinned to CPU {meta['server_cpus'] or 'any'}, wrk to CPU "
         f"{meta['wrk_cpus'] or 'any'}. Latencies in ms. Repetitions: {len(reps)}. "
         f"RSS = sum of `ps -o rss` over the server's process tree after its last load run.", ""]
    ref_key = ("ref-asgi", "onnxruntime, no framework")
    for rows in meta["bodies"]:
        L += [f"## Body [{rows},30]", ""]
        hdr = ["server", "config", "conns"]
        for rp in reps:
            hdr += [f"req/s r{rp}", f"p50 r{rp}", f"p99 r{rp}"]
        hdr += ["errors", "RSS MB", "req/s vs ref-onnx"]
        L += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
        for name, config in order:
            for c in meta["conns"]:
                cells = [name, config, str(c)]
                errs, rss, rps_all, ref_all = [], [], [], []
                for rp in reps:
                    r = keyed.get((name, config, rows, c, rp))
                    s = srv.get((name, config, rp))
                    if r and r.get("rps") is not None:
                        cells += [f"{r['rps']:.0f}", fmt_ms(r["p50_us"]), fmt_ms(r["p99_us"])]
                        errs.append(str(r["errors"]))
                        rps_all.append(r["rps"])
                    else:
                        cells += ["-", "-", "-"]
                        errs.append("-")
                    rss.append(f"{s['rss_kb_after'] / 1024:.0f}" if s and s.get("rss_kb_after") else "-")
                    rr = keyed.get((*ref_key, rows, c, rp))
                    if rr and rr.get("rps"):
                        ref_all.append(rr["rps"])
                rel = (f"{100 * (sum(rps_all) / len(rps_all)) / (sum(ref_all) / len(ref_all)):.0f}%"
                       if rps_all and ref_all else "-")
                cells += ["/".join(errs), "/".join(rss), rel]
                L.append("| " + " | ".join(cells) + " |")
        L.append("")
    L += ["## Servers", "",
          "| server | config | rep | status | ready after s | procs | RSS MB idle | RSS MB after load |",
          "|---|---|---|---|---|---|---|---|"]
    for s in servers:
        L.append(f"| {s['name']} | {s['config']} | {s['rep']} | {s.get('status', '?')} | "
                 f"{s.get('ready_s') or '-'} | {s.get('procs', '-')} | "
                 f"{(s.get('rss_kb_idle') or 0) / 1024:.0f} | {(s.get('rss_kb_after') or 0) / 1024:.0f} |")
    L += ["", "CPU during the measured windows: server process tree (share of one core), server CPU "
          "time per request, and wrk's own CPU (wrk below ~90% means the client was not the limit):", "",
          "| server | config | rows | conns | rep | server CPU | server CPU µs/req | wrk CPU |",
          "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if r.get("server_cpu") is not None:
            per = f"{1e6 * r['server_cpu'] / r['rps']:.0f}" if r.get("rps") else "-"
            L.append(f"| {r['name']} | {r['config']} | {r['rows']} | {r['conns']} | {r['rep']} | "
                     f"{100 * r['server_cpu']:.0f}% | {per} | {100 * r['wrk_cpu']:.0f}% |")
    L += ["", "## Versions", ""]
    names = set()
    for pk in meta["versions"].values():
        names |= set(pk)
    venvs = sorted(meta["versions"])
    L += ["| package | " + " | ".join(venvs) + " |", "|---|" + "---|" * len(venvs)]
    for n in KEY_PACKAGES:
        if n in names:
            L.append(f"| {n} | " + " | ".join(meta["versions"][v].get(n, "") for v in venvs) + " |")
    L += ["", "Full `pip freeze` of every venv: results.json → meta.versions.", ""]
    return "\n".join(L)


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=int(os.environ.get("REPS", 2)))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", 10)))
    ap.add_argument("--warmup", type=int, default=int(os.environ.get("WARMUP", 3)))
    ap.add_argument("--conns", default=os.environ.get("CONNS", "1,32,64"))
    ap.add_argument("--bodies", default=os.environ.get("BODIES", "1,32"))
    ap.add_argument("--only", default=os.environ.get("ONLY", ""),
                    help="comma list of names or name:config prefixes to run")
    ap.add_argument("--peers-file", action="append", default=[])
    ap.add_argument("--no-default-peers", action="store_true")
    ap.add_argument("--server-cpus", default=os.environ.get("SERVER_CPUS", "0"))
    ap.add_argument("--wrk-cpus", default=os.environ.get("WRK_CPUS", "1"))
    ap.add_argument("--base-port", type=int, default=int(os.environ.get("BASE_PORT", 18000)))
    ap.add_argument("--start-timeout", type=int, default=int(os.environ.get("START_TIMEOUT", 180)))
    ap.add_argument("--out", default=os.environ.get("OUT", ""))
    ap.add_argument("--report", help="re-render results.md from this results.json and exit")
    a = ap.parse_args()

    if a.report:
        res = json.load(open(a.report))
        md = os.path.join(os.path.dirname(os.path.abspath(a.report)), "results.md")
        open(md, "w").write(render(res))
        print(md)
        return

    if not os.path.isfile(os.path.join(ART, "expected.json")):
        sys.exit(f"no artifacts in {ART}: run ./setup.sh first")
    files = ([] if a.no_default_peers else [os.path.join(HERE, "peers.conf")]) + a.peers_file
    entries = read_peers(files)
    if a.only:
        sel = [s.strip() for s in a.only.split(",") if s.strip()]
        entries = [e for e in entries
                   if any(e["name"] == s or f"{e['name']}:{e['config']}".startswith(s) for s in sel)]
    conns = [int(x) for x in a.conns.split(",")]
    bodies = [int(x) for x in a.bodies.split(",")]
    out = a.out or os.path.join(PEERS_ROOT, "results", dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    logs = os.path.join(out, "logs")
    os.makedirs(logs, exist_ok=True)

    meta = dict(started=dt.datetime.now().isoformat(timespec="seconds"), reps=a.reps,
                duration=a.duration, warmup=a.warmup, conns=conns, bodies=bodies,
                server_cpus=a.server_cpus, wrk_cpus=a.wrk_cpus, machine=machine(),
                versions=versions(), entries=entries)
    res = {"meta": meta, "runs": [], "servers": []}

    def save():
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
        with open(os.path.join(out, "results.md"), "w") as f:
            f.write(render(res))

    base_env = dict(os.environ, PEERS_ROOT=PEERS_ROOT, MODEL_DIR=ART, MODEL_NAME="bc", HERE=HERE,
                    OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                    BENTOML_HOME=os.path.join(PEERS_ROOT, "work", "bentoml_home"),
                    BENTOML_DO_NOT_TRACK="True", PYTHONUNBUFFERED="1")
    os.makedirs(base_env["BENTOML_HOME"], exist_ok=True)
    per_cell = a.warmup + a.duration
    est = a.reps * len(entries) * (len(conns) * len(bodies) * (per_cell + 1) + 10)
    print(f"[bench] {len(entries)} entries x {a.reps} reps, about {est // 60} min; results in {out}",
          flush=True)

    for rep in range(1, a.reps + 1):
        for i, e in enumerate(entries):
            port = a.base_port + 10 * i
            tag = f"r{rep}-{i:02d}-{e['name']}"
            s = dict(name=e["name"], config=e["config"], rep=rep, port=port)
            res["servers"].append(s)
            if e["venv"] != "-" and not os.path.isfile(os.path.join(PEERS_ROOT, e["venv"], ".installed")):
                s["status"] = f"skipped: venv {e['venv']} not installed"
                print(f"[bench] {tag}: {s['status']}", flush=True)
                save()
                continue
            if not all(port_free(port + k) for k in range(3)):
                s["status"] = f"skipped: port {port}..{port + 2} busy"
                print(f"[bench] {tag}: {s['status']}", flush=True)
                save()
                continue
            url = f"http://127.0.0.1:{port}{e['url_path']}"
            env = dict(base_env, PORT=str(port))
            cmd = (["taskset", "-c", a.server_cpus] if a.server_cpus else []) + \
                  ["bash", "-c", "exec " + e["command"]]
            log = open(os.path.join(logs, f"{tag}.server.log"), "w")
            proc = subprocess.Popen(cmd, cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                ready, err = wait_ready(url, proc, a.start_timeout)
                if err is None:
                    err = check_answer(url, e["check"])
                if err:
                    s["status"] = f"failed: {err}"
                    print(f"[bench] {tag}: {s['status']}", flush=True)
                    continue
                s["ready_s"] = round(ready, 1)
                time.sleep(1)
                pids = tree(proc.pid)
                s["procs"] = len(pids)
                s["rss_kb_idle"], _ = rss_kb(pids)
                print(f"[bench] {tag} [{e['config']}] ready in {ready:.1f}s, {len(pids)} procs, "
                      f"{s['rss_kb_idle'] // 1024} MB", flush=True)
                for rows in bodies:
                    for c in conns:
                        run_wrk(url, rows, c, a.warmup, None, None, a.wrk_cpus)
                        jf = os.path.join(logs, f"{tag}-b{rows}-c{c}.json")
                        tf = os.path.join(logs, f"{tag}-b{rows}-c{c}.wrk.txt")
                        if os.path.exists(jf):
                            os.remove(jf)
                        pids = tree(proc.pid)
                        t0, c0 = time.time(), cpu_ticks(pids)
                        rc, wrk_cpu = run_wrk(url, rows, c, a.duration, jf, tf, a.wrk_cpus)
                        wall = time.time() - t0
                        srv_cpu = (cpu_ticks(pids) - c0) / CLK_TCK / wall
                        r = dict(name=e["name"], config=e["config"], rep=rep, rows=rows, conns=c,
                                 wrk_rc=rc, server_cpu=round(srv_cpu, 3), wrk_cpu=round(wrk_cpu / wall, 3))
                        if os.path.exists(jf):
                            w = json.load(open(jf))
                            er = w["errors"]
                            r.update(requests=w["requests"],
                                     rps=w["requests"] / (w["duration_us"] / 1e6),
                                     p50_us=w["latency_us"]["p50"], p99_us=w["latency_us"]["p99"],
                                     p90_us=w["latency_us"]["p90"], mean_us=w["latency_us"]["mean"],
                                     max_us=w["latency_us"]["max"], errors=sum(er.values()),
                                     errors_detail=er)
                        else:
                            r.update(rps=None, errors=None)
                        res["runs"].append(r)
                        rps = f"{r['rps']:.0f}" if r.get("rps") is not None else "?"
                        print(f"[bench]   rows={rows:<2} c={c:<2} {rps:>6} req/s  p50 {fmt_ms(r.get('p50_us'))} "
                              f"p99 {fmt_ms(r.get('p99_us'))} ms  err {r['errors']}  "
                              f"srv cpu {100 * srv_cpu:.0f}%", flush=True)
                        save()
                pids = tree(proc.pid)
                s["procs"] = len(pids)
                s["rss_kb_after"], s["rss_detail"] = rss_kb(pids)
                s["status"] = "ok" if proc.poll() is None else f"exited {proc.returncode} during load"
            finally:
                stop(proc)
                log.close()
                save()
                time.sleep(1)
    save()
    print(f"[bench] wrote {out}/results.md and results.json", flush=True)


if __name__ == "__main__":
    main()
