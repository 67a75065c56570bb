#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL (Debian's packages) on a free loopback port.
# Installs the server when missing; exports AIPLANE_TEST_POSTGRES_URL; stops and removes it
# afterwards, whatever the command's outcome.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

PGBIN=$(pg_bin)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "Installing PostgreSQL from Debian's packages..." >&2
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(pg_bin)
fi

DIR=$(mktemp -d /tmp/aiplane-pg-XXXXXX)
if [ "$(id -u)" = 0 ]; then
  chown postgres "$DIR"
  pg() { runuser -u postgres -- "$@"; }
else
  pg() { "$@"; }
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  pg "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

pg "$PGBIN/initdb" -D "$DIR/data" -A trust -U aiplane >/dev/null
pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U aiplane aiplane_test

export AIPLANE_TEST_POSTGRES_URL="postgresql+psycopg://aiplane@127.0.0.1:$PORT/aiplane_test"
"$@"
