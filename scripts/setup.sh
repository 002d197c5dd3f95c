#!/usr/bin/env bash
# Installs everything elfe-hub and its tests need on a fresh Debian machine:
# Debian packages (xmllint, postgresql, chromium), npm packages, the compiled command line,
# nats-server >= 2.11, and `elfe` on the PATH. Safe to run again (then it takes seconds).
# ELFE_BIN_DIR=DIR puts the `elfe` link there; ELFE_NO_LINK=1 leaves the PATH alone.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

steps=7
started=$SECONDS
step_started=$SECONDS
step() { # step K TEXT: one progress line per step, with the time the previous one took
  local took=$((SECONDS - step_started))
  step_started=$SECONDS
  if [ "$1" -gt 1 ]; then echo "setup:   (${took} s)"; fi
  echo "setup: step $1/$steps: $2"
}
# Measured on a Debian 12 machine (2 cores): npm ci and the build 1 min 36 s; Chromium and
# PostgreSQL download about 140 MB (1 to 3 minutes); nats-server a few seconds. A second run
# finds everything and takes about 15 s (the build).
echo "setup: the first run takes about 5 minutes (Debian packages, npm packages, the build, nats-server); later runs about 15 s"

step 1 "xmllint (Debian libxml2-utils)"
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
step 2 "PostgreSQL server binaries (Debian postgresql; only the tests use them)"
if ! pg_bin_present; then
  echo "setup: installing PostgreSQL (Debian postgresql)"
  { as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } ||
    echo "setup: PostgreSQL unavailable; the PostgreSQL event-store tests will skip"
fi

# Debian's Chromium for the dashboard's browser test (playwright-core drives it; it skips without).
step 3 "Chromium (Debian chromium; only the dashboard's browser test uses it)"
if ! [ -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium (Debian chromium, the longest step)"
  { as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
    echo "setup: Chromium unavailable; the browser test will skip"
fi

step 4 "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci, about a minute)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The compiled command line (dist/): `elfe` starts without compiling TypeScript.
step 5 "compiling the command line (npm run build)"
npm run build --silent

# nats-server >= 2.11 for JetStream, clusters included (tests that need it skip, saying so, when it is missing).
step 6 "nats-server >= 2.11"
bash scripts/natsServer.sh || echo "setup: no nats-server >= 2.10 available; tests that need it will skip"

# `elfe` from any directory, without npx (npx costs about a second per command): a link to
# bin/elfe.js in /usr/local/bin when writable (root), else in ~/.local/bin.
step 7 "elfe on the PATH"
if [ "${ELFE_NO_LINK:-}" = 1 ]; then
  echo "setup: ELFE_NO_LINK=1: not linking; run $PWD/bin/elfe.js or npx elfe"
else
  bin_dir=${ELFE_BIN_DIR:-}
  if [ -z "$bin_dir" ]; then
    if [ -w /usr/local/bin ]; then bin_dir=/usr/local/bin; else bin_dir="$HOME/.local/bin"; fi
  fi
  mkdir -p "$bin_dir"
  if [ -L "$bin_dir/elfe" ] && [ "$(readlink "$bin_dir/elfe")" != "$PWD/bin/elfe.js" ]; then
    echo "setup: $bin_dir/elfe pointed to $(readlink "$bin_dir/elfe"); now to this checkout"
  fi
  if [ -e "$bin_dir/elfe" ] && [ ! -L "$bin_dir/elfe" ]; then
    echo "setup: $bin_dir/elfe exists and is not a link; left alone (run $PWD/bin/elfe.js)"
  else
    ln -sfn "$PWD/bin/elfe.js" "$bin_dir/elfe"
    echo "setup: elfe -> $PWD/bin/elfe.js in $bin_dir"
    case ":$PATH:" in
      *":$bin_dir:"*) ;;
      *) echo "setup: $bin_dir is not on your PATH: export PATH=\"$bin_dir:\$PATH\"" ;;
    esac
  fi
fi
took=$((SECONDS - step_started))
echo "setup:   (${took} s)"
echo "setup: done in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s; try: elfe demo --births 100"

