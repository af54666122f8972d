#!/usr/bin/env bash
# Test setup for the PostgreSQL tests (tests/bot/test_sessions.py, tests/scaleout/): installs Debian's
# `postgresql` server package with apt-get when no initdb is found under /usr/lib/postgresql/*/bin.
# The tests then run their own throw-away server (initdb + pg_ctl in a temp dir, on a loopback port,
# as the `postgres` user when run as root); the Debian cluster the package creates is not used.
#
# Usage: tests/install_postgres.sh        Prints the bin directory on stdout; exit 0 when usable.
set -euo pipefail

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
  done
  return 1
}

if ! find_bin >/dev/null; then
  echo "install_postgres: no PostgreSQL server found" >&2
  bash "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh" install_postgres postgresql
fi
BIN="$(find_bin)" || { echo "install_postgres: initdb still not found after the install" >&2; exit 4; }
"$BIN/postgres" --version >&2
echo "$BIN"
