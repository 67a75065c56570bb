#!/usr/bin/env bash
# Copied from the peer benchmark harness's servers/aiplane_start.sh; AIPLANE_DEPLOY_ARGS added.
# Starts the landed aiplane with this benchmark's model deployed as "bc" in a
# tenant "bench" (the full governed path: key auth, audit, metering on), writes
# a predictor key to $PEERS_ROOT/aiplane.key for wrk, and stays in the
# foreground until it is signalled. Uses the CLI documented in the project's
# contract; AIPLANE_BIN names the `aiplane` executable.
set -euo pipefail
PORT=$1
AIPLANE=${AIPLANE_BIN:-/tmp/aiplane-bars/venv/bin/aiplane}
DATA=$(mktemp -d /tmp/aiplane-bench-XXXX)
KEY="$PEERS_ROOT/aiplane.key"
rm -f "$KEY"
"$AIPLANE" up --host 127.0.0.1 --port "$PORT" --data-dir "$DATA" >"$DATA/up.log" 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$DATA"' EXIT
trap 'exit 0' TERM INT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  kill -0 $UP 2>/dev/null || { cat "$DATA/up.log" >&2; exit 1; }
  sleep 0.2
done
export AIPLANE_URL="http://127.0.0.1:$PORT" AIPLANE_TOKEN="$(cat "$DATA/admin.key")"
"$AIPLANE" tenant create bench --cpus 2 --memory 4Gi >/dev/null
"$AIPLANE" model register bench/bc "$MODEL_DIR/model.onnx" --format onnx >/dev/null
# shellcheck disable=SC2086
"$AIPLANE" deploy create bench/bc --model bc:1 --min-replicas 1 --max-replicas 1 ${AIPLANE_DEPLOY_ARGS:-} >/dev/null
"$AIPLANE" key create --tenant bench --role predictor --output json \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(next(v for k,v in d.items() if k in ("secret","key","token","api_key")))' >"$KEY.tmp"
mv "$KEY.tmp" "$KEY"
wait $UP
