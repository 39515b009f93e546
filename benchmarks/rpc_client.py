"""A minimal JSON-RPC 2.0 client over a child process's stdio, in pure Python.

Why not pygls/pytest-lsp here: the benchmarks measure the *server*, so the client must add as
little as possible to every round trip (no cattrs (de)serialisation, no asyncio scheduling).
Responses are time-stamped in the reader thread the moment they are parsed, so a latency is
"bytes written" → "response parsed", not "response parsed + when the caller woke up".

Server → client requests get sensible editor answers: ``workspace/applyEdit`` is recorded and
acknowledged (``applied: true``), ``workspace/configuration`` answers with the settings given to
the client, capability registration and progress creation answer ``null``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "NO_ANSWER",
    "Pending",
    "RpcClient",
    "RpcError",
    "ServerDied",
    "cpu_seconds",
    "machine_line",
    "runtime_line",
    "vm_status",
]


def _no_answer(_params: Any) -> None:
    """Never called: :data:`NO_ANSWER` marks a request the client leaves unanswered."""


NO_ANSWER: Callable[[Any], Any] = _no_answer
"""A handler that leaves the server's request unanswered (a client that never replies)."""


class RpcError(Exception):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('code')} {error.get('message')}")
        self.method = method
        self.code = error.get("code")
        self.error = error


class ServerDied(Exception):
    """The server process ended (or closed stdout) while a request was outstanding."""


@dataclass
class Pending:
    """One outstanding request; ``wait()`` returns its result or raises :class:`RpcError`."""

    method: str
    sent_at: float
    done: threading.Event = field(default_factory=threading.Event)
    received_at: float = 0.0
    message: dict[str, Any] | None = None
    died: bool = False

    def wait(self, timeout: float = 30.0) -> Any:
        if not self.done.wait(timeout):
            raise TimeoutError(f"{self.method}: no answer within {timeout} s")
        if self.died or self.message is None:
            raise ServerDied(f"{self.method}: server exited before answering")
        if "error" in self.message:
            raise RpcError(self.method, self.message["error"])
        return self.message.get("result")

    @property
    def latency_s(self) -> float:
        """Seconds from just before the request's first byte is written to its response
        parsed. (Stamped once the write had returned, it left out however long the client's
        thread then waited for a CPU: with the server's two threads busy on a 2-CPU machine,
        that wait outlasted the answer, and latencies came out negative.)"""
        return self.received_at - self.sent_at


def _read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """One LSP base-protocol message, or ``None`` at end of stream."""
    length = -1
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            if length >= 0:
                break
            continue
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = stream.read(length)
    while len(body) < length:  # only a raw stream returns short reads; be safe anyway
        more = stream.read(length - len(body))
        if not more:
            return None
        body += more
    return json.loads(body)


class RpcClient:
    """Drive a language server over stdio; thread-safe for sending from one thread."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        stderr_path: str | Path | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.command = list(command)
        self.settings = settings or {}
        self._ids = itertools.count(1)
        self._pending: dict[int, Pending] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.notifications: list[tuple[float, str, Any]] = []
        self._notified = threading.Condition()
        self.applied_edits: list[tuple[float, dict[str, Any]]] = []
        self.orphans: list[dict[str, Any]] = []  # responses to no request of ours (id null...)
        self.server_requests: list[str] = []
        self.handlers: dict[str, Callable[[Any], Any]] = {
            "workspace/applyEdit": self._on_apply_edit,
            "workspace/configuration": self._on_configuration,
            "client/registerCapability": lambda _p: None,
            "client/unregisterCapability": lambda _p: None,
            "window/workDoneProgress/create": lambda _p: None,
            "window/showMessageRequest": lambda _p: None,
            "workspace/codeLens/refresh": lambda _p: None,
            "workspace/inlayHint/refresh": lambda _p: None,
            "workspace/diagnostic/refresh": lambda _p: None,
            "workspace/semanticTokens/refresh": lambda _p: None,
        }
        self.stderr_path = Path(stderr_path) if stderr_path else None
        self._stderr = open(stderr_path or os.devnull, "wb")  # noqa: SIM115 - closed in close()
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=cwd,
            bufsize=-1,  # buffered: read(n) returns all n bytes (a raw pipe may return fewer)
        )
        self._reader = threading.Thread(target=self._read_loop, name="rpc-reader", daemon=True)
        self._reader.start()

    # -- sending ---------------------------------------------------------------------------
    def _write(self, message: dict[str, Any]) -> float:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        data = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        assert self.process.stdin is not None
        with self._write_lock:
            sent_at = time.perf_counter()
            self.process.stdin.write(data)
            self.process.stdin.flush()
            return sent_at

    def send(self, method: str, params: Any = None) -> Pending:
        """Send a request without waiting; the answer lands in the returned :class:`Pending`."""
        request_id = next(self._ids)
        pending = Pending(method, 0.0)
        with self._lock:
            self._pending[request_id] = pending
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        pending.sent_at = self._write(message)
        if self.process.poll() is not None and not pending.done.is_set():
            pending.died = True
            pending.done.set()
        return pending

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        """Send a request and wait for its result."""
        return self.send(method, params).wait(timeout)

    def cancel(self, pending: Pending) -> None:
        """``$/cancelRequest`` for an outstanding request."""
        with self._lock:
            ids = [i for i, p in self._pending.items() if p is pending]
        for request_id in ids:
            self.notify("$/cancelRequest", {"id": request_id})

    def send_raw(self, data: bytes, request_id: int | str | None = None) -> Pending | None:
        """Write ``data`` as is (no framing added); with ``request_id``, await that answer."""
        pending = None
        if request_id is not None:
            pending = Pending("raw", 0.0)
            with self._lock:
                self._pending[request_id] = pending
        assert self.process.stdin is not None
        with self._write_lock:
            if pending is not None:
                pending.sent_at = time.perf_counter()
            self.process.stdin.write(data)
            self.process.stdin.flush()
        return pending

    def wait_orphan(self, since: int = 0, timeout: float = 10.0) -> dict[str, Any]:
        """The first response (index ≥ ``since``) that answered no request of ours."""
        deadline = time.monotonic() + timeout
        with self._notified:
            while len(self.orphans) <= since:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise TimeoutError(f"no unmatched response within {timeout} s")
                self._notified.wait(left)
            return self.orphans[since]

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    # -- receiving -------------------------------------------------------------------------
    def _read_loop(self) -> None:
        assert self.process.stdout is not None
        stream = self.process.stdout
        while True:
            try:
                message = _read_message(stream)
            except (ValueError, OSError):
                message = None
            now = time.perf_counter()
            if message is None:
                break
            if "method" in message and "id" in message:
                self._answer(message)
            elif "method" in message:
                with self._notified:
                    self.notifications.append((now, message["method"], message.get("params")))
                    self._notified.notify_all()
            else:
                with self._lock:
                    pending = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
                if pending is not None:
                    pending.received_at = now
                    pending.message = message
                    pending.done.set()
                else:
                    with self._notified:
                        self.orphans.append(message)
                        self._notified.notify_all()
        with self._lock:
            left = list(self._pending.values())
            self._pending.clear()
        for pending in left:
            pending.died = True
            pending.done.set()
        with self._notified:
            self._notified.notify_all()

    def _answer(self, message: dict[str, Any]) -> None:
        method = message["method"]
        self.server_requests.append(method)
        handler = self.handlers.get(method)
        if handler is NO_ANSWER:
            return
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if handler is None:
            reply["error"] = {"code": -32601, "message": f"client does not handle {method}"}
        else:
            reply["result"] = handler(message.get("params"))
        with contextlib.suppress(BrokenPipeError, OSError):
            self._write(reply)

    def _on_apply_edit(self, params: Any) -> dict[str, Any]:
        self.applied_edits.append((time.perf_counter(), params))
        return {"applied": True}

    def _on_configuration(self, params: Any) -> list[Any]:
        items = (params or {}).get("items", [])
        return [self.settings.get(item.get("section", ""), None) for item in items]

    def wait_notification(
        self,
        method: str,
        predicate: Callable[[Any], bool] = lambda _p: True,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Any:
        """Params of the first notification ``method`` (index ≥ ``since``) that matches."""
        deadline = time.monotonic() + timeout
        with self._notified:
            while True:
                for _, name, params in self.notifications[since:]:
                    if name == method and predicate(params):
                        return params
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise TimeoutError(f"no {method} notification within {timeout} s")
                self._notified.wait(left)

    # -- LSP conveniences --------------------------------------------------------------------
    def initialize(
        self,
        root: Path,
        initialization_options: Any = None,
        capabilities: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``initialize`` + ``initialized``; returns the server's InitializeResult."""
        caps = capabilities or {
            "textDocument": {
                "synchronization": {"dynamicRegistration": False, "didSave": True},
                "completion": {
                    "completionItem": {"snippetSupport": False, "documentationFormat": []},
                    "contextSupport": True,
                },
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "publishDiagnostics": {"relatedInformation": False},
                "inlineCompletion": {"dynamicRegistration": False},
            },
            "workspace": {
                "applyEdit": True,
                "workspaceEdit": {"documentChanges": True},
                "configuration": True,
                "didChangeConfiguration": {"dynamicRegistration": False},
            },
            "general": {"positionEncodings": ["utf-16"]},
        }
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.resolve().as_uri(),
                "capabilities": caps,
                "initializationOptions": initialization_options,
                "clientInfo": {"name": "notegen-benchmark-client"},
            },
        )
        self.notify("initialized", {})
        return result

    def did_open(self, uri: str, text: str, version: int = 1, language_id: str = "ruby") -> None:
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": language_id,
                    "version": version,
                    "text": text,
                }
            },
        )

    def did_change(self, uri: str, version: int, changes: list[dict[str, Any]]) -> None:
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )

    def close(self, timeout: float = 5.0) -> int | None:
        """Polite ``shutdown``/``exit``, then terminate if needed; returns the exit code."""
        try:
            if self.process.poll() is None:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit")
        except (RpcError, ServerDied, TimeoutError, BrokenPipeError, OSError):
            pass
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            code = self.process.wait(timeout)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()
        return code


def vm_status(pid: int) -> dict[str, int]:
    """Memory lines of ``/proc/<pid>/status`` (VmRSS, VmHWM, ...) in kB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Vm") and line.endswith("kB"):
            name, _, rest = line.partition(":")
            values[name] = int(rest.split()[0])
    return values


def machine_line() -> str:
    """``machine: 2 CPUs, load average 0.30 0.59 0.72; a reference loop 152 ms, a page fault
    2.8 µs``: the first line of a benchmark's report. A shared VM's figures mean little without
    its load and its speed at the time: the project's VM ran the same code ~1.5× slower from
    one hour to the next (the loop took 0.149-0.217 s then), and its page faults cost ~3× a
    bare machine's, which a fresh document's opening pays hundreds of times."""
    load = os.getloadavg()
    loop_ms, fault_us = machine_speed()
    return (
        f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}; a reference loop {loop_ms:.0f} ms, a page fault {fault_us:.1f} µs"
    )


def machine_speed(repeat: int = 3) -> tuple[float, float]:
    """The best of ``repeat`` timings of a plain Python loop (``sum(range(10**7))``, ms) and
    of a page fault (a fresh 32 MB mapping touched page by page, µs a fault)."""
    import mmap

    loop = fault = float("inf")
    size, page = 32 << 20, mmap.PAGESIZE
    for _ in range(repeat):
        started = time.perf_counter()
        sum(range(10**7))
        loop = min(loop, time.perf_counter() - started)
        with mmap.mmap(-1, size) as fresh:
            started = time.perf_counter()
            for at in range(0, size, page):
                fresh[at] = 1
            fault = min(fault, (time.perf_counter() - started) / (size // page))
    return loop * 1e3, fault * 1e6


RUNTIME_LIBRARIES = ("onnxruntime", "numpy")
"""The packages whose versions move the server's memory (onnxruntime 1.32 keeps ~7.5 MB more
of its code resident than 1.24: ``benchmarks/README.md``, session 34)."""


def runtime_line(pid: int) -> str:
    """``onnxruntime 1.24.4, numpy 2.4.6, Python 3.11`` as the running server ``pid`` has
    them: read from the libraries it has mapped (``/proc/<pid>/maps``) and the installed
    distributions beside them, so a ``--server`` wrapper's own environment is what is named.
    A package not mapped yet (the model not loaded) is left out."""
    found: dict[str, str] = {}
    python = ""
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = Path(line.split(maxsplit=5)[-1])  # (an unnamed mapping: its inode, "0")
        if not path.is_absolute():
            continue
        if not python and path.name.startswith("libpython") and ".so" in path.name:
            python = path.name.removeprefix("libpython").partition(".so")[0]
        for name in RUNTIME_LIBRARIES:
            if name in found or f"/{name}/" not in str(path):
                continue
            site = Path(str(path).split(f"/{name}/")[0])  # (site-packages, or a --target)
            for info in site.glob(f"{name}-*.dist-info"):
                found[name] = info.name.removeprefix(f"{name}-").removesuffix(".dist-info")
    parts = [f"{name} {found[name]}" for name in RUNTIME_LIBRARIES if name in found]
    if not python:  # (a statically linked interpreter: its executable's name)
        python = Path(f"/proc/{pid}/exe").resolve().name.removeprefix("python")
    return ", ".join([*parts, f"Python {python}"])


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children...), from ``/proc``."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.append(child)
                    todo.append(child)
    return found


def tree_memory(pid: int) -> dict[str, float]:
    """Memory of ``pid`` and every process below it, in MB: ``rss`` (the server's own),
    ``tree_rss`` (the sum of the tree's VmRSS: shared pages counted once per process) and
    ``tree_pss`` (the sum of proportional set sizes, ``/proc/<pid>/smaps_rollup``: shared pages
    split between the processes sharing them), and ``processes`` (how many)."""
    pids = [pid, *descendants(pid)]
    rss = pss = 0.0
    alive = 0
    for p in pids:
        try:
            kb = vm_status(p).get("VmRSS", 0)
        except OSError:
            continue
        alive += 1
        rss += kb
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                    break
        except OSError:
            pss += kb
    own = vm_status(pid).get("VmRSS", 0)
    return {"rss": own / 1024, "tree_rss": rss / 1024, "tree_pss": pss / 1024, "processes": alive}


def memory_line(pid: int) -> str:
    """``VmRSS ... MB (tree: N processes, RSS ... MB, PSS ... MB)`` for a report."""
    m = tree_memory(pid)
    return (
        f"VmRSS {m['rss']:7.1f} MB (tree: {m['processes']:.0f} process"
        f"{'es' if m['processes'] != 1 else ''}, RSS {m['tree_rss']:.1f} MB, "
        f"PSS {m['tree_pss']:.1f} MB)"
    )


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time the process has used (``/proc/<pid>/stat``), in seconds; with
    ``children``, plus that of its child processes that have ended (and been waited for).

    Unlike wall-clock latency this does not grow when other processes compete for the CPU.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    used = int(fields[11]) + int(fields[12])
    if children:
        used += int(fields[13]) + int(fields[14])
    return used / ticks


def tree_cpu(pid: int) -> tuple[float, frozenset[int]]:
    """CPU seconds used by ``pid`` and the processes below it now, and which those are."""
    pids = [pid, *descendants(pid)]
    total = 0.0
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += cpu_seconds(p)
    return total, frozenset(pids)


def wait_idle(pid: int, window: float = 0.5, busy: float = 0.02, timeout: float = 120.0) -> float:
    """Wait until process ``pid`` and its child processes (a generation, a check) used under
    ``busy`` s of CPU in ``window`` s, with no process started or ended meanwhile (their
    background work, such as a whole-file reading and the warm-up after it, is done); seconds
    waited.

    Raises ``TimeoutError`` after ``timeout`` s.
    """
    start = time.monotonic()
    last, who = tree_cpu(pid)
    while True:
        time.sleep(window)
        now, now_who = tree_cpu(pid)
        if now - last < busy and now_who == who and len(who) == 1:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"server still busy after {timeout:.0f} s")
        last, who = now, now_who
