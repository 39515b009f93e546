#!/usr/bin/env bash
# Start Sonic Pi 5's own language server headless, from its source, for the end-to-end tests:
# the spider server (Ruby) of sonic-pi-net/sonic-pi at SONIC_PI_5_COMMIT, launched with the very
# command line daemon.rb's SpiderBooter uses (random ports, random token), on Debian's scsynth
# and a dummy JACK device. Tau (Erlang, for Link/MIDI/cues) is replaced by .ci/fake-tau.py,
# which answers the spider's boot handshake and Link-time questions; the daemon and GUI are not
# run (the daemon only boots these processes and relays their ports).
#
#   .ci/start-sonic-pi-5.sh STATE_DIR          unpack the server if needed, start, wait, print "ready in N s"
#   .ci/start-sonic-pi-5.sh --stop STATE_DIR   stop what the start left running
#
# The source lives in $SONIC_PI_5_SRC (default .ci/cache/sonic-pi-5), unpacked from
# .ci/sonic-pi-5/server.tar.xz: the 338 files of the pinned commit that the server and scsynth
# open in these tests, with their licences (CI reaches package registries only, not GitHub;
# .ci/sonic-pi-5/pack.sh rebuilds the archive from a clone). Point SONIC_PI_5_SRC at a full
# checkout to run another commit. STATE_DIR receives the logs and pids and is Sonic Pi's home
# ($SONIC_PI_HOME), so ~/.sonic-pi is left alone.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARCHIVE=$ROOT/.ci/sonic-pi-5/server.tar.xz  # v5.0.0-beta-1 dev, 2024-10-23 (.ci/sonic-pi-5/commit)
SRC=${SONIC_PI_5_SRC:-$ROOT/.ci/cache/sonic-pi-5}
PYTHON=${PYTHON:-python3}
BOOT_TIMEOUT=${SONIC_PI_BOOT_TIMEOUT:-180}

source "$(dirname "$0")/process-groups.sh"

if [ "${1:-}" = "--stop" ]; then
  state=${2:?usage: $0 --stop STATE_DIR}
  for name in spider tau scsynth jackd; do stop_group "$state/$name.pid"; done
  exit 0
fi

state=${1:?usage: $0 STATE_DIR}
mkdir -p "$state/home"
state=$(cd "$state" && pwd)
for tool in tar xz ruby scsynth jackd setsid "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (see .ci/apt-packages.txt)" >&2; exit 2; }
done

# 1. Sonic Pi 5's server files at the pinned commit, unpacked once.
if [ ! -f "$SRC/app/server/ruby/bin/spider-server.rb" ]; then
  [ ! -e "$SRC" ] || { echo "$SRC exists but holds no app/server/ruby/bin/spider-server.rb" >&2; exit 2; }
  mkdir -p "$(dirname "$SRC")"
  unpacked=$(mktemp -d "$SRC.unpacking.XXXXXX")
  tar -xJf "$ARCHIVE" -C "$unpacked"
  mv "$unpacked" "$SRC"
fi

start=$(date +%s%N)
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# 2. Audio: a dummy JACK device unless a JACK server already runs, and scsynth on a free port.
start_dummy_jack "$state" || exit 1
scsynth_port=$(free_port)
setsid scsynth -u "$scsynth_port" -a 1024 -m 131072 -D 0 -R 0 -l 1 -i 0 -o 2 -b 4096 \
  >"$state/scsynth.log" 2>&1 < /dev/null &
echo $! >"$state/scsynth.pid"

# 3. Tau's stand-in, then the spider server exactly as daemon.rb's SpiderBooter starts it:
#    -u <listen-to-gui> <send-to-gui> <scsynth> <scsynth-send> <osc-cues> <tau> <listen-to-tau> <token>
listen=$(free_port); send=$(free_port); cues=$(free_port); tau=$(free_port); from_tau=$(free_port)
token=$(( (RANDOM << 16 | RANDOM) - 1073741824 ))
setsid "$PYTHON" "$ROOT/.ci/fake-tau.py" "$tau" "$from_tau" >"$state/tau.log" 2>&1 < /dev/null &
echo $! >"$state/tau.pid"
SONIC_PI_HOME="$state/home" setsid ruby --enable-frozen-string-literal -E utf-8 \
  "$SRC/app/server/ruby/bin/spider-server.rb" -u "$listen" "$send" "$scsynth_port" \
  "$scsynth_port" "$cues" "$tau" "$from_tau" "$token" >"$state/spider.log" 2>&1 < /dev/null &
echo $! >"$state/spider.pid"

deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
until grep -q "Spider - Booted Successfully" "$state/spider.log" 2>/dev/null; do
  if ! kill -0 "$(cat "$state/spider.pid")" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "Sonic Pi 5's spider server did not boot within ${BOOT_TIMEOUT}s; its log:" >&2
    tail -40 "$state/spider.log" >&2
    for name in spider tau scsynth jackd; do stop_group "$state/$name.pid"; done
    exit 1
  fi
  sleep 0.2
done
echo "ready in $(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s: port $listen"
