"""The LSP base protocol on stdio, TCP and WebSocket, cut into messages without trusting the peer.

pygls 2.1's reader loop (``pygls.io_.run_async``) went deaf for good after one frame with a
non-numeric, negative or missing ``Content-Length`` (its state machine never resynchronised)
and allocated whatever length a frame claimed (``Content-Length: 10^12`` → ``MemoryError``,
exit 1). :class:`FrameParser` is a small sans-I/O replacement: it accepts a frame of at most
:data:`MAX_MESSAGE_BYTES`, answers a bad header with a ``ParseError`` (with the request's id
when the first bytes after the header name it: :func:`~notegen.lsp.protocol.leading_id`; else
``"id": null``) and a log line, and skips to the next ``Content-Length`` header, so the next
good message is served.

Stdin is read by the event loop itself when it is a pipe or a socket (what editors give a
language server: :class:`_LoopReader`), else by a daemon thread; either way at most
:data:`STDIN_QUEUE` chunks wait unhandled before reading pauses.

Network transports serve ONE client per process: while a client is connected, another
connection gets a ``window/showMessage`` saying so, is closed, and the refusal is logged.
The server's state (open documents, settings, the model and its inference thread, the Sonic Pi
connection) is one editor's, so sharing it would let a second peer read and edit the first
one's documents (the takeover of issue 12); editors start one server per workspace anyway.
The process ends when its client's session ends, as before.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import logging
import os
import re
import select
import stat
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter

try:
    import fcntl
    import termios
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]
    termios = None  # type: ignore[assignment]

from .protocol import NotegenProtocol, leading_id

log = logging.getLogger(__name__)

_FIONREAD: int | None = getattr(termios, "FIONREAD", None)
"""The ``ioctl`` that says how many bytes a pipe holds (``None`` where there is none)."""

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest message body accepted: a 5 MB document JSON-escaped is well under it."""
MAX_HEADER_BYTES = 8192
"""A header block longer than this is not one (the base protocol has two short fields)."""
READ_CHUNK = 1 << 16
STDIN_READ = 1 << 20
"""The most bytes of stdin handed on at once (:func:`read_available`), its pipe widened to as
much where the system allows (:func:`_widen_pipe`)."""
BIG_BODY = 1 << 20
"""A body with more than this still to come is kept as the pieces read, joined once whole:
appended to one buffer, a 5 MB body was copied again at every growth of it (~1.5-7 ms, where
the pieces and the join take ~0.5)."""
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_HEADER_LINES = re.compile(rb"(?:[A-Za-z0-9-]+[ \t]*:[^\r\n]*\r?\n)+")  # fields before ours
_HEADER_END = re.compile(rb"\r?\n\r?\n")
"""The blank line that ends a header block: ``\r\n\r\n`` as the base protocol says, or bare
``\n`` line ends (some hand-written clients): waiting for a ``\r\n\r\n`` there swallowed the
next frame's header, so the request after an ``\n``-only frame was never answered."""
_LEADING_HEADER = re.compile(
    rb"content-length[ \t]*:[ \t]*([0-9]{1,12})[ \t]*(?:\r?\n[A-Za-z0-9-]+[ \t]*:[^\r\n]*)*",
    re.IGNORECASE,
)
"""A header :meth:`FrameParser._leading` hands a body on after: its length first."""
_KEEP = len(b"content-length:") - 1  # bytes kept while looking for a header split over reads
REFUSED = (
    "notegen-lsp already serves a client on this port (one client per server process): "
    "start another notegen-lsp for this editor"
)


@dataclass(frozen=True)
class FrameError:
    """A frame that could not be cut out of the stream (it was dropped; the reason)."""

    message: str
    head: bytes = b""
    """For a frame whose header was refused, the first bytes after it (:data:`HEAD_BYTES`, as
    far as they had come): the start of its body, whose id the error may answer
    (:func:`~notegen.lsp.protocol.leading_id`)."""


HEAD_BYTES = 4096


def _one_length(header: bytes | bytearray) -> bool:
    """Whether ``header`` is lines of which those naming ``Content-Length`` (every mention of
    it: none inside another line) all give the same value."""
    values = [
        rest.strip()
        for name, _, rest in (line.partition(b":") for line in bytes(header).splitlines())
        if name.strip().lower() == b"content-length"
    ]
    mentions = len(_CONTENT_LENGTH.findall(header))
    return mentions == len(values) and len(set(values)) == 1


class FrameParser:
    """Cut ``Content-Length`` frames out of a byte stream fed in arbitrary pieces."""

    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message = max_message
        self.buffer = bytearray()
        self.length: int | None = None  # of the body being read
        self.in_junk = False  # inside a run of bytes that belong to no frame
        self.parts: list[bytes | memoryview] | None = None  # a big body's pieces so far
        self.have = 0  # bytes in parts (more may wait in the buffer: see feed)

    def feed(
        self, data: bytes | memoryview
    ) -> Iterator[bytes | bytearray | memoryview | FrameError]:
        """Bodies (and frame errors) completed by ``data``, in stream order.

        A big body is not copied where it need not be: when ``data`` starts with a whole
        frame (a big message read whole, the common case for an editor's ``didOpen``, often
        with the request the editor sent right after it), its body is a view of ``data``
        (:meth:`_leading`) and the rest is cut as usual; when a body is all the buffer
        holds, the buffer itself. Each copy of the 800 kB opening of the 200,000-note
        benchmark document cost its first completion ~0.3 ms (~200 page faults in a heap
        trimmed while idle, measured); with the completion in the same read, two copies
        were made (the buffer, then the body cut out of it): 0.55-1.28 ms from the read to
        the body's handling, against 0.26-0.31 ms for a small message."""
        while (leading := self._leading(data)) is not None:
            view, end = leading
            yield view
            if end == len(data):
                return
            data = memoryview(data)[end:]  # (the rest: cut below, or a view again)
        if self.parts is not None and self.length is not None:
            # (the buffer gathers small reads into one part: a part per read of a few bytes
            # would cost ~40 bytes each, a body dripped byte by byte 40 times its size)
            need = self.length - self.have - len(self.buffer)
            piece = data[:need]
            if len(piece) >= READ_CHUNK:
                self._flush()
                self.parts.append(piece)
                self.have += len(piece)
            else:
                self.buffer += piece
                if len(self.buffer) >= READ_CHUNK:
                    self._flush()
            if self.have + len(self.buffer) < self.length:
                return
            self._flush()
            joined = b"".join(self.parts)  # (the one copy of the body)
            self.parts, self.have, self.length = None, 0, None
            self.buffer += data[need:]
            yield joined
        else:
            self.buffer += data
        while True:
            if self.length is not None:
                if len(self.buffer) < self.length:
                    if self.length - len(self.buffer) > BIG_BODY:
                        self.parts, self.have = [bytes(self.buffer)], len(self.buffer)
                        self.buffer.clear()
                    return
                if self.length == len(self.buffer) >= READ_CHUNK:
                    body: bytes | bytearray = self.buffer  # (all of it: handed on, no copy)
                    self.buffer = bytearray()
                else:
                    body = bytes(memoryview(self.buffer)[: self.length])  # (one copy, not two)
                    del self.buffer[: self.length]
                self.length = None
                yield body
                continue
            found = _CONTENT_LENGTH.search(self.buffer)
            start = found.start() if found else max(0, len(self.buffer) - _KEEP)
            if start:
                junk = self.buffer[:start]
                del self.buffer[:start]
                if junk.strip() and not self.in_junk and not _HEADER_LINES.fullmatch(junk):
                    self.in_junk = True
                    yield FrameError(
                        f"bytes outside any message (no valid Content-Length header before "
                        f"{bytes(junk[:40])!r}); dropped up to the next header"
                    )
            if found is None:
                return
            ended = _HEADER_END.search(self.buffer, 0, MAX_HEADER_BYTES)
            limit = ended.start() if ended is not None else MAX_HEADER_BYTES
            later = _CONTENT_LENGTH.search(self.buffer, len(b"content-length:"), limit)
            if later is not None and ended is not None and _one_length(self.buffer[:limit]):
                later = None  # the same header line twice (same value): one header
            if later is not None and (ended is None or later.start() < ended.start()):
                # another frame starts before this header ends: this one is broken, the
                # next one must not be swallowed with it
                shown = bytes(self.buffer[: min(later.start(), 40)])
                del self.buffer[: later.start()]
                yield FrameError(f"an unterminated header {shown!r}: frame dropped")
                continue
            if ended is None:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    del self.buffer[: len(b"content-length:")]
                    self.in_junk = True
                    yield FrameError(f"a header longer than {MAX_HEADER_BYTES} bytes; dropped")
                return
            header = bytes(self.buffer[: ended.start()])
            del self.buffer[: ended.end()]
            self.in_junk = False
            refused = self._start_body(header)
            if refused is not None:
                yield FrameError(refused, bytes(self.buffer[:HEAD_BYTES]))

    def _leading(self, data: bytes | memoryview) -> tuple[memoryview, int] | None:
        """The body of the frame ``data`` starts with, as a view, and where that frame ends,
        when the frame is whole in ``data``, ``data`` is at least :data:`READ_CHUNK` bytes
        fed between frames, and its header is a ``Content-Length`` with nothing that the
        general path would question (no other mention of the field); else ``None``, and the
        general path cuts it as it comes."""
        if self.buffer or self.length is not None or len(data) < READ_CHUNK:
            return None
        ended = _HEADER_END.search(data, 0, MAX_HEADER_BYTES)
        if ended is None:
            return None
        header = _LEADING_HEADER.fullmatch(data, 0, ended.start())
        if header is None or _CONTENT_LENGTH.search(data, header.end(1), ended.start()):
            return None
        length = int(header[1])
        end = ended.end() + length
        if length > self.max_message or end > len(data):
            return None
        self.in_junk = False
        return memoryview(data)[ended.end() : end], end

    def _flush(self) -> None:
        """The small reads gathered in the buffer become one part of the big body."""
        if self.buffer and self.parts is not None:
            self.parts.append(bytes(self.buffer))
            self.have += len(self.buffer)
            self.buffer.clear()

    def _start_body(self, header: bytes) -> str | None:
        """Begin the body ``header`` announces; why the frame is dropped, when it is."""
        value = b""
        for line in header.splitlines():
            name, _, rest = line.partition(b":")
            if name.strip().lower() == b"content-length":
                value = rest.strip()
        shown = value[:40].decode("utf-8", "replace")  # (repr escapes what cannot be shown)
        if not value.isdigit():
            self.in_junk = True  # the body that follows belongs to no frame
            return f"invalid Content-Length {shown!r}: frame dropped"
        length = int(value)
        if length > self.max_message:
            self.in_junk = True
            return (
                f"Content-Length {length} is over the limit of {self.max_message} bytes: "
                "frame dropped"
            )
        self.length = length
        return None


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def refusal(message: str = REFUSED) -> bytes:
    """The ``window/showMessage`` a refused connection receives before it is closed."""
    note = {
        "jsonrpc": "2.0",
        "method": "window/showMessage",
        "params": {"type": 1, "message": message},
    }
    return json.dumps(note).encode("utf-8")


# -- sessions --------------------------------------------------------------------------------


async def _pump(read: Callable[[], Awaitable[bytes]], protocol: NotegenProtocol) -> None:
    """Read until end of stream, handing each body to the protocol."""
    parser = FrameParser()
    while True:
        data = await read()
        if not data:
            return
        for item in parser.feed(data):
            if isinstance(item, FrameError):
                protocol.send_error(leading_id(item.head), _parse_error(item.message))
            else:
                try:
                    protocol.receive_body(item)
                except Exception:  # a bug must cost one message, not the connection
                    log.exception("a message could not be handled; the session goes on")
            await asyncio.sleep(0)  # let the handlers just scheduled run between messages


def _parse_error(message: str) -> Any:
    from pygls.exceptions import JsonRpcParseError

    return JsonRpcParseError(f"Parse error: {message}")


async def run_session(protocol: NotegenProtocol, pump: Awaitable[None]) -> None:
    """Serve one client until its stream ends or it sends ``exit``."""
    protocol.exited = asyncio.Event()
    reading = asyncio.ensure_future(pump)
    exiting = asyncio.ensure_future(protocol.exited.wait())
    try:
        await asyncio.wait({reading, exiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, exiting):
            task.cancel()
    if reading.done() and not reading.cancelled() and (error := reading.exception()) is not None:
        if isinstance(error, ConnectionError):  # reset, aborted, broken: the client went
            log.info("the client's connection ended: %s", error)
        else:
            log.error("the connection failed", exc_info=error)


STDIN_QUEUE = 16
"""Chunks of stdin read ahead of the messages handled; then reading waits (backpressure)."""


def _stdin_chunks(
    stdin: BinaryIO, loop: asyncio.AbstractEventLoop
) -> Callable[[], Awaitable[bytes]]:
    """What gives the next chunk of stdin (``b""`` at its end).

    A pipe or a socket (what editors give a language server) is read by the event loop when
    it is readable (:class:`_LoopReader`); anything else (a terminal, a file, a stream
    without a descriptor) by a daemon thread, whose blocked read never holds up exit."""
    try:  # os.read on the descriptor: a thread blocked in BufferedReader.read holds its lock,
        fd: int | None = stdin.fileno()  # and Python aborts at exit waiting for that lock
    except (AttributeError, OSError, ValueError):
        fd = None

    if fd is not None:
        _widen_pipe(fd)
        if _pollable(fd) and _pending_now(fd) is not None:
            try:
                return _LoopReader(fd, loop).get
            except (OSError, ValueError, NotImplementedError):  # (no readers on this loop)
                pass
    return _stdin_thread(stdin, fd, loop).get


def _pollable(fd: int) -> bool:
    """Whether ``fd`` is a pipe or a socket (the loop can wait for it; a read of what it
    holds never blocks)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _LoopReader:
    """A pipe read by the event loop itself, each time it is readable: what waits there, in
    one ``os.read`` of the size ``FIONREAD`` gives (at most :data:`STDIN_READ`).

    Read by a thread, each message cost two hand-overs between threads (the read woke the
    thread, which then woke the loop and waited for its answer): from a write to the loop
    holding the bytes, p50 125-304 µs against 46-90 µs read here (a pipe, 300 writes 4 ms
    apart, this VM). While :data:`STDIN_QUEUE` chunks wait unhandled, the pipe is not read."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self.fd, self.loop = fd, loop
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=STDIN_QUEUE)
        self.watching = False
        self._watch()

    def _watch(self) -> None:
        self.loop.add_reader(self.fd, self._readable)
        self.watching = True

    def _unwatch(self) -> None:
        if self.watching:
            self.watching = False
            self.loop.remove_reader(self.fd)

    def _readable(self) -> None:
        size = _pending_now(self.fd)
        if not size and not _waiting(self.fd):
            # (woken, but the bytes are gone: a read now would block the loop until more came)
            return
        try:  # (0 waiting once readable: the end)
            data = os.read(self.fd, min(max(size or 0, 1), STDIN_READ))
        except BlockingIOError:  # (another reader took the bytes: wait for more)
            return
        except (OSError, ValueError):
            data = b""
        self.queue.put_nowait(data)
        if not data or self.queue.full():
            self._unwatch()

    async def get(self) -> bytes:
        data = await self.queue.get()
        if data and not self.watching and not self.queue.full():
            self._watch()
        return data


def _stdin_thread(
    stdin: BinaryIO, fd: int | None, loop: asyncio.AbstractEventLoop
) -> asyncio.Queue[bytes]:
    """Chunks of stdin, read by a daemon thread."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=STDIN_QUEUE)

    def read() -> None:
        while True:
            try:
                data = read_available(fd) if fd is not None else stdin.read1(READ_CHUNK)  # type: ignore[attr-defined]
            except (OSError, ValueError):
                data = b""
            try:
                asyncio.run_coroutine_threadsafe(queue.put(data), loop).result()
            except RuntimeError:  # the loop is gone
                return
            if not data:
                return

    threading.Thread(target=read, name="notegen-stdin", daemon=True).start()
    return queue


def read_available(fd: int) -> bytes:
    """The next bytes of ``fd`` (``b""`` at its end): all that is waiting, up to
    :data:`STDIN_READ`, in one read where the system says how much that is (``FIONREAD``);
    elsewhere reads of :data:`READ_CHUNK` joined (:func:`_read_chunks`).

    An 800 kB ``didOpen`` so arrives as one piece, not 13 handed to the event loop in turn,
    and is not read as 13 pieces of 64 kB joined either: after the heap was trimmed (the
    server trims it when idle) those took 0.80-1.06 ms and 394 page faults, one read 0.37-0.40
    ms and 197 (an 800 kB opening read from a pipe, medians of 15, this VM). A request sent
    right after it is read next, handed on while the opening is parsed. A read is never of
    more than is waiting: one ``os.read`` of 1 MB allocated that much for every message and
    shrank it to the few hundred bytes read, and the soak's server then often kept ~12-15 MB
    more once its document closed (145-147 against 131-132 MB, measured)."""
    size = _pending(fd)
    if size is None:
        return _read_chunks(fd)
    return os.read(fd, min(max(size, 1), STDIN_READ))  # (0 waiting once readable: the end)


def _read_chunks(fd: int) -> bytes:
    """:func:`read_available` where the bytes waiting cannot be counted: reads of
    :data:`READ_CHUNK` while each comes back full and more is waiting."""
    data = os.read(fd, READ_CHUNK)
    if len(data) < READ_CHUNK:
        return data
    pieces = [data]
    total = len(data)
    while total < STDIN_READ and _waiting(fd):
        more = os.read(fd, READ_CHUNK)
        pieces.append(more)
        total += len(more)
        if len(more) < READ_CHUNK:
            break
    return b"".join(pieces)


def _pending(fd: int) -> int | None:
    """How many bytes a read of ``fd`` finds, once it would find any (0: the stream's end);
    ``None`` where that cannot be asked."""
    if fcntl is None or _FIONREAD is None:
        return None
    try:
        select.select([fd], [], [])
    except (OSError, ValueError):  # (a descriptor select cannot take)
        return None
    return _pending_now(fd)


def _pending_now(fd: int) -> int | None:
    """How many bytes wait in ``fd`` now (``FIONREAD``); ``None`` where that cannot be asked."""
    if fcntl is None or _FIONREAD is None:
        return None
    try:
        count = array.array("i", [0])
        fcntl.ioctl(fd, _FIONREAD, count, True)
    except (OSError, ValueError):  # (no FIONREAD here, or a descriptor select cannot take)
        return None
    return max(0, count[0])


def _waiting(fd: int) -> bool:
    """Whether a read of ``fd`` would return at once (``False`` where that cannot be asked)."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):  # (Windows: select takes sockets only)
        return False


def _widen_pipe(fd: int) -> None:
    """Let the pipe on ``fd`` hold :data:`STDIN_READ` bytes (Linux; elsewhere, or where the
    system's limit is lower, it stays as it is).

    At the default 64 kB a client's ``didOpen`` of an 800 kB document came in 13 pieces, each
    handed from the reading thread to the event loop in turn (~0.3 ms each, measured): the
    first completion after it waited ~4 ms for the opening to arrive whole."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    with contextlib.suppress(OSError):  # not a pipe, or over /proc/sys/fs/pipe-max-size
        fcntl.fcntl(fd, set_size, STDIN_READ)


async def serve_stdio(
    protocol: NotegenProtocol, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> None:
    protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    chunks = _stdin_chunks(stdin or sys.stdin.buffer, asyncio.get_running_loop())
    await run_session(protocol, _pump(chunks, protocol))


async def serve_tcp(protocol: NotegenProtocol, host: str, port: int) -> None:
    """Listen on ``host:port``; serve the first client, refuse others while it is connected."""
    busy = False
    finished = asyncio.Event()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy
        peer = writer.get_extra_info("peername")
        if busy:
            log.warning("refused a connection from %s: a client is already connected", peer)
            writer.write(frame(refusal()))
            await _close(writer)
            return
        busy = True
        log.info("client connected from %s", peer)
        protocol.set_writer(writer)  # type: ignore[arg-type]  # .write(bytes) is all it uses
        try:
            await run_session(protocol, _pump(lambda: reader.read(READ_CHUNK), protocol))
        finally:
            await _close(writer)
            finished.set()

    listener = await asyncio.start_server(connected, host, port)
    _announce("tcp", listener.sockets)
    async with listener:
        await finished.wait()


def _announce(kind: str, sockets: Any) -> None:
    """Say where we listen on stderr (with ``--port 0`` the system chose the port)."""
    where = ", ".join("{}:{}".format(*s.getsockname()[:2]) for s in sockets)
    print(f"notegen-lsp: listening on {where} ({kind}, one client)", file=sys.stderr, flush=True)


async def _close(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2.0)
    except (OSError, asyncio.TimeoutError):
        pass


async def serve_ws(protocol: NotegenProtocol, host: str, port: int) -> None:
    """The same over WebSocket: one JSON-RPC message per WebSocket message, no headers."""
    from pygls.io_ import WebSocketWriter
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    busy = False
    finished = asyncio.Event()

    async def connected(websocket: ServerConnection) -> None:
        nonlocal busy
        if busy:
            log.warning(
                "refused a WebSocket connection from %s: a client is already connected",
                websocket.remote_address,
            )
            await websocket.send(refusal().decode("utf-8"))
            await websocket.close(1013, "one client per notegen-lsp process")
            return
        busy = True
        protocol.set_writer(WebSocketWriter(websocket), include_headers=False)

        async def pump() -> None:
            while True:
                try:
                    data = await websocket.recv(decode=False)
                except ConnectionClosed:
                    return
                protocol.receive_body(data if isinstance(data, bytes) else data.encode())
                await asyncio.sleep(0)

        try:
            await run_session(protocol, pump())
        finally:
            await websocket.close()
            finished.set()

    async with serve(connected, host, port, max_size=MAX_MESSAGE_BYTES) as listener:
        _announce("ws", listener.sockets)
        await finished.wait()
