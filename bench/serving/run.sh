#!/usr/bin/env bash
# One command: install wrk (Debian) and the peers (own venvs under $PEERS_ROOT, never the
# project's), build both models, load every server in one run, print the table with ratios.
#   bench/serving/run.sh            # from the repository root (or `make bench-serving`)
# Environment: PEERS_ROOT (/tmp/peers), DURATION (8), WARMUP (2), REPS (1), OUT.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export PEERS_ROOT="${PEERS_ROOT:-/tmp/peers}"
export AIPLANE_BIN="${AIPLANE_BIN:-$ROOT/.venv/bin/aiplane}"
export BENCH_AUTH_FILE="$PEERS_ROOT/aiplane.key"
[ -x "$AIPLANE_BIN" ] || { echo "no $AIPLANE_BIN: run 'make .venv/.installed' first" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v taskset >/dev/null || apt-get install -y -qq util-linux >/dev/null
"$HERE/setup.sh"
[ -f "$PEERS_ROOT/artifacts-mlp/model.onnx" ] || "$PEERS_ROOT/model/bin/python" "$HERE/build_mlp.py" "$PEERS_ROOT/artifacts-mlp"
OUT="${OUT:-$PEERS_ROOT/results/serving-$(date +%Y%m%d-%H%M%S)}"
ARGS=(--reps "${REPS:-1}" --duration "${DURATION:-8}" --warmup "${WARMUP:-2}" --no-default-peers)
python3 "$HERE/bench.py" "${ARGS[@]}" --peers-file "$HERE/peers.conf" --out "$OUT/small" --bodies 1,32
BENCH_ARTIFACTS="$PEERS_ROOT/artifacts-mlp" \
  python3 "$HERE/bench.py" "${ARGS[@]}" --peers-file "$HERE/mlp.conf" --out "$OUT/mlp" --bodies 1 --base-port 18200
python3 "$HERE/summarize.py" "$OUT/small/results.json" "$OUT/mlp/results.json" | tee "$OUT/summary.md"
