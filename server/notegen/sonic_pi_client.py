"""Talk to a running Sonic Pi over OSC: run code, stop it, record it, hear what it reports.

Two generations of Sonic Pi speak almost the same protocol (verified against their sources:
3.2.2's ``sonic-pi-server.rb`` and 4.x's ``daemon.rb``/``spider-server.rb``):

* **3.x** listens on UDP 4557 and sends everything it reports to UDP 4558 on 127.0.0.1. The
  first argument of each message is a client id (any string).
* **4.x** picks free ports at start and a random 32-bit token. Its daemon prints, and logs to
  ``~/.sonic-pi/log/daemon.log``, one line ``daemon gui-listen-to-spider gui-send-to-spider
  scsynth osc-cues [tau [phx]] token``; the spider server logs ``Ports: {...}`` and
  ``Token: N`` to ``spider.log``. The token replaces the client id as first argument; a wrong
  token is silently ignored, which is why discovery reads it from the running instance's logs.

Replies (``/error``, ``/syntax_error``, ``/log/info``, ``/ack``...) go to a fixed port that
Sonic Pi's own GUI holds while it runs. We bind it only for the few seconds we need it and only
when it is free, so a GUI started later is never locked out; when it is taken we still send
code, we just cannot read Sonic Pi's answers (they appear in its own log window).

Nothing here blocks for long: every socket operation has a timeout, "is it running?" is
answered by the ICMP port-unreachable a local UDP send provokes (milliseconds), and
:class:`SonicPiNotRunning` says how to start Sonic Pi.
"""

from __future__ import annotations

import contextlib
import functools
import html
import ipaddress
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

__all__ = [
    "DEFAULT_HOST",
    "HOW_TO_START",
    "V3_REPLY_PORT",
    "V3_SERVER_PORT",
    "Endpoint",
    "Report",
    "RunOutcome",
    "SonicPiClient",
    "SonicPiError",
    "SonicPiNotRunning",
    "decode_report",
    "discover",
    "parse_daemon_log",
    "parse_spider_log",
    "sonic_pi_log_dir",
]

DEFAULT_HOST = "127.0.0.1"
V3_SERVER_PORT = 4557
V3_REPLY_PORT = 4558
CLIENT_ID = "notegen"

HOW_TO_START = (  # plain quotes: editors show messages as plain text, backticks would show raw
    "Start Sonic Pi (open the Sonic Pi app and wait until it has finished booting), then try "
    'again. Without the app, on Debian/Ubuntu: "apt-get install sonic-pi-server '
    'supercollider-server jackd2", then "jackd -d dummy -r 44100 &" (or your sound card) and '
    '"ruby /usr/lib/sonic-pi/app/server/ruby/bin/sonic-pi-server.rb -u". '
    'A MIDI file needs no Sonic Pi: "notegen-melody render FILE.rb --midi out.mid".'
)


class SonicPiError(Exception):
    """Sonic Pi could not be reached or did not do what was asked; the message says why."""


class SonicPiNotRunning(SonicPiError):
    """Nothing answers where Sonic Pi should listen; the message says how to start it."""


@dataclass(frozen=True)
class Endpoint:
    """Where a running Sonic Pi listens, where it replies, and how to authenticate."""

    host: str
    port: int
    reply_port: int
    token: int | None = None
    major: int = 3
    source: str = "Sonic Pi 3.x default ports"

    @property
    def line_base(self) -> int:
        """Number Sonic Pi gives the first line of code it reports errors for.

        3.x evaluates with ``firstline - 1`` (0-based line numbers, measured with 3.2.2 here);
        4.x evaluates with ``firstline = 1`` (1-based, read in its ``runtime.rb``).
        """
        return 0 if self.major < 4 else 1

    def first_arg(self) -> int | str:
        """What every message starts with: the 4.x token, or a client id for 3.x."""
        return self.token if self.token is not None else CLIENT_ID

    def describe(self) -> str:
        version = "4.x" if self.major >= 4 else "3.x"
        return f"Sonic Pi {version} at {self.host}:{self.port} ({self.source})"


# --- discovery ------------------------------------------------------------------------------

_TS = r"(?:\[[^\]]*\]\s*)?"
_DAEMON_LINE = re.compile(rf"^{_TS}(-?\d+(?:[ \t]+-?\d+){{5,7}})[ \t]*$", re.MULTILINE)
_SPIDER_PORTS = re.compile(r"^Ports:\s*\{(?P<body>.*)\}\s*$", re.MULTILINE)
_SPIDER_TOKEN = re.compile(r"^Token:\s*(-?\d+)\s*$", re.MULTILINE)


def _hash_value(body: str, key: str) -> int | None:
    """A value from a Ruby hash's ``inspect``: ``:key=>1`` (Ruby < 3.4) or ``key: 1`` (3.4)."""
    match = re.search(rf"(?<![\w]):?{key}(?:\s*=>\s*|:\s*)(\d+)", body)
    return int(match.group(1)) if match else None


def parse_daemon_log(text: str, host: str = DEFAULT_HOST) -> Endpoint | None:
    """Ports and token from a Sonic Pi 4.x daemon log (its last boot wins).

    The daemon writes ``[time] daemon gui-listen-to-spider gui-send-to-spider scsynth osc-cues
    tau phx token``; releases differ in the middle (4.0-4.3 print ``tau`` without ``phx``, the
    development branch drops ``tau``) but all agree on the first three ports and the final
    token, which is all a client needs.
    """
    matches = _DAEMON_LINE.findall(text)
    if not matches:
        return None
    fields = [int(v) for v in matches[-1].split()]
    reply_port, send_port, token = fields[1], fields[2], fields[-1]
    if not (_is_port(reply_port) and _is_port(send_port)):
        return None
    return Endpoint(host, send_port, reply_port, token, 4, "ports and token from daemon.log")


def parse_spider_log(text: str, host: str = DEFAULT_HOST) -> Endpoint | None:
    """Ports and token from a Sonic Pi 4.x spider log (``Ports: {...}`` then ``Token: N``)."""
    ports = _SPIDER_PORTS.findall(text)
    tokens = _SPIDER_TOKEN.findall(text)
    if not ports or not tokens:
        return None
    body = ports[-1]
    send_port = _hash_value(body, "server_port")
    reply_port = _hash_value(body, "gui_port")
    if send_port is None or reply_port is None:
        return None
    return Endpoint(
        host, send_port, reply_port, int(tokens[-1]), 4, "ports and token from spider.log"
    )


def _is_port(value: int) -> bool:
    return 0 < value < 65536


def sonic_pi_log_dir(env: dict[str, str] | None = None) -> Path:
    """``$SONIC_PI_HOME/.sonic-pi/log``, else ``~/.sonic-pi/log`` (as Sonic Pi's paths.rb)."""
    env = dict(os.environ) if env is None else env
    base = env.get("SONIC_PI_HOME") or env.get("USERPROFILE" if os.name == "nt" else "HOME")
    return Path(base or Path.home()).expanduser() / ".sonic-pi" / "log"


def _read_tail(path: Path, limit: int = 256_000) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe(host: str, port: int, timeout: float = 0.25) -> bool:
    """Whether something listens on UDP ``host:port``.

    A datagram to a closed local port comes back as ICMP port-unreachable, which a connected
    UDP socket reports as ``ConnectionRefusedError`` (``ConnectionResetError`` on Windows) on
    the next receive, within milliseconds. Silence means a listener (or, for a remote host, a
    firewall: then we assume it is there and let the run report otherwise). The probe sends
    ``/notegen/probe``, an address Sonic Pi ignores.
    """
    datagram = OscMessageBuilder("/notegen/probe").build().dgram
    try:
        with socket.socket(_family(host), socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect((host, port))
            sock.send(datagram)
            sock.recv(1024)
    except (ConnectionRefusedError, ConnectionResetError):
        return False
    except TimeoutError:
        return True
    except OSError:
        return False
    return True


def _family(host: str) -> int:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


def discover(
    host: str = DEFAULT_HOST,
    port: int | None = None,
    token: int | None = None,
    *,
    reply_port: int | None = None,
    log_dir: Path | None = None,
    probe_timeout: float = 0.25,
) -> Endpoint:
    """Find a running Sonic Pi, or raise :class:`SonicPiNotRunning` saying how to start one.

    An explicit ``port`` wins (4.x when a ``token`` is given). Otherwise a 4.x instance whose
    logged spider port answers, then 3.x on 4557. Takes well under a second.
    """
    if port is not None:
        major = 4 if token is not None else 3
        endpoint = Endpoint(
            host,
            port,
            reply_port or (V3_REPLY_PORT if major == 3 else port + 1),
            token,
            major,
            "configured port",
        )
        if not probe(host, port, probe_timeout):
            raise SonicPiNotRunning(
                f"Sonic Pi is not running: nothing listens on UDP {host}:{port} (the configured "
                f"notegen.sonicPi.port). {HOW_TO_START}"
            )
        return endpoint
    logs = log_dir if log_dir is not None else sonic_pi_log_dir()
    candidates = [
        parse_daemon_log(_read_tail(logs / "daemon.log"), host),
        parse_spider_log(_read_tail(logs / "spider.log"), host),
    ]
    for candidate in candidates:
        if candidate is not None and probe(host, candidate.port, probe_timeout):
            return candidate
    if probe(host, V3_SERVER_PORT, probe_timeout):
        return Endpoint(host, V3_SERVER_PORT, reply_port or V3_REPLY_PORT)
    stale = next((c for c in candidates if c is not None), None)
    where = f"UDP {host}:{V3_SERVER_PORT} (Sonic Pi 3.x)"
    if stale is not None:
        where += f" nor on port {stale.port} from Sonic Pi 4's logs in {logs} (an old session)"
    else:
        where += f", and no Sonic Pi 4 port log in {logs}"
    raise SonicPiNotRunning(f"Sonic Pi is not running: nothing listens on {where}. {HOW_TO_START}")


# --- what Sonic Pi reports --------------------------------------------------------------------

_EVAL_LINE = re.compile(r"\beval:(\d+)")
_RUN_STATE = re.compile(r"^(Starting|Completed|Stopping|Aborted) [Rr]un (\d+)")


@dataclass(frozen=True)
class Report:
    """One message from Sonic Pi, decoded.

    ``kind`` is ``error``, ``syntax_error``, ``info``, ``log`` (a ``puts`` or a played note),
    ``started``/``completed``/``stopped`` (a run, ``job`` says which), ``all_completed``,
    ``ack``, ``version``, ``exited`` or ``other``. ``line`` is the 0-based line of the code we
    sent that an error points at, when Sonic Pi says.
    """

    kind: str
    text: str
    job: int | None = None
    line: int | None = None
    address: str = ""
    args: tuple[Any, ...] = field(default=(), repr=False)


def _is_ack(report: Report, ping_id: str) -> bool:
    """Sonic Pi's answer to our ``/ping`` with this id."""
    return report.kind == "ack" and report.text == ping_id


def decode_report(address: str, args: Iterable[Any], line_base: int = 0) -> Report:
    """Turn an OSC message from Sonic Pi into a :class:`Report` (never raises)."""
    args = tuple(args)

    def arg(i: int, default: Any = None) -> Any:
        return args[i] if len(args) > i else default

    if address in ("/error", "/syntax_error"):
        job = arg(0) if isinstance(arg(0), int) else None
        desc = html.unescape(str(arg(1, "")))
        extra = html.unescape(str(arg(2, "")))
        line = _error_line(address, desc, extra, arg(3), line_base)
        kind = "error" if address == "/error" else "syntax_error"
        if address == "/error" and "SyntaxError" in desc:
            kind = "syntax_error"
        return Report(kind, _clean_error(desc), job, line, address, args)
    if address == "/log/info":
        text = str(arg(1, ""))
        state = _RUN_STATE.match(text)
        if state:
            kinds = {
                "Starting": "started",
                "Completed": "completed",
                "Stopping": "stopped",
                "Aborted": "stopped",
            }
            return Report(kinds[state.group(1)], text, int(state.group(2)), None, address, args)
        if text == "All runs completed":
            return Report("all_completed", text, None, None, address, args)
        return Report("info", text, None, None, address, args)
    if address == "/log/multi_message":
        job = arg(0) if isinstance(arg(0), int) else None
        texts = [str(v) for v in args[5::2]]
        return Report("log", "\n".join(texts), job, None, address, args)
    if address == "/runs/all-completed":
        return Report("all_completed", "All runs completed", None, None, address, args)
    if address == "/ack":
        return Report("ack", str(arg(0, "")), None, None, address, args)
    if address == "/version":
        return Report("version", str(arg(0, "")), None, None, address, args)
    if address in ("/exited", "/exited-with-boot-error"):
        return Report("exited", str(arg(0, "Sonic Pi exited")), None, None, address, args)
    return Report("other", " ".join(map(str, args)), None, None, address, args)


def _error_line(address: str, desc: str, extra: str, line_arg: Any, base: int) -> int | None:
    """0-based line of the sent code an error is about.

    Runtime errors name it in the backtrace (``eval:N`` of the innermost user frame) and in the
    line argument; syntax errors name it only in the description (3.2.2 on Ruby 3 even sends a
    bogus line argument, the line of Sonic Pi's own ``eval`` call).
    """
    found = _EVAL_LINE.search(desc)
    if found is None and address == "/error":
        found = _EVAL_LINE.search(extra)
    if found is not None:
        return max(0, int(found.group(1)) - base)
    if isinstance(line_arg, int) and line_arg >= base and address == "/syntax_error":
        return line_arg - base
    return None


def _clean_error(desc: str) -> str:
    """Sonic Pi's error text without its ``[buffer eval, line N] -`` prefix and thread noise."""
    text = re.sub(r"^\[buffer [^\]]*\]\s*-?\s*", "", desc.strip())
    text = text.replace("\nThread death!\n", "\n").replace("Thread death!", "")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# --- the client -----------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """What happened to one ``/run-code``: its job number, errors, log lines, and whether it
    finished (``completed``) or we stopped waiting (``timed_out``)."""

    job: int | None = None
    errors: list[Report] = field(default_factory=list)
    logs: list[Report] = field(default_factory=list)
    completed: bool = False
    timed_out: bool = False
    listening: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors


class SonicPiClient:
    """One connection to one Sonic Pi. Thread-safe sends; replies only while :meth:`listen`-ing.

    Use :meth:`connect` (discovery with a one-second bound) rather than the constructor.
    """

    def __init__(self, endpoint: Endpoint, *, timeout: float = 1.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._send_sock = socket.socket(_family(endpoint.host), socket.SOCK_DGRAM)
        self._send_lock = threading.Lock()
        self._reply_sock: socket.socket | None = None
        self._reports: queue.Queue[Report] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._observers: list[Callable[[Report], None]] = []

    @classmethod
    def connect(
        cls,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        token: int | None = None,
        *,
        reply_port: int | None = None,
        log_dir: Path | None = None,
        timeout: float = 1.0,
    ) -> SonicPiClient:
        """Find Sonic Pi (see :func:`discover`) and return a client for it."""
        endpoint = discover(
            host,
            port,
            token,
            reply_port=reply_port,
            log_dir=log_dir,
            probe_timeout=min(0.25, timeout / 3),
        )
        return cls(endpoint, timeout=timeout)

    # sending
    def send(self, address: str, *args: Any) -> None:
        """Send ``address`` with the token / client id first, as Sonic Pi expects."""
        builder = OscMessageBuilder(address)
        for value in (self.endpoint.first_arg(), *args):
            builder.add_arg(value)
        datagram = builder.build().dgram
        with self._send_lock:
            try:
                self._send_sock.sendto(datagram, (self.endpoint.host, self.endpoint.port))
            except OSError as exc:
                raise SonicPiError(
                    f"Cannot send to {self.endpoint.describe()}: {exc}. {HOW_TO_START}"
                ) from exc

    def run_code(self, code: str) -> None:
        """Ask Sonic Pi to run ``code`` (``/run-code``); returns at once."""
        self.send("/run-code", code)

    def stop_all_jobs(self) -> None:
        """Stop everything Sonic Pi is playing (``/stop-all-jobs``), as its Stop button."""
        self.send("/stop-all-jobs")

    def start_recording(self) -> None:
        self.send("/start-recording")

    def stop_recording(self) -> None:
        self.send("/stop-recording")

    def save_recording(self, path: str | os.PathLike[str]) -> None:
        """Move the last recording to ``path`` (a path on the machine Sonic Pi runs on)."""
        self.send("/save-recording", str(Path(path).resolve()))

    # listening
    @property
    def listening(self) -> bool:
        return self._reply_sock is not None

    def listen(self) -> bool:
        """Take Sonic Pi's reply port if it is free; ``False`` when its GUI (or anything) holds
        it or Sonic Pi runs on another host. Confirms with a ``/ping``, retried, because
        Sonic Pi's sender loses the first message after replies had nowhere to go."""
        if self._reply_sock is not None:
            return True
        if not _is_local(self.endpoint.host):
            return False
        sock = socket.socket(_family(self.endpoint.host), socket.SOCK_DGRAM)
        try:
            sock.bind(
                (
                    self.endpoint.host if self.endpoint.host != "localhost" else DEFAULT_HOST,
                    self.endpoint.reply_port,
                )
            )
        except OSError:
            sock.close()
            return False
        sock.settimeout(0.05)
        self._reply_sock = sock
        self._stop.clear()
        self._reader = threading.Thread(
            target=self._read_loop, name="sonic-pi-replies", daemon=True
        )
        self._reader.start()
        self._handshake()
        return True

    def _handshake(self) -> None:
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            ping_id = f"notegen-{os.getpid()}-{attempt}"
            self.send("/ping", ping_id)
            found = self.wait_for(
                functools.partial(_is_ack, ping_id=ping_id),
                timeout=min(0.2, max(0.0, deadline - time.monotonic())),
            )
            if found is not None:
                return
        self.release()
        raise SonicPiError(
            f"{self.endpoint.describe()} does not answer /ping within {self.timeout:g} s"
            + (
                " (is the token from its logs current? restart Sonic Pi)"
                if self.endpoint.token is not None
                else ""
            )
            + f". {HOW_TO_START}"
        )

    def release(self) -> None:
        """Give the reply port back (so Sonic Pi's GUI can take it)."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=1.0)
            self._reader = None
        if self._reply_sock is not None:
            self._reply_sock.close()
            self._reply_sock = None

    def add_observer(self, observer: Callable[[Report], None]) -> None:
        """Call ``observer`` (on the reader thread) with every report as it arrives."""
        self._observers.append(observer)

    def _read_loop(self) -> None:
        sock = self._reply_sock
        assert sock is not None
        base = self.endpoint.line_base
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                messages = OscPacket(data).messages
            except ParseError:
                continue
            for timed in messages:
                report = decode_report(timed.message.address, timed.message.params, base)
                self._reports.put(report)
                for observer in list(self._observers):
                    with contextlib.suppress(Exception):
                        observer(report)

    def drain(self) -> list[Report]:
        """Reports received so far and not yet consumed."""
        out: list[Report] = []
        while True:
            try:
                out.append(self._reports.get_nowait())
            except queue.Empty:
                return out

    def wait_for(
        self, predicate: Callable[[Report], bool], timeout: float, seen: list[Report] | None = None
    ) -> Report | None:
        """The first report matching ``predicate`` within ``timeout`` seconds (others go to
        ``seen`` when given)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                report = self._reports.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            if predicate(report):
                return report
            if seen is not None:
                seen.append(report)

    def run(self, code: str, *, timeout: float, start_timeout: float = 2.0) -> RunOutcome:
        """Run ``code`` and collect its errors and logs until it completes or ``timeout``.

        Without the reply port (GUI running) the code is sent and the outcome says
        ``listening=False``: nothing can be known about errors.
        """
        listening = self.listen()
        self.drain()
        self.run_code(code)
        outcome = RunOutcome(listening=listening)
        if not listening:
            return outcome
        started = self.wait_for(lambda r: r.kind == "started", start_timeout)
        if started is None:
            outcome.timed_out = True
            return outcome
        outcome.job = started.job
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            report = self.wait_for(lambda r: True, remaining) if remaining > 0 else None
            if report is None:
                outcome.timed_out = True
                return outcome
            if report.job is not None and report.job != outcome.job:
                continue
            if report.kind in ("error", "syntax_error"):
                outcome.errors.append(report)
            elif report.kind in ("log", "info"):
                outcome.logs.append(report)
            elif report.kind in ("completed", "stopped") and report.job == outcome.job:
                outcome.completed = True
                return outcome
            elif report.kind == "exited":
                outcome.errors.append(report)
                return outcome

    def close(self) -> None:
        self.release()
        self._send_sock.close()

    def __enter__(self) -> SonicPiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
