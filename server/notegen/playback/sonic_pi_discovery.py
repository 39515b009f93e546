"""Where a Sonic Pi might be listening: candidates from its processes and its logs.

Every value here is only a *candidate*; :func:`notegen.playback.sonic_pi_client.discover` confirms
each one with ``/ping`` → ``/ack`` before using it, because logs outlive the instance that wrote
them. Facts this relies on (read in sonic-pi-net/sonic-pi at v3.2.2, v4.0.0-v4.5.1 and the
v5.0.0-beta-1 development branch):

* The spider server (4.x, 5) is started as ``ruby ... spider-server.rb -u <listen-to-gui>
  <send-to-gui> <scsynth> <scsynth-send> <osc-cues> <tau> <listen-to-tau> <token>``
  (``SpiderBooter`` in ``daemon.rb``): the running process's command line is the one source
  that is always current. 3.x's ``sonic-pi-server.rb`` takes ``-u <port> <gui-port> ...`` too,
  or no arguments (4557 and 4558).
* 4.0-4.5.1's daemon logs the 8 values it prints to the GUI (``daemon gui-listen-to-spider
  gui-send-to-spider scsynth osc-cues tau phx token``) to ``daemon.log`` at boot. Since upstream
  commit 6a93b79 (July 2024, Sonic Pi 5) it logs ``Selected ports`` and ``Token`` only when it
  *exits*: those are never a running instance's values, so they are not read at all.
* The Qt GUI's API layer logs the same 8 values as ``daemon_stdout: N`` lines to ``gui.log``,
  at INFO level, which its default level (WARNING) filters out: present only sometimes.
* 4.0-4.5.1's spider server printed ``Ports: {...}`` and ``Token: N`` to ``spider.log``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Candidate",
    "ProcessLister",
    "ProcessTable",
    "candidates_from_logs",
    "candidates_from_processes",
    "list_processes",
    "parse_daemon_log",
    "parse_gui_log",
    "parse_spider_log",
    "read_tail",
    "sonic_pi_log_dir",
]

V3_SERVER_PORT = 4557
V3_REPLY_PORT = 4558


@dataclass(frozen=True)
class Candidate:
    """Ports and token that may belong to a running Sonic Pi, and where they were found.

    ``port`` is where Sonic Pi listens (spider's listen-to-gui), ``reply_port`` where it sends
    its replies (send-to-gui). ``token`` is ``None`` for 3.x, which takes any client id.
    ``live`` says the values are current by construction (a running process's command line,
    or the user's own settings), not read from a file that may be an exited instance's;
    ``pid`` is the process.
    """

    port: int
    reply_port: int
    token: int | None
    source: str
    live: bool = False
    pid: int | None = None
    protocol: str = "udp"

    @property
    def from_log(self) -> bool:
        return ".log" in self.source

    @property
    def key(self) -> tuple[int, int, int | None]:
        return (self.port, self.reply_port, self.token)


# --- the process table ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessTable:
    """Command lines of running processes (pid, command line), or why they could not be read."""

    entries: tuple[tuple[int, str], ...] = ()
    error: str | None = None
    skipped: int = 0
    """Processes whose command line could not be read (another user's, under ``hidepid``)."""


ProcessLister = Callable[[], ProcessTable]

_SPIDER = re.compile(
    r"spider-server\.rb[\"']?\s+-(?P<proto>[ut])"
    r"(?P<ints>(?:\s+-?\d+){8})(?:\s|$)"
)
_V3_SERVER = re.compile(
    r"sonic-pi-server\.rb[\"']?(?:\s+-(?P<proto>[ut])(?:\s+(?P<port>\d+))?(?:\s+(?P<reply>\d+))?)?"
)


def candidates_from_processes(table: ProcessTable) -> list[Candidate]:
    """Candidates from running spider servers (4.x, 5), then 3.x ``sonic-pi-server.rb``."""
    out: list[Candidate] = []
    for pid, command in table.entries:
        spider = _SPIDER.search(command)
        if spider is not None:
            ints = [int(v) for v in spider.group("ints").split()]
            port, reply, token = ints[0], ints[1], ints[7]
            if _is_port(port) and _is_port(reply):
                out.append(
                    Candidate(
                        port,
                        reply,
                        token,
                        "its running server",
                        live=True,
                        pid=pid,
                        protocol="tcp" if spider.group("proto") == "t" else "udp",
                    )
                )
            continue
        v3 = _V3_SERVER.search(command)
        if v3 is not None:
            port = int(v3.group("port") or V3_SERVER_PORT)
            reply = int(v3.group("reply") or V3_REPLY_PORT)
            if _is_port(port) and _is_port(reply):
                out.append(
                    Candidate(
                        port,
                        reply,
                        None,
                        "its running server",
                        live=True,
                        pid=pid,
                        protocol="tcp" if v3.group("proto") == "t" else "udp",
                    )
                )
    return sorted(out, key=lambda c: c.token is None)


def list_processes() -> ProcessTable:
    """This machine's processes: ``/proc`` on Linux, ``ps`` on macOS/BSD, PowerShell (CIM)
    on Windows. Never raises; ``error`` says why nothing could be read."""
    if sys.platform.startswith("win"):
        return _windows_processes()
    if Path("/proc/self/cmdline").exists():
        return _proc_processes(Path("/proc"))
    return _ps_processes()


def _proc_processes(root: Path) -> ProcessTable:
    try:
        pids = [int(name) for name in os.listdir(root) if name.isdigit()]
    except OSError as exc:
        return ProcessTable(error=f"cannot list {root}: {exc.strerror or exc}")
    entries: list[tuple[int, str]] = []
    skipped = 0
    for pid in pids:
        try:
            raw = (root / str(pid) / "cmdline").read_bytes()
        except FileNotFoundError:
            continue  # exited meanwhile
        except OSError:
            skipped += 1
            continue
        if raw:
            entries.append((pid, raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")))
    return ProcessTable(tuple(entries), None, skipped)


def _run_lister(argv: list[str], what: str, timeout: float) -> tuple[str | None, str | None]:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,  # (the server's stdin is its client's messages: not shared)
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            errors="replace",
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot run {what}: {exc}"
    if done.returncode != 0:
        return None, f"{what} failed ({done.returncode}): {done.stderr.strip()[:200]}"
    return done.stdout, None


def _ps_processes() -> ProcessTable:
    out, error = _run_lister(["ps", "-axww", "-o", "pid=,command="], "ps", 3.0)
    if out is None:
        return ProcessTable(error=error)
    entries = []
    for line in out.splitlines():
        pid, _, command = line.strip().partition(" ")
        if pid.isdigit():
            entries.append((int(pid), command.strip()))
    return ProcessTable(tuple(entries))


_PS_SCRIPT = (
    "Get-CimInstance Win32_Process -Filter \"Name like 'ruby%'\" | "
    'ForEach-Object { "$($_.ProcessId)`t$($_.CommandLine)" }'
)


def _windows_processes() -> ProcessTable:
    out, error = _run_lister(
        ["powershell", "-NoProfile", "-NonInteractive", "-Command", _PS_SCRIPT],
        "PowerShell Get-CimInstance Win32_Process",
        8.0,
    )
    if out is None:
        return ProcessTable(error=error)
    entries = []
    for line in out.splitlines():
        pid, _, command = line.partition("\t")
        if pid.strip().isdigit():
            entries.append((int(pid.strip()), command.strip()))
    return ProcessTable(tuple(entries))


# --- log files -----------------------------------------------------------------------------

_TS = r"(?:\[[^\]\n]*\]\s*)?"
_DAEMON_LINE = re.compile(rf"^{_TS}(-?\d+(?:[ \t]+-?\d+){{5,7}})[ \t]*$", re.MULTILINE)
_GUI_LINE = re.compile(r"daemon_stdout:\s*(-?\d+)\s*$", re.MULTILINE)
_SPIDER_PORTS = re.compile(r"^Ports:\s*\{(?P<body>.*)\}\s*$", re.MULTILINE)
_SPIDER_TOKEN = re.compile(r"^Token:\s*(-?\d+)\s*$", re.MULTILINE)


def _is_port(value: int) -> bool:
    return 0 < value < 65536


def parse_daemon_log(text: str) -> Candidate | None:
    """The 8-value line 4.0-4.5.1's daemon logs at boot (the last boot wins).

    ``daemon gui-listen-to-spider gui-send-to-spider scsynth osc-cues tau phx token``; older
    development snapshots printed fewer values in the middle, but all agree on the first three
    ports and the final token. Sonic Pi 5 writes no such line (its exit-time ``Selected
    ports``/``Token`` block is an exited instance's and is ignored).
    """
    matches = _DAEMON_LINE.findall(text)
    if not matches:
        return None
    fields = [int(v) for v in matches[-1].split()]
    reply_port, send_port, token = fields[1], fields[2], fields[-1]
    if not (_is_port(reply_port) and _is_port(send_port)):
        return None
    return Candidate(send_port, reply_port, token, "daemon.log (4.x boot line)")


def parse_gui_log(text: str) -> Candidate | None:
    """The GUI's ``daemon_stdout: N`` lines (its last 8), present when it logs at INFO."""
    values = [int(v) for v in _GUI_LINE.findall(text)]
    if len(values) < 8:
        return None
    fields = values[-8:]
    reply_port, send_port, token = fields[1], fields[2], fields[7]
    if not (_is_port(reply_port) and _is_port(send_port)):
        return None
    return Candidate(send_port, reply_port, token, "gui.log")


def _hash_value(body: str, key: str) -> int | None:
    """A value from a Ruby hash's ``inspect``: ``:key=>1`` (Ruby < 3.4) or ``key: 1`` (3.4)."""
    match = re.search(rf"(?<![\w]):?{key}(?:\s*=>\s*|:\s*)(\d+)", body)
    return int(match.group(1)) if match else None


def parse_spider_log(text: str) -> Candidate | None:
    """Ports and token 4.0-4.5.1's spider printed at boot (``Ports: {...}``, ``Token: N``)."""
    ports = _SPIDER_PORTS.findall(text)
    tokens = _SPIDER_TOKEN.findall(text)
    if not ports or not tokens:
        return None
    body = ports[-1]
    send_port = _hash_value(body, "server_port")
    reply_port = _hash_value(body, "gui_port")
    if send_port is None or reply_port is None:
        return None
    return Candidate(send_port, reply_port, int(tokens[-1]), "spider.log (4.x boot lines)")


def sonic_pi_log_dir(env: dict[str, str] | None = None) -> Path:
    """``$SONIC_PI_HOME/.sonic-pi/log``, else ``~/.sonic-pi/log`` (as Sonic Pi's paths.rb)."""
    env = dict(os.environ) if env is None else env
    base = env.get("SONIC_PI_HOME") or env.get("USERPROFILE" if os.name == "nt" else "HOME")
    return Path(base or Path.home()).expanduser() / ".sonic-pi" / "log"


def read_tail(path: Path, limit: int = 256_000) -> str:
    """The last ``limit`` bytes of a log ("" when it cannot be read)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def candidates_from_logs(log_dir: Path) -> list[Candidate]:
    """gui.log, then daemon.log's 4.x boot line, then 4.x spider.log, whichever exist."""
    parsed = [
        parse_gui_log(read_tail(log_dir / "gui.log")),
        parse_daemon_log(read_tail(log_dir / "daemon.log")),
        parse_spider_log(read_tail(log_dir / "spider.log")),
    ]
    return [c for c in parsed if c is not None]
