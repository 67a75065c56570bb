#!/usr/bin/env bash
# System packages the tests need beyond PostgreSQL (scripts/with-postgres.sh installs that one):
# faketime, whose library lets the retention test run the platform 400 days later. Installs only
# what is missing, so a machine that has them pays nothing.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ]; then
  echo "Installing faketime from Debian's packages..." >&2
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
fi
