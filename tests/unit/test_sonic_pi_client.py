"""The Sonic Pi OSC client: discovery, confirmation, framing, replies, errors, big code.

The peer is tests/fixtures/fake_sonic_pi.py: a spider server on real UDP sockets that follows
Sonic Pi's source (token framing, ``/ping`` → ``/ack``, replies over a connected UDP socket
that loses a reply after one that had nowhere to go, 16384-byte reads, ``run_file``).
Discovery reads a fake process table and a temporary log directory; 3.x's fixed port is moved
to a free one so a real Sonic Pi on this machine cannot answer instead. The real thing is
exercised in tests/e2e/test_sonic_pi_real.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import notegen.playback.sonic_pi_client as spc
import pytest
from fixtures.fake_sonic_pi import FakeSpider, free_udp_port, spider_command_line
from notegen.playback.sonic_pi_client import (
    MAX_MESSAGE_BYTES,
    Endpoint,
    SonicPiClient,
    SonicPiError,
    SonicPiNotRunning,
    SonicPiUnreachable,
    decode_report,
    discover,
)
from notegen.playback.sonic_pi_discovery import (
    ProcessTable,
    candidates_from_processes,
    parse_daemon_log,
    parse_gui_log,
    parse_spider_log,
    sonic_pi_log_dir,
)


@pytest.fixture(autouse=True)
def no_real_sonic_pi_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """3.x's fixed port moved to a free one: a real Sonic Pi here must not answer for a fake."""
    monkeypatch.setattr(spc, "V3_SERVER_PORT", free_udp_port())


@pytest.fixture
def spider() -> Iterator[FakeSpider]:
    fake = FakeSpider()
    yield fake
    fake.close()


@pytest.fixture
def spider3() -> Iterator[FakeSpider]:
    fake = FakeSpider(token=None, version="v3.2.2")
    yield fake
    fake.close()


def table(*commands: str, error: str | None = None) -> ProcessTable:
    return ProcessTable(tuple((4242 + i, c) for i, c in enumerate(commands)), error)


def processes(*commands: str, error: str | None = None):
    return lambda: table(*commands, error=error)


# Sonic Pi 5's daemon.log after an earlier instance exited: ports and token only at exit.
STALE_DAEMON_LOG_5 = """[2026-12-01 20:00:00] Welcome to the Daemon Booter
[2026-12-01 20:00:01] Booting Spider Server
[2026-12-01 21:00:00] ----
[2026-12-01 21:00:00] Selected ports:
[2026-12-01 21:00:00] {"spider-listen-to-gui"=>{old}, "gui-send-to-spider"=>{old}, \
"gui-listen-to-spider"=>{old_reply}, "spider-send-to-gui"=>{old_reply}, "daemon"=>41000}
[2026-12-01 21:00:00] Token: 55555
[2026-12-01 21:00:00] Daemon Booter is now exiting.
"""


def stale_daemon_log(directory: Path) -> tuple[int, int]:
    old, old_reply = free_udp_port(), free_udp_port()
    text = STALE_DAEMON_LOG_5.replace("{old}", str(old)).replace("{old_reply}", str(old_reply))
    (directory / "daemon.log").write_text(text.replace("\\\n", ""))
    # and the boot line of a 4.5.1 that ran before it
    with (directory / "daemon.log").open("a") as log:
        log.write(f"[2026-11-30 10:00:01] 41000 {old_reply} {old} 41003 4560 41005 41006 777\n")
    return old, old_reply


# --- where the values come from -------------------------------------------------------------


def test_the_spider_servers_command_line_gives_its_ports_and_token() -> None:
    (found,) = candidates_from_processes(
        table(
            "/usr/bin/bash",
            spider_command_line(37062, 37063, -98765),
            "ruby /opt/sonic-pi/app/server/ruby/bin/daemon.rb",
        )
    )
    assert (found.port, found.reply_port, found.token, found.pid, found.live) == (
        37062,
        37063,
        -98765,
        4243,
        True,
    )


def test_a_macos_ps_line_with_spaces_in_the_app_path_still_parses() -> None:
    line = (
        "/Applications/Sonic Pi.app/Contents/Resources/app/server/native/ruby/bin/ruby "
        "--enable-frozen-string-literal -E utf-8 /Applications/Sonic Pi.app/Contents/Resources/"
        "app/server/ruby/bin/spider-server.rb -u 31000 31001 31002 31002 4560 31004 31005 42"
    )
    (found,) = candidates_from_processes(table(line))
    assert (found.port, found.reply_port, found.token) == (31000, 31001, 42)


def test_3x_server_process_without_arguments_means_its_fixed_ports() -> None:
    (found,) = candidates_from_processes(
        table("ruby /usr/lib/sonic-pi/app/server/ruby/bin/sonic-pi-server.rb -u")
    )
    assert (found.port, found.reply_port, found.token) == (4557, 4558, None)


def test_daemon_log_boot_line_of_4x_gives_ports_and_token_of_the_last_boot() -> None:
    text = (
        "[2024-01-04 09:00:00] 40001 40003 40002 40004 4560 40006 40007 99\n"
        "[2024-01-05 10:00:00] Selected ports:\n"
        '[2024-01-05 10:00:00] {"daemon"=>51235, "gui-listen-to-spider"=>51237}\n'
        "[2024-01-05 10:00:01] 51235 51237 51236 51238 4560 51240 51241 -1234567\n"
    )
    found = parse_daemon_log(text)
    assert found is not None
    assert (found.port, found.reply_port, found.token) == (51236, 51237, -1234567)


def test_sonic_pi_5s_exit_block_is_never_read_as_ports() -> None:
    text = STALE_DAEMON_LOG_5.replace("{old}", "41001").replace("{old_reply}", "41002")
    assert parse_daemon_log(text) is None


def test_gui_log_daemon_stdout_lines_give_the_last_eight_values() -> None:
    values = [41000, 41002, 41001, 41003, 4560, 41005, 41006, -31337]
    old = "".join(f"[API] [INFO ] : daemon_stdout: {v}\n" for v in [1, 2, 3, 4, 5, 6, 7, 8])
    new = "".join(f"[API] [INFO ] : daemon_stdout: {v}\n" for v in values)
    found = parse_gui_log(old + "[API] [INFO ] : Starting...\n" + new)
    assert found is not None
    assert (found.port, found.reply_port, found.token) == (41001, 41002, -31337)


@pytest.mark.parametrize(
    "ports",
    [
        "{:server_port=>51236, :gui_port=>51237, :scsynth_port=>51238, :token=>1}",  # Ruby 3.3
        "{server_port: 51236, gui_port: 51237, scsynth_port: 51238}",  # Ruby 3.4 inspect
    ],
)
def test_4x_spider_log_gives_ports_and_token(ports: str) -> None:
    found = parse_spider_log(f"Sonic Pi Spider Server booting...\nPorts: {ports}\nToken: -77\n")
    assert found is not None
    assert (found.port, found.reply_port, found.token) == (51236, 51237, -77)


def test_log_dir_follows_sonic_pi_home() -> None:
    assert sonic_pi_log_dir({"SONIC_PI_HOME": "/x"}) == Path("/x/.sonic-pi/log")
    assert sonic_pi_log_dir({"HOME": "/home/u"}) == Path("/home/u/.sonic-pi/log")


# --- discovery, each candidate confirmed with /ping -> /ack -----------------------------------


def test_sonic_pi_5_is_found_from_its_running_server_and_says_so(
    spider: FakeSpider, tmp_path: Path
) -> None:
    endpoint = discover(log_dir=tmp_path, processes=processes(spider.command_line()))
    assert endpoint.describe() == (
        f"Sonic Pi 5.0.0-beta-1 at 127.0.0.1:{spider.port}, found from its running server "
        "(pid 4242)"
    )
    assert (endpoint.token, endpoint.reply_port, endpoint.major) == (
        spider.token,
        spider.reply_port,
        5,
    )
    assert endpoint.confirmed and endpoint.line_base == 1
    sent = [r[0] for r in spider.received if r[0] != "/notegen/probe"]  # the ICMP probe
    assert sent[:1] == ["/ping"]


def test_after_a_restart_the_stale_daemon_log_is_not_used(
    spider: FakeSpider, tmp_path: Path
) -> None:
    stale_daemon_log(tmp_path)
    endpoint = discover(log_dir=tmp_path, processes=processes(spider.command_line()))
    assert (endpoint.port, endpoint.token) == (spider.port, spider.token)
    assert endpoint.source.startswith("its running server")


def test_a_4x_found_only_in_daemon_log_is_used_once_it_answers(
    tmp_path: Path,
) -> None:
    fake = FakeSpider(version="v4.5.1")
    try:
        (tmp_path / "daemon.log").write_text(
            f"[t] 41000 {fake.reply_port} {fake.port} 41003 4560 41005 41006 {fake.token}\n"
        )
        endpoint = discover(log_dir=tmp_path, processes=processes(error="no /proc"))
        assert endpoint.describe() == (
            f"Sonic Pi 4.5.1 at 127.0.0.1:{fake.port}, found from daemon.log (4.x boot line)"
        )
    finally:
        fake.close()


def test_gui_log_values_are_confirmed_and_used(spider: FakeSpider, tmp_path: Path) -> None:
    values = [41000, spider.reply_port, spider.port, 41003, 4560, 41005, 41006, spider.token]
    (tmp_path / "gui.log").write_text(
        "".join(f"[API] [INFO ] : daemon_stdout: {v}\n" for v in values)
    )
    endpoint = discover(log_dir=tmp_path, processes=processes())
    assert endpoint.source == "gui.log" and endpoint.confirmed


def test_a_log_token_that_sonic_pi_ignores_is_not_used(spider: FakeSpider, tmp_path: Path) -> None:
    (tmp_path / "daemon.log").write_text(
        f"[t] 41000 {spider.reply_port} {spider.port} 41003 4560 41005 41006 12345\n"
    )
    with pytest.raises(SonicPiUnreachable) as raised:
        discover(log_dir=tmp_path, processes=processes(error="ps failed (1)"), timeout=0.4)
    message = str(raised.value)
    assert "process table could not be read (ps failed (1))" in message
    assert f"UDP 127.0.0.1:{spider.port} (daemon.log (4.x boot line)) does not answer" in message
    assert "earlier Sonic Pi" in message
    assert any("Invalid token: 12345" in line for line in spider.log)


def test_running_but_unreachable_says_so_instead_of_not_running(tmp_path: Path) -> None:
    filtered = FakeSpider(mute=True)  # in the process table, but nothing gets through
    try:
        with pytest.raises(SonicPiUnreachable) as raised:
            discover(log_dir=tmp_path, processes=processes(filtered.command_line()), timeout=0.4)
    finally:
        filtered.close()
    message = str(raised.value)
    assert message.startswith("Sonic Pi is running (server process 4242) but cannot be reached")
    assert "does not answer /ping within 0.4 s" in message
    assert "not running" not in message


def test_nothing_running_gives_a_clear_message_naming_the_stale_log(tmp_path: Path) -> None:
    old, _ = stale_daemon_log(tmp_path)
    started = time.monotonic()
    with pytest.raises(SonicPiNotRunning) as raised:
        SonicPiClient.connect(log_dir=tmp_path, processes=processes("/usr/bin/bash"))
    assert time.monotonic() - started < 1.0  # nothing answers: ICMP says so in milliseconds
    message = str(raised.value)
    assert message.startswith("Sonic Pi is not running on this machine: no Sonic Pi server")
    assert f"nothing listens on UDP 127.0.0.1:{old} (daemon.log (4.x boot line)): values of a"
    assert "Sonic Pi that has exited" in message
    assert "Start Sonic Pi" in message and "sonic-pi-server" in message


def test_a_stale_configured_port_falls_through_to_the_running_server(
    spider: FakeSpider, tmp_path: Path
) -> None:
    stale = free_udp_port()
    endpoint = discover(
        port=stale, token=1, log_dir=tmp_path, processes=processes(spider.command_line())
    )
    assert endpoint.port == spider.port
    assert f"nothing listens on UDP 127.0.0.1:{stale} (your settings)" in endpoint.describe()


def test_configured_port_and_token_are_used_first(spider: FakeSpider, tmp_path: Path) -> None:
    endpoint = discover(
        port=spider.port,
        token=spider.token,
        reply_port=spider.reply_port,
        log_dir=tmp_path,
        processes=processes(),
    )
    assert endpoint.source == "your settings" and endpoint.confirmed


def test_3x_is_found_from_its_server_process(spider3: FakeSpider, tmp_path: Path) -> None:
    endpoint = discover(log_dir=tmp_path, processes=processes(spider3.command_line()))
    assert endpoint.describe() == (
        f"Sonic Pi 3.2.2 at 127.0.0.1:{spider3.port}, found from its running server (pid 4242)"
    )
    assert endpoint.token is None and endpoint.line_base == 0


def test_when_the_gui_holds_the_reply_port_a_running_servers_values_are_still_used(
    spider: FakeSpider, tmp_path: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gui:
        gui.bind(("127.0.0.1", spider.reply_port))
        endpoint = discover(log_dir=tmp_path, processes=processes(spider.command_line()))
    assert not endpoint.confirmed
    assert "held by another program (its GUI?)" in endpoint.describe()


def test_when_the_gui_holds_the_reply_port_a_logged_token_is_not_trusted(
    spider: FakeSpider, tmp_path: Path
) -> None:
    (tmp_path / "daemon.log").write_text(
        f"[t] 41000 {spider.reply_port} {spider.port} 41003 4560 41005 41006 {spider.token}\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gui:
        gui.bind(("127.0.0.1", spider.reply_port))
        with pytest.raises(SonicPiUnreachable, match="token cannot be confirmed"):
            discover(log_dir=tmp_path, processes=processes(error="no /proc"))


# --- listening before sending -----------------------------------------------------------------


def test_a_reply_sent_while_nobody_listens_is_lost_and_the_next_one_too(
    spider: FakeSpider,
) -> None:
    endpoint = Endpoint("127.0.0.1", spider.port, spider.reply_port, spider.token, 5)
    with SonicPiClient(endpoint) as client:
        client.send("/ping", "early")  # nobody holds the reply port yet: ICMP comes back
        deadline = time.monotonic() + 2
        while len(spider.received) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.listen()  # /ping repeated until one /ack gets through
    assert any("Connection refused" in line for line in spider.log)
    assert sum(1 for r in spider.received if r[0] == "/ping") >= 3


# --- framing and replies --------------------------------------------------------------------


def test_3x_messages_start_with_the_client_id(spider3: FakeSpider) -> None:
    client = SonicPiClient(Endpoint("127.0.0.1", spider3.port, spider3.reply_port))
    client.run_code("play 60")
    client.stop_all_jobs()
    client.save_recording("/tmp/x.wav")
    deadline = time.monotonic() + 2
    while len(spider3.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spider3.received == [
        ("/run-code", ["notegen", "play 60"], ",ss"),
        ("/stop-all-jobs", ["notegen"], ",s"),
        ("/save-recording", ["notegen", "/tmp/x.wav"], ",ss"),
    ]
    client.close()


def test_4x_and_5_messages_start_with_the_token_as_an_int32(spider: FakeSpider) -> None:
    endpoint = Endpoint("127.0.0.1", spider.port, spider.reply_port, spider.token, 5)
    with SonicPiClient(endpoint) as client:
        outcome = client.run("play 60", timeout=2)
    assert ("/run-code", [spider.token, "play 60"], ",is") in spider.received
    assert outcome.completed and outcome.job == 0 and outcome.errors == []
    assert [r.text for r in outcome.logs] == ["synth :beep, {line: 0}"]


def test_an_error_comes_back_with_the_line_of_the_code_sent(spider: FakeSpider) -> None:
    spider.invalid = {":Cx4"}
    endpoint = Endpoint("127.0.0.1", spider.port, spider.reply_port, spider.token, 5)
    with SonicPiClient(endpoint) as client:
        outcome = client.run("use_bpm 60\nplay 60\nplay :Cx4\n", timeout=2)
    (error,) = outcome.errors
    assert error.kind == "error"
    assert error.text == "SonicPi::Note::InvalidNoteError\nInvalid note: :Cx4"
    assert error.line == 2  # 4.x and 5 count from 1: line 3 is index 2


def test_3x_counts_error_lines_from_0(spider3: FakeSpider) -> None:
    spider3.invalid = {":Cx4"}
    with SonicPiClient(Endpoint("127.0.0.1", spider3.port, spider3.reply_port)) as client:
        outcome = client.run("use_bpm 60\nplay 60\nplay :Cx4\n", timeout=2)
    (error,) = outcome.errors
    assert error.line == 2


def test_a_wrong_token_is_reported_instead_of_waiting_forever(spider: FakeSpider) -> None:
    endpoint = Endpoint("127.0.0.1", spider.port, spider.reply_port, 999, 5)
    client = SonicPiClient(endpoint, timeout=0.5)
    with pytest.raises(SonicPiError, match="does not answer /ping"):
        client.listen()
    assert not client.listening
    client.close()


def test_when_the_gui_holds_the_reply_port_code_is_still_sent(spider3: FakeSpider) -> None:
    gui = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gui.bind(("127.0.0.1", spider3.reply_port))
    try:
        with SonicPiClient(Endpoint("127.0.0.1", spider3.port, spider3.reply_port)) as client:
            outcome = client.run("play 60", timeout=5)
        assert outcome.listening is False and outcome.errors == []
        deadline = time.monotonic() + 1
        while not spider3.received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert spider3.received[0][:2] == ("/run-code", ["notegen", "play 60"])
    finally:
        gui.close()


def test_the_reply_port_is_given_back(spider3: FakeSpider) -> None:
    client = SonicPiClient(Endpoint("127.0.0.1", spider3.port, spider3.reply_port))
    assert client.listen()
    client.release()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gui:
        gui.bind(("127.0.0.1", spider3.reply_port))  # Sonic Pi's GUI can start now
    client.close()


# --- code bigger than one datagram --------------------------------------------------------------

BIG = "use_bpm 960\n" + "play 60, release: 0.1\nsleep 0.125\n" * 600 + "play :H4\n"


def test_code_bigger_than_a_datagram_runs_from_a_file_with_its_own_line_numbers(
    spider: FakeSpider,
) -> None:
    assert len(BIG.encode()) > MAX_MESSAGE_BYTES
    spider.invalid = {":H4"}
    endpoint = Endpoint("127.0.0.1", spider.port, spider.reply_port, spider.token, 5)
    with SonicPiClient(endpoint) as client:
        outcome = client.run(BIG, timeout=5)
    assert spider.runs[0].startswith("run_file '") and spider.runs[1] == BIG
    (error,) = outcome.errors
    assert error.line == BIG.count("\n") - 1  # the last line, in the code as written
    assert outcome.completed and outcome.job == 1
    path = Path(spider.runs[0].split("'")[1])
    assert not path.exists()  # removed once Sonic Pi has started its run


def test_sonic_pi_drops_a_datagram_over_16384_bytes(spider: FakeSpider) -> None:
    endpoint = Endpoint("127.0.0.1", spider.port, spider.reply_port, spider.token, 5)
    with SonicPiClient(endpoint) as client, pytest.raises(SonicPiError, match="16384"):
        client.send("/run-code", BIG)
    assert spider.runs == []


def test_big_code_for_a_sonic_pi_on_another_machine_is_refused_saying_why() -> None:
    client = SonicPiClient(Endpoint("192.0.2.1", 4557, 4558))
    with pytest.raises(SonicPiError) as raised:
        client.run_code(BIG)
    client.close()
    message = str(raised.value)
    assert "16384" in message and "192.0.2.1" in message and "smaller part" in message
    assert "Start Sonic Pi" not in message


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
