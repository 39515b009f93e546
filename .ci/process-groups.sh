# Shared by .ci/start-sonic-pi.sh and .ci/start-sonic-pi-5.sh (sourced, not run): the process
# groups they start and stop, and the dummy JACK device both Sonic Pis play into.

stop_group() {  # stop_group PIDFILE: TERM the process group, then KILL what is left
  local pidfile=$1 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

start_dummy_jack() {  # start_dummy_jack STATE_DIR: unless a JACK server runs; 1 if it fails
  local state=$1
  jack_wait -c 2>/dev/null | grep -q "^running" && return 0
  setsid jackd --no-realtime -d dummy -r 44100 >"$state/jackd.log" 2>&1 < /dev/null &
  echo $! >"$state/jackd.pid"
  if ! jack_wait -w -t 15 >/dev/null 2>&1; then
    echo "jackd did not start; its log:" >&2; cat "$state/jackd.log" >&2
    stop_group "$state/jackd.pid"; return 1
  fi
}
