#!/usr/bin/env bash
# Installs Debian packages with apt-get for a test set-up script (tests/install_postgres.sh,
# tests/bot/faces/ui/install_browser.sh): as root, or through passwordless sudo; without recommends; a missing
# or stale package list makes the first try fail, so it updates the list once and tries again.
#
# Usage: tests/apt_install.sh CALLER PACKAGE...    (CALLER names the script in messages on stderr)
# Exit status 0 when installed; 3 when apt-get or root is not available; apt-get's status otherwise.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: tests/apt_install.sh CALLER PACKAGE..." >&2
  exit 2
fi
CALLER="$1"
shift
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$CALLER: installing $* needs apt-get, which is not available" >&2
  exit 3
fi
SUDO=()
if [[ "$(id -u)" != "0" ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    echo "$CALLER: installing $* needs root (apt-get)" >&2
    exit 3
  fi
fi
echo "$CALLER: installing Debian $* with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get install -y --no-install-recommends "$@" >&2 \
  || { "${SUDO[@]}" apt-get update >&2 && "${SUDO[@]}" apt-get install -y --no-install-recommends "$@" >&2; }
