#!/usr/bin/env bash
# Installs everything elfe-hub and its tests need on a fresh Debian machine:
# Debian packages (xmllint, postgresql), npm packages, nats-server >= 2.10. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v xmllint >/dev/null 2>&1; then
  echo "setup: installing xmllint (Debian libxml2-utils)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >/dev/null
fi

# PostgreSQL server binaries for the PostgreSQL event-store tests, which start their own
# clusters (tests that need them skip, saying so, when they are missing). Only the binaries are
# needed: Debian's package may also create and start a `main` cluster; the tests never use it.
pg_bin_present() {
  [ -n "${ELFE_PG_BIN:-}" ] && [ -x "$ELFE_PG_BIN/initdb" ] && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
if ! pg_bin_present; then
  echo "setup: installing PostgreSQL (Debian postgresql)"
  { as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } ||
    echo "setup: PostgreSQL unavailable; the PostgreSQL event-store tests will skip"
fi

# Debian's Chromium for the dashboard's browser test (playwright-core drives it; it skips without).
if ! [ -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium (Debian chromium)"
  { as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
    echo "setup: Chromium unavailable; the browser test will skip"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The compiled command line (dist/): `elfe` starts without compiling TypeScript.
echo "setup: compiling the command line (npm run build)"
npm run build --silent

# nats-server >= 2.10 for JetStream (tests that need it skip, saying so, when it is missing).
bash scripts/natsServer.sh || echo "setup: nats-server >= 2.10 unavailable; tests that need it will skip"
