"""The Sonic Pi OSC client: discovery (3.x ports, 4.x logs), message framing, replies, errors.

A fake Sonic Pi (a UDP peer in this process) stands in for the network peer; it answers the
way Sonic Pi 3.2.2 and 4.x do (their sources: sonic-pi-server.rb / spider-server.rb). The
real thing is exercised in tests/e2e/test_sonic_pi_real.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import notegen.sonic_pi_client as spc
import pytest
from notegen.sonic_pi_client import (
    Endpoint,
    SonicPiClient,
    SonicPiNotRunning,
    decode_report,
    discover,
    parse_daemon_log,
    parse_spider_log,
    sonic_pi_log_dir,
)
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSonicPi:
    """Receives OSC like Sonic Pi and answers on its reply port, as Sonic Pi does."""

    def __init__(self, reply_port: int, token: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.reply_port = reply_port
        self.token = token
        self.received: list[tuple[str, list, str]] = []  # address, params, type tags
        self.job = 0
        self.error_for_run: tuple[str, str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def reply(self, address: str, *args: object) -> None:
        builder = OscMessageBuilder(address)
        for value in args:
            builder.add_arg(value)
        self.sock.sendto(builder.build().dgram, ("127.0.0.1", self.reply_port))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            message = OscMessage(data)
            tags = data[data.index(b",") :].split(b"\0", 1)[0].decode()
            self.received.append((message.address, list(message.params), tags))
            args = message.params
            if self.token is not None and (not args or args[0] != self.token):
                continue  # 4.x ignores a wrong token silently
            if message.address == "/ping":
                self.reply("/ack", args[1])
            elif message.address == "/run-code":
                job = self.job
                self.job += 1
                self.reply("/log/info", 0, f"Starting run {job}")
                if self.error_for_run is not None:
                    desc, trace, line = self.error_for_run
                    self.reply("/error", job, desc, trace, line)
                self.reply(
                    "/log/multi_message", job, '""', "0.0", 1, 0, "synth :beep, {note: 60.0}"
                )
                self.reply("/log/info", 0, f"Completed run {job}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.sock.close()


@pytest.fixture
def fake3() -> Iterator[FakeSonicPi]:
    fake = FakeSonicPi(free_udp_port())
    yield fake
    fake.close()


@pytest.fixture
def fake4() -> Iterator[FakeSonicPi]:
    fake = FakeSonicPi(free_udp_port(), token=-1234567)
    yield fake
    fake.close()


# --- 4.x discovery from its logs ------------------------------------------------------------

DAEMON_LOG_4_1 = """\
[2024-01-05 10:00:00] Welcome to the Daemon Booter
[2024-01-05 10:00:00] Selected ports:
[2024-01-05 10:00:00] {"daemon"=>51235, "gui-listen-to-spider"=>51237, "gui-send-to-spider"=>51236}
[2024-01-05 10:00:01] 51235 51237 51236 51238 4560 51240 -1234567
[2024-01-05 10:00:01] Booting Scsynth
"""


def test_daemon_log_gives_the_spider_ports_and_token_of_the_last_boot() -> None:
    older = "[2024-01-04 09:00:00] 40001 40003 40002 40004 4560 40006 40007 99\n"
    endpoint = parse_daemon_log(older + DAEMON_LOG_4_1)
    assert endpoint == Endpoint(
        "127.0.0.1", 51236, 51237, -1234567, 4, "ports and token from daemon.log"
    )
    assert endpoint.line_base == 1
    assert endpoint.first_arg() == -1234567


@pytest.mark.parametrize(
    "line",
    [
        "[2024-01-05 10:00:01] 51235 51237 51236 51238 4560 51240 51241 42",  # 4.4+: tau, phx
        "[2024-01-05 10:00:01] 51235 51237 51236 51238 4560 51240 42",  # 4.0-4.3: tau
        "51235 51237 51236 51238 4560 42",  # development branch, as printed on stdout
    ],
)
def test_every_daemon_line_format_agrees_on_ports_and_token(line: str) -> None:
    endpoint = parse_daemon_log(line + "\n")
    assert endpoint is not None
    assert (endpoint.port, endpoint.reply_port, endpoint.token) == (51236, 51237, 42)


def test_a_daemon_log_without_a_ports_line_gives_nothing() -> None:
    assert parse_daemon_log("[2024-01-05 10:00:00] Welcome to the Daemon Booter\n") is None
    assert parse_daemon_log("[t] 1 2\n") is None


@pytest.mark.parametrize(
    "ports",
    [
        "{:server_port=>51236, :gui_port=>51237, :scsynth_port=>51238, :token=>1}",  # Ruby 3.3
        "{server_port: 51236, gui_port: 51237, scsynth_port: 51238}",  # Ruby 3.4 inspect
    ],
)
def test_spider_log_gives_ports_and_token(ports: str) -> None:
    text = f"Sonic Pi Spider Server booting...\nPorts: {ports}\nToken: -77\n"
    endpoint = parse_spider_log(text)
    assert endpoint is not None
    assert (endpoint.port, endpoint.reply_port, endpoint.token, endpoint.major) == (
        51236,
        51237,
        -77,
        4,
    )


def test_log_dir_follows_sonic_pi_home() -> None:
    assert sonic_pi_log_dir({"SONIC_PI_HOME": "/x"}) == Path("/x/.sonic-pi/log")
    assert sonic_pi_log_dir({"HOME": "/home/u"}) == Path("/home/u/.sonic-pi/log")


def test_discover_uses_a_running_4x_from_its_daemon_log(fake4: FakeSonicPi, tmp_path: Path) -> None:
    (tmp_path / "daemon.log").write_text(
        f"[t] 1 {fake4.reply_port} {fake4.port} 2 4560 3 {fake4.token}\n"
    )
    endpoint = discover(log_dir=tmp_path)
    assert (endpoint.port, endpoint.reply_port, endpoint.token) == (
        fake4.port,
        fake4.reply_port,
        fake4.token,
    )


def test_no_sonic_pi_gives_a_clear_message_within_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = free_udp_port()
    (tmp_path / "daemon.log").write_text(f"[t] 1 {free_udp_port()} {dead} 2 4560 3 5\n")
    monkeypatch.setattr(spc, "V3_SERVER_PORT", free_udp_port())
    started = time.monotonic()
    with pytest.raises(SonicPiNotRunning) as raised:
        SonicPiClient.connect(log_dir=tmp_path)
    assert time.monotonic() - started < 1.0
    message = str(raised.value)
    assert "Sonic Pi is not running" in message
    assert "an old session" in message  # the stale 4.x log is named, not trusted
    assert "Start Sonic Pi" in message and "sonic-pi-server" in message


def test_a_configured_port_with_nothing_behind_it_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(SonicPiNotRunning, match="configured"):
        discover(port=free_udp_port())
    assert time.monotonic() - started < 1.0


# --- framing and replies --------------------------------------------------------------------


def test_3x_messages_start_with_the_client_id(fake3: FakeSonicPi) -> None:
    client = SonicPiClient(Endpoint("127.0.0.1", fake3.port, fake3.reply_port))
    client.run_code("play 60")
    client.stop_all_jobs()
    client.save_recording("/tmp/x.wav")
    deadline = time.monotonic() + 2
    while len(fake3.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake3.received == [
        ("/run-code", ["notegen", "play 60"], ",ss"),
        ("/stop-all-jobs", ["notegen"], ",s"),
        ("/save-recording", ["notegen", "/tmp/x.wav"], ",ss"),
    ]
    client.close()


def test_4x_messages_start_with_the_token_as_an_int32(fake4: FakeSonicPi) -> None:
    endpoint = Endpoint("127.0.0.1", fake4.port, fake4.reply_port, fake4.token, 4)
    with SonicPiClient(endpoint) as client:
        outcome = client.run("play 60", timeout=2)
    assert ("/run-code", [fake4.token, "play 60"], ",is") in fake4.received
    assert outcome.completed and outcome.job == 0 and outcome.errors == []
    assert [r.text for r in outcome.logs] == ["synth :beep, {note: 60.0}"]


def test_an_error_comes_back_with_the_line_of_the_code_sent(fake4: FakeSonicPi) -> None:
    fake4.error_for_run = (
        "[buffer eval, line 3] - SonicPi::Note::InvalidNoteError\nThread death!\n "
        "Invalid note: :Cx4",
        "/sonicpi/note.rb:138:in `initialize&#39;\neval:3:in `block in __spider_eval&#39;",
        3,
    )
    endpoint = Endpoint("127.0.0.1", fake4.port, fake4.reply_port, fake4.token, 4)
    with SonicPiClient(endpoint) as client:
        outcome = client.run("use_bpm 60\nplay 60\nplay :Cx4\n", timeout=2)
    (error,) = outcome.errors
    assert error.kind == "error"
    assert error.text == "SonicPi::Note::InvalidNoteError\nInvalid note: :Cx4"
    assert error.line == 2  # 4.x counts from 1: line 3 is index 2


def test_a_wrong_token_is_reported_instead_of_waiting_forever(fake4: FakeSonicPi) -> None:
    endpoint = Endpoint("127.0.0.1", fake4.port, fake4.reply_port, 999, 4)
    client = SonicPiClient(endpoint, timeout=0.5)
    with pytest.raises(spc.SonicPiError, match="does not answer /ping"):
        client.listen()
    assert not client.listening
    client.close()


def test_when_the_gui_holds_the_reply_port_code_is_still_sent(fake3: FakeSonicPi) -> None:
    gui = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gui.bind(("127.0.0.1", fake3.reply_port))
    try:
        with SonicPiClient(Endpoint("127.0.0.1", fake3.port, fake3.reply_port)) as client:
            started = time.monotonic()
            outcome = client.run("play 60", timeout=5)
            assert time.monotonic() - started < 0.5
        assert outcome.listening is False and outcome.errors == []
        deadline = time.monotonic() + 1
        while not fake3.received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake3.received[0][:2] == ("/run-code", ["notegen", "play 60"])
    finally:
        gui.close()


def test_the_reply_port_is_given_back(fake3: FakeSonicPi) -> None:
    client = SonicPiClient(Endpoint("127.0.0.1", fake3.port, fake3.reply_port))
    assert client.listen()
    client.release()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gui:
        gui.bind(("127.0.0.1", fake3.reply_port))  # Sonic Pi's GUI can start now
    client.close()


# --- decoding what Sonic Pi 3.2.2 really sends (captured from the e2e run) -------------------


def test_3x_syntax_error_line_comes_from_the_description_not_the_bogus_argument() -> None:
    report = decode_report(
        "/error",
        [
            2,
            "[buffer eval, line 781] - SyntaxError\nThread death!\n eval:2: syntax error, "
            "unexpected local variable or method, expecting &#39;]&#39;\nsleep 1\n^~~~~\n",
            "/usr/lib/sonic-pi/app/server/ruby/lib/sonicpi/runtime.rb:781:in `eval&#39;",
            781,
        ],
        line_base=0,
    )
    assert report.kind == "syntax_error"
    assert report.line == 2
    assert "expecting ']'" in report.text and "781" not in report.text


def test_run_states_and_played_notes_are_decoded() -> None:
    assert decode_report("/log/info", [0, "Starting run 7"]).kind == "started"
    assert decode_report("/log/info", [0, "Starting run 7"]).job == 7
    assert decode_report("/log/info", [0, "Completed run 7"]).kind == "completed"
    assert decode_report("/log/info", [0, "Stopping Run 7"]).kind == "stopped"
    played = decode_report(
        "/log/multi_message", [7, '""', "0.0", 2, 0, "synth :beep, {note: 60.0}", 0, "sleep"]
    )
    assert (played.kind, played.job, played.text) == ("log", 7, "synth :beep, {note: 60.0}\nsleep")
    assert decode_report("/weird", []).kind == "other"
