#!/usr/bin/env bash
# Test setup for the browser tests of the Gradio app (tests/bot/faces/ui/test_browser.py).
#
# Installs, only when missing:
#   - Debian's `chromium` (apt-get; CI runs as root on Debian bookworm), the browser the tests drive;
#   - the `playwright` Python package, pinned, into the Python that runs the tests.
# It never runs `playwright install`: that downloads browsers from a CDN, and these machines have no
# internet besides the package registries. The tests launch /usr/bin/chromium with executable_path.
#
# Usage: tests/bot/faces/ui/install_browser.sh [PYTHON]     (default: the repository's .venv, else python3)
# Exit status 0 when both are usable afterwards; non-zero (with the reason on stderr) otherwise.
set -euo pipefail

PLAYWRIGHT_VERSION="1.65.2"
CHROMIUM="${RECBOT_CHROMIUM:-/usr/bin/chromium}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
PYTHON="${1:-}"
if [[ -z "$PYTHON" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON="python3"; fi
fi

APT_INSTALL=(bash "$REPO/tests/apt_install.sh" install_browser)
if [[ ! -x "$CHROMIUM" ]]; then
  echo "install_browser: $CHROMIUM is missing" >&2
  # Only what a headless browser needs: chromium and fonts, Latin and CJK (replies in Chinese must be
  # readable on screenshots; its other recommends are desktop services: udev, upower, printing,
  # notifications).
  "${APT_INSTALL[@]}" chromium fonts-liberation fonts-wqy-zenhei
fi
"$CHROMIUM" --version >&2
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then  # a browser installed earlier, without a CJK font
  "${APT_INSTALL[@]}" fonts-wqy-zenhei || echo "install_browser: no CJK font" >&2
fi

installed="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("playwright"))' 2>/dev/null \
  || true)"
if [[ "$installed" != "$PLAYWRIGHT_VERSION" ]]; then
  echo "install_browser: installing playwright==$PLAYWRIGHT_VERSION into $PYTHON (no browser download)" >&2
  "$PYTHON" -m pip install --quiet "playwright==$PLAYWRIGHT_VERSION" >&2
fi
"$PYTHON" -c 'import playwright.sync_api' >&2
echo "install_browser: ready ($CHROMIUM, playwright $PLAYWRIGHT_VERSION)" >&2
