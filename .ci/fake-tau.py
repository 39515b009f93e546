"""Just enough of Tau (Sonic Pi 5's Erlang/Elixir process) for its spider server to boot headless.

Sonic Pi 5's spider server waits for Tau before it serves anything: it sends ``/ping`` to the
Tau port from a throwaway socket and waits for any answer (``tau_comms.rb``), then asks Tau for
Ableton Link time over ``/api-rpc KEY PATH ARGS`` and waits for ``/tau-api-reply GUI KEY
PAYLOAD`` on its listen-to-tau port (``tau_api.rb``). This answers those with the machine's own
clock at 60 bpm and ignores everything else (MIDI, OSC cues, Link changes): notes are played by
scsynth, which the spider server drives directly. Used by .ci/start-sonic-pi-5.sh only.

    python fake-tau.py TAU_PORT SPIDER_LISTEN_TO_TAU_PORT
"""

from __future__ import annotations

import socket
import sys
import time

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError


def message(address: str, *args: object) -> bytes:
    builder = OscMessageBuilder(address)
    for value in args:
        if isinstance(value, tuple):  # (type tag, value): Link times are int64 microseconds
            builder.add_arg(value[1], value[0])
        else:
            builder.add_arg(value)
    return builder.build().dgram


def reply(path: str, args: list) -> list:
    now_us = int(time.time() * 1_000_000)
    if path == "/link-get-current-time":
        return [("h", now_us)]
    if path == "/link-get-beat-at-time":  # 60 bpm: one beat a second
        return [float(args[0] if args else now_us) / 1_000_000]
    if path == "/link-get-time-at-beat":
        return [("h", int(float(args[0]) * 1_000_000))]
    if path == "/link-get-tempo":
        return [60.0]
    return [0]  # link-is-on, num-peers, is-playing...: off / none


def main() -> None:
    tau_port, spider_port = int(sys.argv[1]), int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", tau_port))
    while True:
        data, sender = sock.recvfrom(65536)
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except ParseError:
            continue
        for msg in messages:
            params = list(msg.params)
            if msg.address == "/ping":
                sock.sendto(message("/ack", "tau"), sender)
            elif msg.address == "/api-rpc" and len(params) >= 2:
                key, path = params[0], str(params[1])
                payload = reply(path, params[2:])
                sock.sendto(
                    message("/tau-api-reply", "tau", key, *payload), ("127.0.0.1", spider_port)
                )


if __name__ == "__main__":
    main()
