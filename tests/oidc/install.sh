#!/bin/sh
# Installs the test OpenID Provider (npm oidc-provider, pinned in package.json and package-lock.json)
# into tests/oidc/node_modules once; `make test` runs it. Needs Node.js 20+ and npm.
set -e
cd "$(dirname "$0")"
if [ -f node_modules/.installed ] && [ node_modules/.installed -nt package-lock.json ]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
touch node_modules/.installed
