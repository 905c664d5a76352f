#!/usr/bin/env bash
# One entry point that sets everything up on a fresh machine, then starts the WebUI or runs the tests.
#   ./run.sh webui [webui.py options]   set up .venv from uv.lock, then start the WebUI
#   ./run.sh test  [pytest options]     set up .venv from uv.lock, lint, then run the test suite
#   ./run.sh setup                      set up .venv from uv.lock and stop (what the two above do first)
#   ./run.sh upgrade [pytest options]   re-resolve uv.lock to the newest releases; keep it if the suite passes
# .venv holds exactly the packages of uv.lock, no more and no fewer (`uv sync --locked`); only `upgrade` writes
# the lock (README, "Updating dependencies").
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
# uv itself is pinned by version and by the hash of its Linux x86-64 wheel, the platform uv.lock is resolved for.
UV_VERSION=0.13.10
UV_WHEEL_SHA256=7cc9c41b43d583e34c781fd3446405b06e9c5fa2db468ce2a534d353db6429e5
UV_HOME=.tools/uv-$UV_VERSION
UV=$UV_HOME/bin/uv
SETUP_LOG=.tools/setup.log
export UV_PYTHON_DOWNLOADS=never     # use $PYTHON; an interpreter download would fail offline and surprise online
export UV_PROJECT_ENVIRONMENT=.venv

say() { echo "setup: $*" >&2; }

# Runs a set-up command with its output in $SETUP_LOG, shown only when it fails.
quietly() {
  if ! "$@" >"$SETUP_LOG" 2>&1; then
    cat "$SETUP_LOG" >&2
    say "failed: $*"
    exit 1
  fi
}

install_uv() {
  mkdir -p .tools
  if [ ! -x "$UV" ]; then
    local started=$SECONDS
    quietly "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$UV_HOME" --require-hashes -r <(echo "uv==$UV_VERSION --hash=sha256:$UV_WHEEL_SHA256")
    say "uv $UV_VERSION installed in $UV_HOME ($((SECONDS - started)) s)"
  fi
}

setup() {
  install_uv
  local started=$SECONDS
  # --locked: stop, naming the fix, if pyproject.toml changed since uv.lock was written.
  quietly "$UV" sync --locked --python "$PYTHON"
  say ".venv matches uv.lock: $("$UV" pip list --quiet --python .venv/bin/python | tail -n +3 | wc -l) packages," \
      "$(.venv/bin/python -c 'import platform, torch; print("Python", platform.python_version(), "torch", torch.__version__)')" \
      "($((SECONDS - started)) s)"
}

run_tests() {
  setup_browser
  .venv/bin/ruff check .
  .venv/bin/python -m pytest "$@"
}

upgrade() {
  install_uv
  cp uv.lock .tools/uv.lock.before
  quietly "$UV" lock --upgrade
  grep -E '^(Updated|Added|Removed) ' "$SETUP_LOG" >&2 || say "no newer release of any package"
  if (setup && run_tests "$@"); then
    say "the suite passes on the upgraded uv.lock: commit it"
  else
    cp .tools/uv.lock.before uv.lock
    quietly "$UV" sync --locked --python "$PYTHON"
    say "the suite failed on the upgraded lock (the releases above): uv.lock and .venv are back as they were"
    exit 1
  fi
}

# The browser tests drive Debian's Chromium through Playwright (no browser download); install it when we can,
# with a CJK font so the Chinese screenshots are readable.
BROWSER_PACKAGES="chromium chromium-driver fonts-wqy-zenhei"
setup_browser() {
  if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      local started=$SECONDS
      quietly apt-get update -qq
      DEBIAN_FRONTEND=noninteractive quietly apt-get install -y -qq $BROWSER_PACKAGES
      say "installed $BROWSER_PACKAGES ($((SECONDS - started)) s)"
    else
      echo "note: install $BROWSER_PACKAGES (apt-get, as root) for the browser tests" >&2
    fi
  fi
}

command=${1:-webui}
shift || true
case "$command" in
  setup)
    setup
    ;;
  webui)
    setup
    exec .venv/bin/python webui.py "$@"
    ;;
  test)
    setup
    run_tests "$@"
    ;;
  upgrade)
    upgrade "$@"
    ;;
  *)
    echo "usage: ./run.sh webui|test|setup|upgrade [options]" >&2
    exit 2
    ;;
esac
