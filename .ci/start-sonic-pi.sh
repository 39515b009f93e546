#!/usr/bin/env bash
# Start a headless Sonic Pi: Debian's sonic-pi-server (3.2.2) on a dummy JACK audio device, so
# the end-to-end tests (and `notegen play` on a machine without a sound card) have a real one.
#
#   .ci/start-sonic-pi.sh STATE_DIR          start, wait until booted, print "ready in N s"
#   .ci/start-sonic-pi.sh --stop STATE_DIR   stop what the start left running
#
# STATE_DIR receives the logs (jackd.log, sonic-pi.log), the pids and Sonic Pi's home
# ($SONIC_PI_HOME, so a user's ~/.sonic-pi is left alone). Each process runs in its own
# session, so stopping kills the whole group (Sonic Pi's scsynth, Erlang router, MIDI bridges).
# Packages: sonic-pi-server supercollider-server jackd2 (see .ci/apt-packages.txt).
set -euo pipefail

SERVER=${SONIC_PI_SERVER:-/usr/lib/sonic-pi/app/server/ruby/bin/sonic-pi-server.rb}
BOOT_TIMEOUT=${SONIC_PI_BOOT_TIMEOUT:-90}

source "$(dirname "$0")/process-groups.sh"

if [ "${1:-}" = "--stop" ]; then
  state=${2:?usage: $0 --stop STATE_DIR}
  stop_group "$state/sonic-pi.pid"
  stop_group "$state/jackd.pid"
  exit 0
fi

state=${1:?usage: $0 STATE_DIR}
mkdir -p "$state/home"
state=$(cd "$state" && pwd)

if [ ! -f "$SERVER" ]; then
  echo "Sonic Pi server not found at $SERVER: install the Debian packages sonic-pi-server," \
    "supercollider-server and jackd2 (or set SONIC_PI_SERVER)" >&2
  exit 2
fi
for tool in ruby scsynth jackd setsid; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (see .ci/apt-packages.txt)" >&2; exit 2; }
done

start=$(date +%s%N)

# 1. Audio: a dummy JACK device unless a JACK server already runs (Sonic Pi 3.x would otherwise
#    start one on ALSA, which a machine without a sound card does not have).
start_dummy_jack "$state" || exit 1

# 2. Sonic Pi: boots scsynth on JACK, listens on UDP 4557 and replies to 4558.
SONIC_PI_HOME="$state/home" setsid ruby "$SERVER" -u >"$state/sonic-pi.log" 2>&1 < /dev/null &
echo $! >"$state/sonic-pi.pid"

deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
until grep -q "Sonic Pi Server successfully booted" "$state/sonic-pi.log" 2>/dev/null; do
  if ! kill -0 "$(cat "$state/sonic-pi.pid")" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "Sonic Pi did not boot within ${BOOT_TIMEOUT}s; its log:" >&2
    cat "$state/sonic-pi.log" >&2
    stop_group "$state/sonic-pi.pid"; stop_group "$state/jackd.pid"
    exit 1
  fi
  sleep 0.2
done
echo "ready in $(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
