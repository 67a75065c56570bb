#!/usr/bin/env bash
# Copied from the peer benchmark harness's setup.sh, minus BentoML.
# Creates one virtual environment per peer under $PEERS_ROOT (default /tmp/peers).
# Idempotent: a venv whose install finished is marked with .installed and skipped.
# Usage: ./setup.sh [venv-name ...]   (default: all)   e.g. ./setup.sh mlserver kserve
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_ROOT="${PEERS_ROOT:-/tmp/peers}"
mkdir -p "$PEERS_ROOT"

# name -> pip requirement list. Everything that loads model.joblib pins the same
# scikit-learn so the pickle is read by the version that wrote it.
SKLEARN="scikit-learn==${SKLEARN_VERSION:-1.9.1}"
declare -A REQS=(
  [model]="$SKLEARN joblib numpy skl2onnx onnx onnxruntime"
  # mlserver 1.7.1 workers call asyncio.get_event_loop() before a loop exists, which
  # uvloop>=0.22 rejects (RuntimeError), so the inference worker dies: pin uvloop<0.22.
  [mlserver]="mlserver mlserver-sklearn $SKLEARN uvloop<0.22"
  [kserve]="kserve $SKLEARN joblib"
  [ref]="uvicorn[standard] numpy onnxruntime"
)
ORDER=(model mlserver kserve ref)

names=("$@"); [ ${#names[@]} -eq 0 ] && names=("${ORDER[@]}")
for n in "${names[@]}"; do
  v="$PEERS_ROOT/$n"
  # .installed holds the requirement list it was made from; a changed list reinstalls.
  if [ -f "$v/.installed" ] && [ "$(cat "$v/.installed")" = "${REQS[$n]}" ]; then
    echo "[setup] $n: already installed"; continue
  fi
  echo "[setup] $n: creating $v"
  [ -x "$v/bin/python" ] || python3 -m venv "$v"
  "$v/bin/python" -m pip install -q --upgrade pip wheel >/dev/null
  # shellcheck disable=SC2086
  if timeout "${SETUP_TIMEOUT:-900}" "$v/bin/python" -m pip install -q ${REQS[$n]}; then
    "$v/bin/python" -m pip freeze > "$v/freeze.txt"
    echo "${REQS[$n]}" > "$v/.installed"
    echo "[setup] $n: ok"
  else
    echo "[setup] $n: FAILED (see pip output above); peers using it will be skipped" >&2
  fi
done

# Build the model once (model.joblib, model.onnx, request bodies, wrk Lua scripts).
if [ -f "$PEERS_ROOT/model/.installed" ] && [ ! -f "$PEERS_ROOT/artifacts/model.onnx" ]; then
  "$PEERS_ROOT/model/bin/python" "$HERE/build_model.py" "$PEERS_ROOT/artifacts"
fi
