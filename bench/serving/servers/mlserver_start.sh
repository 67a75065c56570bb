#!/usr/bin/env bash
# Copied from the peer benchmark harness (the peer harness).
# Start Seldon MLServer (mlserver-sklearn runtime) on model.joblib.
# Usage: mlserver_start.sh CONFIG PORT [PARALLEL_WORKERS]
#   CONFIG: name of a model-settings template in ../mlserver/ (default, batching)
#   PORT:   HTTP port; gRPC uses PORT+1 and metrics PORT+2 (all on 127.0.0.1)
#   PARALLEL_WORKERS: MLServer's parallel_workers (default 1 = MLServer's default:
#                     one separate inference worker process; 0 = infer in-process)
# Needs: PEERS_ROOT (default /tmp/peers) with venv mlserver/ and artifacts/model.joblib.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_ROOT="${PEERS_ROOT:-/tmp/peers}"
CONFIG="$1"; PORT="$2"; PW="${3:-1}"
REPO="$PEERS_ROOT/work/mlserver-$CONFIG-pw$PW"
rm -rf "$REPO"; mkdir -p "$REPO/bc"
cp "$HERE/mlserver/$CONFIG.json" "$REPO/bc/model-settings.json"
cp "$PEERS_ROOT/artifacts/model.joblib" "$REPO/bc/model.joblib"
cd "$REPO"   # MLServer keeps .metrics/ and .envs/ in its working directory
export MLSERVER_HOST=127.0.0.1 MLSERVER_HTTP_PORT="$PORT" MLSERVER_GRPC_PORT=$((PORT + 1)) \
       MLSERVER_METRICS_PORT=$((PORT + 2)) MLSERVER_PARALLEL_WORKERS="$PW" \
       MLSERVER_DEBUG="${MLSERVER_DEBUG:-false}"   # debug=true (MLServer's default) logs every request
exec "$PEERS_ROOT/mlserver/bin/mlserver" start "$REPO"
