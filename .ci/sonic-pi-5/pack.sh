#!/usr/bin/env bash
# Rebuild .ci/sonic-pi-5/server.tar.xz: the files of Sonic Pi 5's spider server that the
# end-to-end tests use (files.txt), taken from a clone of sonic-pi-net/sonic-pi at the pinned
# commit. CI cannot reach GitHub (only package registries), so the archive is kept in the
# project. files.txt lists what `strace -f -e trace=openat` saw the spider server and scsynth
# open while tests/e2e/test_sonic_pi_5_real.py ran from a full checkout, plus the licences.
#
#   .ci/sonic-pi-5/pack.sh /path/to/sonic-pi.git
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GIT_DIR=${1:?usage: $0 /path/to/sonic-pi.git}
COMMIT=$(cat "$HERE/commit")
git --git-dir="$GIT_DIR" archive --format=tar "$COMMIT" $(cat "$HERE/files.txt") \
  | xz -9e >"$HERE/server.tar.xz.tmp"
mv "$HERE/server.tar.xz.tmp" "$HERE/server.tar.xz"
echo "$HERE/server.tar.xz: $(stat -c %s "$HERE/server.tar.xz") bytes, $(wc -l <"$HERE/files.txt") files at $COMMIT"
