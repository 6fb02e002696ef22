#!/usr/bin/env bash
# Set up the peers' pinned environments and run the race.
#
#   benches/peers/run.sh                      # full: 20,000 jobs x 3 runs, all systems
#   benches/peers/run.sh --quick              # CI smoke: 2,000 jobs x 1 run
#   benches/peers/run.sh --systems arq,rq --jobs 5000 --runs 1
#   RACE_SETUP_ONLY=1 benches/peers/run.sh    # only create venvs / npm ci
#
# Environment:
#   PYTHON          interpreter for the venvs (default: python3; needs >= 3.11)
#   RELAY_INSTALL   how to make relay importable in .venv for systems/relay.py:
#                     ""           nothing (default)
#                     "editable"   pip install -e <repo root>   (maturin build; needs Rust)
#                     <path.whl>   pip install that wheel
#   RACE_SKIP_SETUP=1  reuse the existing venvs / node_modules as they are
#   RACE_NO_NODE=1     don't run npm ci (BullMQ-on-Node then reports "not available")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-python3}"
VENV="$HERE/.venv"

stamp_ok() {  # $1 = venv dir, $2 = requirements file: up to date?
  [[ -x "$1/bin/python" && -f "$1/.race-req.sha" ]] &&
    [[ "$(sha256sum "$2" | cut -d' ' -f1)" == "$(cat "$1/.race-req.sha")" ]]
}

make_venv() {  # $1 = venv dir, $2 = requirements file
  if stamp_ok "$1" "$2"; then return; fi
  echo "== creating $1 from $(basename "$2")" >&2
  [[ -x "$1/bin/python" ]] || "$PY" -m venv "$1"
  "$1/bin/python" -m pip install -q --upgrade pip
  "$1/bin/python" -m pip install -q -r "$2"
  sha256sum "$2" | cut -d' ' -f1 > "$1/.race-req.sha"
}

if [[ "${RACE_SKIP_SETUP:-}" != "1" ]]; then
  make_venv "$VENV" "$HERE/requirements.txt"
  # peers whose redis-py caps clash with the main venv (see requirements.txt)
  make_venv "$VENV/peers/arq" "$HERE/requirements-arq.txt"
  make_venv "$VENV/peers/saq" "$HERE/requirements-saq.txt"

  # relay hook: the relay adapter (systems/relay.py) imports relay from .venv
  case "${RELAY_INSTALL:-}" in
    "") ;;
    editable) "$VENV/bin/python" -m pip install -q -e "$ROOT" ;;
    *) "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$RELAY_INSTALL" ;;
  esac

  if [[ "${RACE_NO_NODE:-}" != "1" ]] && command -v node >/dev/null && command -v npm >/dev/null; then
    lock_sha="$(sha256sum "$HERE/node/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f "$HERE/node/node_modules/.race-lock.sha" ||
          "$(cat "$HERE/node/node_modules/.race-lock.sha")" != "$lock_sha" ]]; then
      echo "== npm ci (benches/peers/node)" >&2
      (cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error)
      echo "$lock_sha" > "$HERE/node/node_modules/.race-lock.sha"
    fi
  fi
fi

if [[ "${RACE_SETUP_ONLY:-}" == "1" ]]; then exit 0; fi
command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
cd "$HERE"
exec "$VENV/bin/python" race.py "$@"
