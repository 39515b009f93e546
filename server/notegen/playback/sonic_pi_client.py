"""Talk to a running Sonic Pi over OSC: find it, run code, stop it, record it, hear its replies.

Facts this follows, read in Sonic Pi's source (sonic-pi-net/sonic-pi: 3.2.2's
``sonic-pi-server.rb``; ``daemon.rb``, ``spider-server.rb`` and ``app/api/src/sonicpi_api.cpp``
of v4.0.0-v4.5.1 and the v5.0.0-beta-1 development branch):

* **3.x** listens on UDP 4557 and replies to UDP 4558 on 127.0.0.1. The first argument of each
  message is a client id (any string).
* **4.x and 5** pick free ports at each start and a random 32-bit token, the first argument of
  every message; a wrong token is silently ignored. Where to find them is
  :mod:`notegen.playback.sonic_pi_discovery`'s job; every candidate is confirmed here with
  ``/ping`` → ``/ack`` (``/ping`` is answered only with the right token) before it is used.
* The spider server sends replies (``/log/info``, ``/error``, ``/syntax_error``, ``/ack``...)
  over a *connected* UDP socket to the reply port. A datagram to a port nobody holds comes back
  as ICMP port-unreachable, and the socket's next send then fails ("Connection refused" in
  spider.log) and is lost. So we bind the reply port *before* sending anything, and repeat
  ``/ping`` until it is answered.
* Its UDP server reads at most 16384 bytes of one datagram (``recvfrom(16384)`` in every
  version's ``udp_server.rb``): longer code is written to a file that ``run_file`` (Sonic Pi's
  own, since 2.11) runs; a Sonic Pi on another machine cannot read our files, so there it is
  refused with a message saying so.

The reply port is the one Sonic Pi's own GUI holds while it runs. We bind it only for the few
seconds we need it and only when it is free, so a GUI started later is never locked out; when
it is taken we still send code, we just cannot read Sonic Pi's answers (they appear in its own
log window). Nothing here blocks for long: every socket operation has a timeout.
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
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from notegen.playback.sonic_pi_discovery import (
    V3_REPLY_PORT,
    V3_SERVER_PORT,
    Candidate,
    ProcessLister,
    ProcessTable,
    candidates_from_logs,
    candidates_from_processes,
    list_processes,
    sonic_pi_log_dir,
)

__all__ = [
    "DEFAULT_HOST",
    "HOW_TO_START",
    "MAX_MESSAGE_BYTES",
    "V3_REPLY_PORT",
    "V3_SERVER_PORT",
    "Endpoint",
    "Report",
    "RunOutcome",
    "SentCode",
    "SonicPiClient",
    "SonicPiError",
    "SonicPiNotRunning",
    "SonicPiUnreachable",
    "decode_report",
    "discover",
    "probe",
    "sonic_pi_log_dir",
]

DEFAULT_HOST = "127.0.0.1"
CLIENT_ID = "notegen"
MAX_MESSAGE_BYTES = 16384
"""The most Sonic Pi reads of one UDP datagram (``recvfrom(16384)`` in its ``udp_server.rb``)."""

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
    """No Sonic Pi runs here (none in the process table, nothing answers); says how to start one."""


class SonicPiUnreachable(SonicPiError):
    """A Sonic Pi (probably) runs but cannot be reached; the message says exactly what failed."""


_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Endpoint:
    """Where a running Sonic Pi listens, where it replies, how to authenticate, and how it was
    found (``source``) and confirmed (``confirmed``: it answered ``/ping``)."""

    host: str
    port: int
    reply_port: int
    token: int | None = None
    major: int = 3
    source: str = "Sonic Pi 3.x default ports"
    version: str = ""
    """What Sonic Pi answered to ``/version`` (``v5.0.0-beta-1``), "" when unknown."""
    confirmed: bool = True
    note: str = ""
    pid: int | None = None

    @property
    def line_base(self) -> int:
        """Number Sonic Pi gives the first line of code it reports errors for.

        3.x evaluates with ``firstline - 1`` (0-based line numbers, measured with 3.2.2 here);
        4.x and 5 evaluate with ``firstline = 1`` (1-based, read in their ``runtime.rb``).
        """
        return 0 if self.major < 4 else 1

    def first_arg(self) -> int | str:
        """What every message starts with: the 4.x/5 token, or a client id for 3.x."""
        return self.token if self.token is not None else CLIENT_ID

    def label(self) -> str:
        """``Sonic Pi 5.0.0-beta-1``, or the generation when it did not say."""
        if self.version:
            return f"Sonic Pi {self.version.removeprefix('v')}"
        return "Sonic Pi 4.x or 5" if self.token is not None else "Sonic Pi 3.x"

    def describe(self) -> str:
        """``Sonic Pi 5.0.0-beta-1 at 127.0.0.1:37062, found from its running server``."""
        text = f"{self.label()} at {self.host}:{self.port}, found from {self.source}"
        return text + (f" ({self.note})" if self.note else "")


def _major(version: str, default: int) -> int:
    found = _VERSION.match(version.strip())
    return int(found.group(1)) if found else default


# --- reaching it -------------------------------------------------------------------------


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


@dataclass(frozen=True)
class SentCode:
    """How code went to Sonic Pi: in the message itself (one run), or, too big for one
    datagram, in ``file`` that a small ``run_file`` run starts as a second run."""

    runs: int = 1
    file: Path | None = None
    size: int = 0


_TEMP_PREFIX = "notegen-play-"
_TEMP_MAX_AGE_S = 3600.0


def _ruby_string(text: str) -> str:
    """A single-quoted Ruby string literal (no interpolation; only ``\\`` and ``'`` escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _prune_temp_files(directory: Path) -> None:
    """Remove our code files older than an hour (Sonic Pi read them long ago)."""
    cutoff = time.time() - _TEMP_MAX_AGE_S
    with contextlib.suppress(OSError):
        for old in directory.glob(f"{_TEMP_PREFIX}*.rb"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    old.unlink()


class SonicPiClient:
    """One connection to one Sonic Pi. Thread-safe sends; replies only while :meth:`listen`-ing.

    Use :meth:`connect` (discovery, confirmed with ``/ping``) rather than the constructor.
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
        processes: ProcessLister | None = None,
        timeout: float = 1.0,
    ) -> SonicPiClient:
        """Find Sonic Pi (see :func:`discover`) and return a client for it."""
        endpoint = discover(
            host,
            port,
            token,
            reply_port=reply_port,
            log_dir=log_dir,
            processes=processes,
            timeout=timeout,
        )
        return cls(endpoint, timeout=timeout)

    # sending
    def _datagram(self, address: str, *args: Any) -> bytes:
        builder = OscMessageBuilder(address)
        for value in (self.endpoint.first_arg(), *args):
            builder.add_arg(value)
        return builder.build().dgram

    def send(self, address: str, *args: Any) -> None:
        """Send ``address`` with the token / client id first, as Sonic Pi expects."""
        self._send(self._datagram(address, *args))

    def _send(self, datagram: bytes) -> None:
        if len(datagram) > MAX_MESSAGE_BYTES:
            raise SonicPiError(
                f"a {len(datagram)}-byte message is more than the {MAX_MESSAGE_BYTES} bytes "
                "Sonic Pi reads of one UDP datagram"
            )
        with self._send_lock:
            try:
                self._send_sock.sendto(datagram, (self.endpoint.host, self.endpoint.port))
            except OSError as exc:
                raise SonicPiError(f"Cannot send to {self.endpoint.describe()}: {exc}") from exc

    def run_code(self, code: str) -> SentCode:
        """Ask Sonic Pi to run ``code`` (``/run-code``); returns at once.

        Code too big for one datagram goes through a file and ``run_file`` (two runs: the
        small one that reads the file, then the code's own, with the same line numbers).
        Raises :class:`SonicPiError` when that is impossible (Sonic Pi on another machine).
        """
        datagram = self._datagram("/run-code", code)
        if len(datagram) <= MAX_MESSAGE_BYTES:
            self._send(datagram)
            return SentCode(1, None, len(datagram))
        if not _is_local(self.endpoint.host):
            raise SonicPiError(
                f"The code to play is {len(datagram)} bytes; Sonic Pi reads at most "
                f"{MAX_MESSAGE_BYTES} bytes of one message, and it runs on "
                f"{self.endpoint.host}, which cannot read a file from this machine. Play a "
                "smaller part (one voice, or a selection)."
            )
        directory = Path(tempfile.gettempdir())
        _prune_temp_files(directory)
        handle, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".rb", dir=directory)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(code)
        path = Path(name)
        try:
            self._send(self._datagram("/run-code", f"run_file {_ruby_string(str(path))}\n"))
        except SonicPiError:
            path.unlink(missing_ok=True)
            raise
        return SentCode(2, path, len(datagram))

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
        """Take Sonic Pi's reply port if it is free, then confirm with ``/ping`` → ``/ack``.

        ``False`` when its GUI (or anything) holds the port or Sonic Pi runs on another host;
        raises :class:`SonicPiError` when the port is ours but Sonic Pi does not answer.
        """
        if self._reply_sock is not None:
            return True
        if not self.bind():
            return False
        self.handshake()
        return True

    def bind(self) -> bool:
        """Hold the reply port and start reading it (``False`` when that is impossible)."""
        if self._reply_sock is not None:
            return True
        if not _is_local(self.endpoint.host) or not 0 < self.endpoint.reply_port < 65536:
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
        with contextlib.suppress(OSError):  # room for a burst of log lines (capped by the OS)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.settimeout(0.05)
        self._reply_sock = sock
        self._stop.clear()
        self._reader = threading.Thread(
            target=self._read_loop, name="sonic-pi-replies", daemon=True
        )
        self._reader.start()
        return True

    def handshake(self, timeout: float | None = None) -> None:
        """``/ping`` until ``/ack`` (repeated: Sonic Pi's connected reply socket drops the
        first reply after one that had nowhere to go); gives the port back and raises when
        no answer comes within ``timeout`` (default: the client's)."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
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
        raise SonicPiUnreachable(
            f"{self.endpoint.describe()} does not answer /ping within {limit:g} s"
            + (
                " (a wrong token is ignored without a word: are these values current?)"
                if self.endpoint.token is not None
                else ""
            )
        )

    def query_version(self, timeout: float = 0.3) -> str:
        """What Sonic Pi answers to ``/version`` (``v5.0.0-beta-1``), "" without an answer."""
        if not self.listening:
            return ""
        self.send("/version")
        found = self.wait_for(lambda r: r.kind == "version", timeout)
        return found.text if found is not None else ""

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

    def follow(self, sent: SentCode, *, timeout: float, start_timeout: float = 2.0) -> RunOutcome:
        """Collect the errors and logs of the run(s) ``sent`` started, until the code's own run
        completes, fails, or ``timeout`` passes. Needs :meth:`listen` first."""
        outcome = RunOutcome()
        ours: list[int] = []
        deadline = time.monotonic() + start_timeout
        while len(ours) < sent.runs:
            started = self.wait_for(
                lambda r: r.kind in ("started", "error", "syntax_error"),
                max(0.0, deadline - time.monotonic()),
            )
            if started is None:
                outcome.timed_out = True
                return outcome
            if started.kind != "started":  # the run_file run failed (its file is gone?)
                if started.job in ours:
                    outcome.errors.append(started)
                    outcome.completed = True
                    return outcome
                continue
            ours.append(started.job if started.job is not None else -1)
            if len(ours) == 1 and sent.runs > 1:
                deadline = time.monotonic() + start_timeout
        if sent.file is not None:  # Sonic Pi has read it: its run has started
            sent.file.unlink(missing_ok=True)
        outcome.job = ours[-1]
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            report = self.wait_for(lambda r: True, remaining) if remaining > 0 else None
            if report is None:
                outcome.timed_out = True
                return outcome
            if report.job is not None and report.job not in ours:
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

    def run(self, code: str, *, timeout: float, start_timeout: float = 2.0) -> RunOutcome:
        """Run ``code`` and collect its errors and logs until it completes or ``timeout``.

        Without the reply port (GUI running) the code is sent and the outcome says
        ``listening=False``: nothing can be known about errors.
        """
        listening = self.listen()
        self.drain()
        sent = self.run_code(code)
        if not listening:
            return RunOutcome(listening=False)
        return self.follow(sent, timeout=timeout, start_timeout=start_timeout)

    def close(self) -> None:
        self.release()
        self._send_sock.close()

    def __enter__(self) -> SonicPiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- discovery ------------------------------------------------------------------------------


def _endpoint(host: str, candidate: Candidate) -> Endpoint:
    source = candidate.source
    if candidate.pid is not None:
        source += f" (pid {candidate.pid})"
    return Endpoint(
        host,
        candidate.port,
        candidate.reply_port,
        candidate.token,
        3 if candidate.token is None else 4,
        source,
        confirmed=False,
        pid=candidate.pid,
    )


def _confirm(host: str, candidate: Candidate, timeout: float) -> Endpoint | str:
    """The candidate as a confirmed endpoint, or why it is not usable (one short sentence)."""
    where = f"UDP {host}:{candidate.port} ({candidate.source}"
    where += f", pid {candidate.pid})" if candidate.pid is not None else ")"
    endpoint = _endpoint(host, candidate)
    if candidate.protocol != "udp":
        return f"{where} talks TCP to its GUI (started with -t); notegen speaks UDP"
    if not probe(host, candidate.port, min(0.25, timeout)):
        stale = ": values of a Sonic Pi that has exited" if candidate.from_log else ""
        return f"nothing listens on {where}{stale}"
    if not _is_local(host):
        note = "on another machine: its replies go to that machine, so errors show only there"
        return replace(endpoint, note=note)
    if candidate.reply_port == 0:
        note = "its reply port is unknown (setting replyPort), so its replies cannot be read"
        return replace(endpoint, note=note)
    client = SonicPiClient(endpoint, timeout=timeout)
    try:
        if not client.bind():
            busy = f"reply port {candidate.reply_port} is held by another program (its GUI?)"
            if candidate.token is None or candidate.live:
                # 3.x takes any client id, and a running process's token is current: send,
                # but Sonic Pi's replies go to its GUI's log window.
                return replace(endpoint, note=busy + ", so its replies show in its own log")
            return f"{where}: its {busy}, so its token cannot be confirmed with /ping"
        try:
            client.handshake(timeout)
        except SonicPiUnreachable:
            why = f"{where} does not answer /ping within {timeout:g} s"
            if candidate.token is not None and not candidate.live:
                why += " (its token is probably an earlier Sonic Pi's)"
            return why
        version = client.query_version(min(0.5, timeout))
    finally:
        client.close()
    return replace(endpoint, version=version, major=_major(version, endpoint.major), confirmed=True)


def discover(
    host: str = DEFAULT_HOST,
    port: int | None = None,
    token: int | None = None,
    *,
    reply_port: int | None = None,
    log_dir: Path | None = None,
    processes: ProcessLister | None = None,
    timeout: float = 1.0,
) -> Endpoint:
    """Find a running Sonic Pi and confirm it answers, or raise saying precisely why not.

    Candidates, in order, each confirmed with ``/ping`` → ``/ack`` before use: the explicit
    ``port`` (and ``token``, ``reply_port``); running spider servers' command lines (the
    process table); ``gui.log``; 4.x's ``daemon.log`` boot line; 4.x's ``spider.log``; 3.x's
    UDP 4557. Raises :class:`SonicPiNotRunning` when the process table shows no Sonic Pi and
    nothing answers, :class:`SonicPiUnreachable` when one runs (or may run) but does not.
    """
    local = _is_local(host)
    table = (processes or list_processes)() if local else ProcessTable(error="remote host")
    running = candidates_from_processes(table)
    candidates: list[Candidate] = []
    if port is not None:
        match = next((c for c in running if c.port == port), None)
        replies = reply_port or (match.reply_port if match else None)
        if replies is None:
            replies = V3_REPLY_PORT if token is None else 0
        candidates.append(
            Candidate(
                port, replies, token, "your settings", live=True, pid=match.pid if match else None
            )
        )
    candidates += running
    logs = log_dir if log_dir is not None else sonic_pi_log_dir()
    if local:
        candidates += candidates_from_logs(logs)
    candidates.append(
        Candidate(V3_SERVER_PORT, reply_port or V3_REPLY_PORT, None, "Sonic Pi 3.x's fixed ports")
    )
    reasons: list[str] = []
    seen: set[tuple[int, int, int | None]] = set()
    for candidate in candidates:
        if candidate.key in seen:
            continue
        seen.add(candidate.key)
        result = _confirm(host, candidate, timeout)
        if isinstance(result, Endpoint):
            if reasons and port is not None:
                result = replace(result, note="; ".join(filter(None, [result.note, reasons[0]])))
            return result
        reasons.append(result)
    raise _not_found(host, table, running, reasons, logs)


def _not_found(
    host: str,
    table: ProcessTable,
    running: list[Candidate],
    reasons: list[str],
    logs: Path,
) -> SonicPiError:
    tried = "; ".join(reasons)
    if running:
        pids = ", ".join(str(c.pid) for c in running)
        return SonicPiUnreachable(
            f"Sonic Pi is running (server process {pids}) but cannot be reached: {tried}. "
            "If it is still booting, wait until it has finished; otherwise restart Sonic Pi."
        )
    if table.error is not None and _is_local(host):
        return SonicPiUnreachable(
            f"No Sonic Pi answers, and the process table could not be read ({table.error}), "
            f"so a running Sonic Pi 4.x/5 cannot be found from its server's command line. "
            f"Tried: {tried}. If Sonic Pi runs, set notegen.sonicPi.port and its token "
            f"(notegen-melody play --port/--token); otherwise: {HOW_TO_START}"
        )
    hidden = (
        f" ({table.skipped} processes' command lines could not be read)" if table.skipped else ""
    )
    where = "on this machine" if _is_local(host) else f"at {host}"
    return SonicPiNotRunning(
        f"Sonic Pi is not running {where}: no Sonic Pi server in the process table{hidden}, "
        f"and nothing answers ({tried}; logs in {logs}). {HOW_TO_START}"
    )
