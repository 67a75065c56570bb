#!/usr/bin/env python3
"""Print the serving benchmark as one Markdown table per body, with ratios, and the goals.

Usage: python3 summarize.py SMALL/results.json MLP/results.json   (both written by bench.py)
Ratios compare cells of the same run: "vs best peer" = req/s over the best of MLServer and
KServe in the same cell; "vs ceiling" = req/s over the bare ASGI + ONNX Runtime app.
"""
import json
import sys

PEERS = ("mlserver", "kserve")
CEILING = ("ref-asgi", "onnxruntime, no framework")
GOVERNED = ("aiplane", "governed path")
REPLICA = ("aiplane", "replica alone")


def cells(path):
    res = json.load(open(path))
    rss = {(s["name"], s["config"]): s.get("rss_kb_after") for s in res["servers"]}
    runs = {(r["name"], r["config"], r["rows"], r["conns"]): r for r in res["runs"] if r.get("rps")}
    return res, runs, rss


def table(res, runs, rss, rows):
    order = []
    for s in res["servers"]:
        if (s["name"], s["config"]) not in order:
            order.append((s["name"], s["config"]))
    out = [f"### Body [{rows},30]", "",
           "| server | config | conns | req/s | p50 ms | p99 ms | errors | RSS MB | vs best peer | vs ceiling |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for name, config in order:
        for c in res["meta"]["conns"]:
            r = runs.get((name, config, rows, c))
            if not r:
                out.append(f"| {name} | {config} | {c} | - | - | - | - | - | - | - |")
                continue
            peers = [p["rps"] for (n, cf, rw, cc), p in runs.items() if n in PEERS and rw == rows and cc == c]
            ceiling = runs.get((*CEILING, rows, c))
            best = f"{r['rps'] / max(peers):.2f}x" if peers else "-"
            ceil = f"{100 * r['rps'] / ceiling['rps']:.0f}%" if ceiling else "-"
            mb = rss.get((name, config))
            out.append(f"| {name} | {config} | {c} | {r['rps']:.0f} | {r['p50_us'] / 1000:.2f} | "
                       f"{r['p99_us'] / 1000:.2f} | {r['errors']} | {mb / 1024:.0f} | {best} | {ceil} |"
                       if mb else f"| {name} | {config} | {c} | {r['rps']:.0f} | {r['p50_us'] / 1000:.2f} | "
                       f"{r['p99_us'] / 1000:.2f} | {r['errors']} | - | {best} | {ceil} |")
    return out + [""]


def goals(runs, mlp_runs):
    out = ["### Goals (ratios within this run)", ""]
    g = runs.get((*GOVERNED, 1, 32))
    peers = {(n, cf): r for (n, cf, rw, c), r in runs.items() if n in PEERS and rw == 1 and c == 32}
    if g and peers:
        (bn, bc), best = max(peers.items(), key=lambda kv: kv[1]["rps"])
        ratio = g["rps"] / best["rps"]
        worst_p99 = min(r["p99_us"] for r in peers.values())
        out.append(f"- governed path, 1 row, 32 connections: {g['rps']:.0f} req/s = {ratio:.2f}x the best peer "
                   f"({bn} {bc}: {best['rps']:.0f}) [goal >= 2x: {'met' if ratio >= 2 else 'NOT met'}]; "
                   f"p99 {g['p99_us'] / 1000:.2f} ms vs the lowest peer p99 {worst_p99 / 1000:.2f} ms "
                   f"[goal below every peer: {'met' if g['p99_us'] < worst_p99 else 'NOT met'}]")
    for c in (1, 32, 64):
        rep, ceil = runs.get((*REPLICA, 1, c)), runs.get((*CEILING, 1, c))
        if rep and ceil:
            ratio = rep["rps"] / ceil["rps"]
            out.append(f"- replica alone, 1 row, {c} connections: {rep['rps']:.0f} req/s = {100 * ratio:.0f}% of the "
                       f"ceiling ({ceil['rps']:.0f}) [goal >= 70%: {'met' if ratio >= 0.7 else 'NOT met'}]")
    off = mlp_runs.get(("aiplane", "MLP, batching off", 1, 64))
    on = next((r for (n, cf, rw, c), r in mlp_runs.items() if cf.startswith("MLP, batching on") and c == 64), None)
    if off and on:
        ratio = on["rps"] / off["rps"]
        out.append(f"- MLP 2x1024, 1 row, 64 connections: batching on {on['rps']:.0f} req/s vs off {off['rps']:.0f} "
                   f"= {ratio:.2f}x [goal >= 2x: {'met' if ratio >= 2 else 'NOT met'}]")
    return out + [""]


def main():
    res, runs, rss = cells(sys.argv[1])
    mlp_res, mlp_runs, mlp_rss = cells(sys.argv[2]) if len(sys.argv) > 2 else (None, {}, {})
    m = res["meta"]
    lines = [f"## Serving benchmark, {m['started']}", "",
             f"{m['machine']['cpu']}, {m['machine']['nproc']} CPUs; server pinned to CPU {m['server_cpus']}, "
             f"wrk -t1 to CPU {m['wrk_cpus']}; {m['warmup']} s warm-up + {m['duration']} s per cell.", ""]
    for rows in m["bodies"]:
        lines += table(res, runs, rss, rows)
    if mlp_res:
        lines += ["MLP (2x1024 hidden units), aiplane replica:", ""] + table(mlp_res, mlp_runs, mlp_rss, 1)
    lines += goals(runs, mlp_runs)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
