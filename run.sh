#!/usr/bin/env bash
# One entry point that sets everything up on a fresh machine, then starts the WebUI or runs the tests.
#   ./run.sh webui [webui.py options]   create/refresh .venv, then start the WebUI
#   ./run.sh test  [pytest options]     create/refresh .venv, lint, then run the test suite
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if [ ! -f "$STAMP" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
  fi
}

# The browser tests drive Debian's Chromium through Playwright (no browser download); install it when we can,
# with a CJK font so the Chinese screenshots are readable.
BROWSER_PACKAGES="chromium chromium-driver fonts-wqy-zenhei"
setup_browser() {
  if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $BROWSER_PACKAGES >/dev/null
    else
      echo "note: install $BROWSER_PACKAGES (apt-get, as root) for the browser tests" >&2
    fi
  fi
}

command=${1:-webui}
shift || true
case "$command" in
  webui)
    setup
    exec "$VENV/bin/python" webui.py "$@"
    ;;
  test)
    setup
    setup_browser
    "$VENV/bin/ruff" check .
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: ./run.sh webui|test [options]" >&2
    exit 2
    ;;
esac
