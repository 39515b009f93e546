#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run every test.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# 1. System packages (ruby for `ruby -c`, neovim for the editor test, Sonic Pi for playback...).
if [ -s .ci/apt-packages.txt ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  missing=$(grep -vE '^\s*(#|$)' .ci/apt-packages.txt | while read -r p; do
    dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | tr '\n' ' ')
  if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  fi
fi

# 2. Python: the package with its dev and train extras, in a project-local virtualenv.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[dev,train]"

# 3. Lint, then every test (Python unit + end-to-end + editor; extension tests run from pytest).
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -q -ra "$@"
