#!/usr/bin/env bash
# Finds or obtains nats-server >= 2.11. 2.10 runs a single node (JetStream with sync_interval
# and filter_subjects), but in a cluster it can lose a message: a publish whose leader dies is
# retried with the same Nats-Msg-Id and answered as a duplicate although nothing was stored
# (fixed in 2.11, nats-server PR 6415); and a node killed with SIGKILL sometimes rejoins without
# catching up its replica. Both were seen here with Debian trixie's 2.10.27.
# Order: $ELFE_NATS_SERVER, nats-server on the PATH, .tools/nats-server/nats-server, and
# otherwise the newest packaged one (Debian forky's, else trixie's), downloaded with apt into
# .tools/ (no root needed). When nothing newer can be had, a 2.10 found is used, with a warning.
# The archive is taken from this machine's own apt configuration; nothing is hard-coded.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/.tools"
target="$tools/nats-server/nats-server"

version_ok() { # prints the version and succeeds when >= 2.<minimum minor> (default 11)
  local v want=${2:-11}
  v=$("$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1) || return 1
  [ -n "$v" ] || return 1
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  echo "$v"
  [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge "$want" ]; }
}

fallback=""
for candidate in "${ELFE_NATS_SERVER:-}" "$(command -v nats-server || true)" "$target"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  if v=$(version_ok "$candidate"); then
    echo "nats-server: $candidate ($v)"
    exit 0
  fi
  if [ -z "$fallback" ] && version_ok "$candidate" 10 >/dev/null; then fallback=$candidate; fi
  echo "nats-server: $candidate is version ${v:-unknown}; elfe-hub wants >= 2.11 (2.10 only for a single node)"
done
use_fallback() {
  if [ -n "$fallback" ]; then
    echo "nats-server: WARNING: using $fallback ($(version_ok "$fallback" 10 || true)): fine for one node, not for a cluster (see the top of this script)" >&2
    [ "$fallback" = "$target" ] || ln -sf "$fallback" "$target"
    exit 0
  fi
  exit 1
}

# The Debian archive this machine already uses (deb822 sources or the classic list).
archive=$(
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{for (i = 2; i <= NF; i++) print $i}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break }}'
  } | grep -E '/debian/?$' | head -1
) || true
if [ -z "$archive" ]; then
  echo "nats-server: no Debian archive found in the apt configuration." >&2
  echo "Install nats-server >= 2.11 (e.g. Debian forky's package) and put it on the PATH, or set ELFE_NATS_SERVER." >&2
  use_fallback
fi

echo "nats-server: fetching the newest packaged nats-server (Debian forky, else trixie) with apt into .tools/"
apt_dir="$tools/apt"
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/preferences.d" "$tools/nats-server"
rm -f "$tools"/nats-server_*.deb
cat >"$apt_dir/etc/sources.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive forky main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive trixie main
LIST
apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::Etc::preferencesparts=$apt_dir/etc/preferences.d"
  -o "Dir::State=$apt_dir/state" -o "Dir::State::status=/var/lib/dpkg/status"
  -o "Dir::Cache=$apt_dir/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)"
)
if ! apt-get "${apt_opts[@]}" -qq update ||
   ! (cd "$tools" && apt-get "${apt_opts[@]}" -qq download nats-server); then
  echo "nats-server: could not download a packaged nats-server." >&2
  echo "Install nats-server >= 2.11 and put it on the PATH, or set ELFE_NATS_SERVER." >&2
  use_fallback
fi
deb=$(ls -t "$tools"/nats-server_*.deb | head -1)
rm -rf "$tools/nats-server-root"
dpkg-deb -x "$deb" "$tools/nats-server-root"
bin=$(find "$tools/nats-server-root" -type f -name nats-server -perm -u+x | head -1)
ln -sf "$bin" "$target"
if v=$(version_ok "$target"); then
  echo "nats-server: $target ($v)"
else
  echo "nats-server: the downloaded server does not run or is too old (${v:-unknown})" >&2
  use_fallback
fi
