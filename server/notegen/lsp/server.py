"""notegen-lsp: every LSP feature is registered here, in one place; the work lives elsewhere.

This is the only module that knows pygls: feature modules never import it, they are handed a
:class:`~notegen.lsp.host.Host` (which :class:`NotegenServer` implements).

Each handler fetches what it needs (the document version, settings, the model), hands the work
to its feature module, and guards it: an exception in one feature is logged and answered with
"nothing" rather than taking the server down. Requests that run the model are ``async`` and
await the inference thread, so the event loop stays free, a ``$/cancelRequest`` cancels them,
and their result is dropped when the document changed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException
from pygls.lsp.server import LanguageServer

from notegen import __version__
from notegen.lsp.config import SECTION, Settings, parse_settings
from notegen.melody import Event
from notegen.model.context_cache import ContextCache

from . import (
    child,
    code_actions,
    commands,
    completion,
    diagnostics,
    ghost_durations,
    hover,
    inline,
    picture,
    play,
    quick_fixes,
    slip_hints,
    whole_reading,
)
from .coexistence import Coexistence
from .context import NoteContext, note_context
from .documents import MAX_READING_CHARS, DocumentView
from .edits import client_supports_document_changes, cursor_range, lsp_range
from .engine import Engine
from .heap import (
    HUGE_TEXT,
    TRIM_THRESHOLD,
    limit_malloc_arenas,
    release_memory,
    set_trim_threshold,
    trim_heap,
    trim_threshold_for,
    tune_gc,
)
from .model_choice import NOTIFICATION, Choice, ModelChoice, hover_line
from .model_choice import diagnostics as model_diagnostics
from .protocol import ClientDidNotAnswer, NotegenProtocol, Prepared
from .reading import Reading
from .rehearsal import rehearse
from .warm_up import (
    SECTION_STATES,
    WARM_ROWS,
    WARM_SPAN,
    advance,
    note_voice,
    prepare_voices,
    prepare_voices_now,
    short_states,
    warm_sections,
    warm_short_reads,
    warm_stride,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

DIAGNOSTICS_DELAY_S = 0.4
"""Quiet time after an edit before the whole file is re-read for diagnostics."""
READ_DELAY_FACTOR = 3.0
"""A file whose last whole reading took t seconds of CPU waits ``3 t`` (at least
:data:`DIAGNOSTICS_DELAY_S`, at most :data:`MAX_READ_DELAY_S`): a big file is re-read only
when typing has really paused, so the reading rarely runs while completions are wanted."""
MAX_READ_DELAY_S = 2.0
MAX_SETTING_WARNINGS = 5
"""Settings problems shown one by one; the rest as one count. Settings with 100,000 unknown
keys showed 100,000 messages, and the requests behind them waited over 10 s."""
LOOK_AHEAD = 16
"""Notes typed ahead of the cursor within which a move of the window's start is read ahead."""
TYPED_NOTES = 2
"""A completion at most this many notes after the last one, in the same array, is typing."""
AHEAD_BUDGET_S = 0.001
"""Work per trip of a read-ahead to the inference thread (a keystroke may wait for one)."""
SHRINK_ROUND = 256
"""States dropped per trip when a cache shrinks (~0.6 ms, measured at ~2.4 µs a state)."""
READ_AFTER_S = 0.02
"""A whole-file reading starts once the client has sent nothing for this long and no request
is being answered (:meth:`NotegenServer.requests_settled`), at most :data:`READ_WAIT_S` after
it was due."""
READ_WAIT_S = 0.1
"""The longest a reading waits for requests to settle. Not longer: a client that opened one
document, completed in it and at once opened another (the huge-document benchmark) had the
first one's reading wait until the second one's first completion, which it then held up
(~10 ms: diagnostics and a warm-up beside it, measured)."""
QUIET_S = 0.3
"""How long the client must have sent nothing before the heap is collected and trimmed."""
SWITCH_INTERVAL_S = 0.0005
"""How long a thread holding the GIL keeps it while another waits (Python's default 5 ms).

A completion hands the GIL back and forth a dozen times (each ONNX Runtime call releases
it); behind a whole-file reading each hand-back cost up to 5 ms, which was most of the p99."""


class NotegenServer(LanguageServer):
    """The language server plus notegen's state: settings, model engine, document readings."""

    def __init__(self, model_path: str | None = None) -> None:
        super().__init__("notegen-lsp", __version__, protocol_cls=NotegenProtocol, max_workers=2)
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        limit_malloc_arenas()
        self.settings = Settings()
        self.cli_model_path = model_path
        self.engine = Engine(quiet_for=self.quiet_for)
        self.running: dict[str, set[asyncio.Future[Any]]] = {}
        """Generations under way, by document (:meth:`while_open`)."""
        self.closed_work: set[asyncio.Future[Any]] = set()
        """Those stopped because their document was closed."""
        self.models = ModelChoice(self.engine, background=True)  # other models, per document
        self.model_sent: dict[str, Choice] = {}
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notegen-read")
        self.shrinking: asyncio.Future[None] | None = None
        """The latest rounds of :meth:`shrink_cache`."""
        self.read_ahead_of: dict[str, tuple[Any, ...]] = {}
        """Per document, the array and window start last read ahead (:meth:`read_ahead`)."""
        self.reading_ahead: asyncio.Future[None] | None = None
        """The latest read-ahead's trips."""
        self.typed_at: dict[str, tuple[tuple[Any, ...], int]] = {}
        """Per document, the array and note count of the last completion (:meth:`read_ahead`)."""
        self._collecting: asyncio.Future[None] | None = None
        self._trimming: asyncio.Future[None] | None = None
        self.protocol.on_message = self.trim_when_quiet
        self.read_turn = asyncio.Lock()  # one reading at a time, in a child as on the reader
        self.views: dict[str, DocumentView] = {}
        self.readings: dict[str, Reading] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.read_cost: dict[str, float] = {}  # CPU seconds of the last whole reading
        self.warmers: dict[str, asyncio.Future[None]] = {}
        self.too_big_told: set[str] = set()
        self.trim_threshold = TRIM_THRESHOLD
        self.trimming: asyncio.Future[None] | None = None  # (the last close's trim)
        self.voices_completed: dict[str, dict[int, None]] = {}  # (see note_voice)
        self.slip_hints = slip_hints.SlipHints()
        self.model_message_sent: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.coexistence = Coexistence()
        self.client_ready = False
        self.load_model()  # start early: importing onnxruntime overlaps the handshake

    # -- transports ----------------------------------------------------------------------------

    protocol: NotegenProtocol

    def serve(self, transport: str = "stdio", host: str = "127.0.0.1", port: int = 2087) -> int:
        """Serve one client over ``stdio``, ``tcp`` or ``ws``; the process's exit code.

        0 after ``shutdown`` + ``exit``; 1 for ``exit`` without ``shutdown`` or a client that
        went away without either (the LSP specification's rule).
        """
        from . import transport as io

        if transport == "tcp":
            session = io.serve_tcp(self.protocol, host, port)
        elif transport == "ws":
            session = io.serve_ws(self.protocol, host, port)
        else:
            session = io.serve_stdio(self.protocol)
        try:
            asyncio.run(session)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        code = self.protocol.exit_code
        if code is None:
            code = 0 if self.protocol._shutdown else 1
        return code

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """pygls' entry point, served by :mod:`notegen.lsp.transport` (hostile-input safe)."""
        from . import transport as io

        try:
            asyncio.run(io.serve_stdio(self.protocol, stdin, stdout))
        finally:
            self.stop()

    def start_tcp(self, host: str, port: int) -> None:
        self.serve("tcp", host, port)

    def start_ws(self, host: str, port: int) -> None:
        self.serve("ws", host, port)

    def stop(self) -> None:
        """Stop the worker threads without waiting for work nobody will read any more."""
        self.engine.shutdown()
        self.reader.shutdown(wait=False, cancel_futures=True)
        self.shutdown()

    # -- documents -----------------------------------------------------------------------------

    def view(self, uri: str) -> DocumentView | None:
        """The current version of an open document (``None`` if it is not open)."""
        doc = self.workspace.text_documents.get(unquote(uri))
        if doc is None:
            return None
        cached = self.views.get(uri)
        source = doc.source
        if cached is not None and cached.version == doc.version and cached.text is source:
            return cached
        view = DocumentView(uri, doc.version, source)
        self.views[uri] = view
        if len(source) >= HUGE_TEXT or (cached is not None and len(cached.text) >= HUGE_TEXT):
            self.fit_heap()
        return view

    def fit_heap(self) -> None:
        """The heap's trim threshold for the largest open document (:func:`trim_threshold_for`)."""
        largest = max((len(v.text) for v in self.views.values()), default=0)
        threshold = trim_threshold_for(largest)
        if threshold != self.trim_threshold:
            set_trim_threshold(threshold)
            self.trim_threshold = threshold

    def completed_in(self, uri: str, nc: NoteContext) -> None:
        """A completion or ghost text at ``nc`` (inference thread): its voice is kept for the
        next reading's warm-up (:func:`note_voice`), unless the document closed meanwhile."""
        if uri in self.views:
            note_voice(self.voices_completed.setdefault(uri, {}), nc)

    def current_version(self, uri: str) -> int | None:
        doc = self.workspace.text_documents.get(unquote(uri))
        return None if doc is None else doc.version

    def is_current(self, view: DocumentView) -> bool:
        """Whether ``view`` is still the open document: its version *and* its text.

        Editors number a document's versions afresh each time it is opened: a file closed and
        opened again is at version 1 again, maybe with other text, and an edit computed for
        the old one (a generation that finished meanwhile) would have landed in the new one.
        """
        doc = self.workspace.text_documents.get(unquote(view.uri))
        if doc is None or doc.version != view.version:
            return False
        source = doc.source
        return source is view.text or source == view.text

    def latest_reading(self, uri: str) -> Reading | None:
        """The latest whole-file reading of ``uri`` (maybe a few edits old)."""
        return self.readings.get(uri)

    def model_choice(self, uri: str) -> Choice:
        """Which model serves ``uri`` (its magic comment, a folder setting, or the default)."""
        view = self.view(uri)
        return self.models.choose(self.settings, uri, view.text if view is not None else "")

    async def while_open(self, uri: str, work: Coroutine[Any, Any, T]) -> T:
        """``work`` (a generation), stopped when ``uri`` is closed before it ends: its child
        process killed or its model steps stopped, and answered ``ContentModified``. Run to
        its end it would only have been refused (its document is gone), or, closed before
        ``work`` had begun, not begun (``work`` itself says so once under way, while it waits
        for its turn)."""
        started = False

        async def run() -> T:
            nonlocal started
            started = True
            return await work

        task = asyncio.ensure_future(run())
        self.running.setdefault(uri, set()).add(task)
        try:
            return await task
        except asyncio.CancelledError:
            if not started:
                work.close()  # (cancelled before its first step: never awaited)
            if task in self.closed_work:  # (not the request's own cancellation)
                if not started:
                    raise commands.not_begun(uri) from None
                raise JsonRpcContentModified(
                    message=f"{uri} was closed while the work ran; it was stopped, nothing changed"
                ) from None
            raise
        finally:
            held = self.running.get(uri)
            if held is not None:
                held.discard(task)
                if not held:
                    del self.running[uri]
            self.closed_work.discard(task)

    def quiet_for(self) -> float:
        """Seconds since the client last sent anything."""
        return time.monotonic() - self.protocol.last_message

    def engine_for(self, uri: str) -> Engine:
        """The engine of the model that serves ``uri``."""
        return self.models.engine(self.settings, self.model_choice(uri))

    def serves(self, uri: str) -> bool:
        """Whether notegen answers for ``uri``: it looks like Sonic Pi, or the user enabled it."""
        doc = self.workspace.text_documents.get(unquote(uri))
        if doc is None:
            return False
        return self.coexistence.serves(self.settings, uri, doc.version, doc.source, doc.language_id)

    async def workspace_apply_edit_async(
        self, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        """pygls' ``workspace/applyEdit``, failing (-32803) if the client never answers."""
        try:
            result: types.ApplyWorkspaceEditResult = await self.protocol.ask_client(
                types.WORKSPACE_APPLY_EDIT, params
            )
        except ClientDidNotAnswer as exc:
            exc.message += "; it may still apply the edit"
            raise
        return result

    async def workspace_configuration_async(
        self, params: types.ConfigurationParams
    ) -> Sequence[Any | None]:
        """pygls' ``workspace/configuration``, failing if the client never answers."""
        result: Sequence[Any | None] = await self.protocol.ask_client(
            types.WORKSPACE_CONFIGURATION, params
        )
        return result

    def client_capabilities_or_none(self) -> types.ClientCapabilities | None:
        try:
            return self.client_capabilities
        except Exception:
            return None

    # -- settings and model --------------------------------------------------------------------

    def apply_settings(self, raw: Any) -> None:
        previous = self.settings
        self.settings, warnings = parse_settings(raw, previous)
        for warning in warnings[:MAX_SETTING_WARNINGS]:
            self.warn(warning if len(warning) <= 500 else warning[:500] + "…")
        if len(warnings) > MAX_SETTING_WARNINGS:
            more = len(warnings) - MAX_SETTING_WARNINGS
            self.warn(f"notegen: {more:,} more settings problems of the same kind not shown")
        if self.settings.modelPath != previous.modelPath:
            self.load_model()
        served = (self.settings.enable, self.settings.include, self.settings.slips)
        if served != (previous.enable, previous.include, previous.slips):
            for uri in list(self.views):  # diagnostics (and slip hints) with the new settings
                self.schedule_reading(uri, 0.0)

    def load_model(self) -> None:
        path = self.settings.modelPath or self.cli_model_path
        future = self.engine.load(path)
        future.add_done_callback(lambda _f: self._report_model())

    def _report_model(self) -> None:
        """Tell the user once per distinct error (from any thread; only after ``initialized``)."""
        error = self.engine.error
        if not error or error == self.model_message_sent or not self.client_ready:
            return
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        self.model_message_sent = error
        message = (
            f"notegen: cannot load the model — {error}. Completions and generation are "
            "off; diagnostics and hover keep working. Set notegen.modelPath or pass --model."
        )
        log.error("%s", message)
        params = types.ShowMessageParams(type=types.MessageType.Error, message=message)
        loop.call_soon_threadsafe(self.window_show_message, params)

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=message)
        )

    # -- diagnostics ---------------------------------------------------------------------------

    def reading_delay(self, uri: str) -> float:
        """Quiet time before re-reading ``uri``, scaled by what its last reading cost."""
        cost = self.read_cost.get(uri, 0.0)
        return min(MAX_READ_DELAY_S, max(DIAGNOSTICS_DELAY_S, READ_DELAY_FACTOR * cost))

    def schedule_reading(self, uri: str, delay: float) -> None:
        """Re-read the whole file (diagnostics, history) after ``delay`` s without edits."""
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self.timers[uri] = loop.call_later(
            delay, lambda: asyncio.ensure_future(self._read_and_publish(uri))
        )

    async def _read_and_publish(self, uri: str) -> None:
        self.timers.pop(uri, None)
        await self.requests_settled()
        if uri in self.timers:
            return  # edited meanwhile: the newer timer reads it
        view = self.view(uri)
        if view is None:
            return
        if not self.serves(uri):  # other Ruby: no reading, no diagnostics
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[], version=view.version)
            )
            return
        if len(view.text) > MAX_READING_CHARS:
            self._too_big(uri, view)
            return
        await self.models.settle(self.settings, uri, view.text)  # the models folder's listing
        model = self.engine_for(uri).model
        conditioned = model is not None and bool(model.cond_dim)
        try:
            found = await self._whole_reading(view, conditioned)
        except Exception:
            log.exception("reading %s failed", uri)
            return
        reading, findings, cost = found
        cache = self.engine_for(uri).cache
        if cache is not None and uri in self.views:
            await asyncio.get_running_loop().run_in_executor(
                self.reader, reading.prepare_tracks, cache
            )
            last = list(self.voices_completed.get(uri) or ())[-1:]  # (the latest last)
            if last and reading.prepared and cache.model.cond_dim:
                await asyncio.get_running_loop().run_in_executor(
                    self.reader, prepare_voices_now, reading, last, cache.model
                )
        if uri not in self.views:
            return  # closed meanwhile
        self.read_cost[uri] = cost
        self.readings[uri] = reading  # the previous reading and its text go now
        for shown in (view, self.views[uri]):  # (their last cursor contexts hold it too)
            shown.forget_cursor()
        self.warm_up(uri, reading)
        self.release_memory_when_quiet()
        if self.trim_threshold == TRIM_THRESHOLD and self.quiet():
            # The old reading's memory back now, off the GIL (a few ms before the diagnostics):
            # beside the new one it held the soak's server at ~158 MB until the quiet
            # collection, ~144 MB once trimmed. Only while the client is quiet: amid requests
            # each would pay the trim back in page faults, as the quiet trim after edits
            # avoids too. (Not for a huge document: fit_heap.)
            await asyncio.get_running_loop().run_in_executor(self.reader, trim_heap)
        if not self.is_current(view):
            return  # stale: a newer reading is scheduled
        # (off the loop: a file of 100,000 invalid notes has as many findings)
        diags = await asyncio.get_running_loop().run_in_executor(
            self.reader, diagnostics.as_diagnostics, findings
        )
        diags = diags + play.extra_diagnostics(self, uri)  # Sonic Pi's runtime errors
        choice = self.model_choice(uri)
        engine = self.engine_for(uri)
        if engine is not self.engine:
            await engine.ready()  # a load error of the chosen model is a diagnostic too
        diags = diags + model_diagnostics(choice, engine)
        if self.model_sent.get(uri) != choice:
            self.model_sent[uri] = choice
            self.protocol.notify(NOTIFICATION, choice.to_json(uri))
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=view.version)
        )
        self.slip_hints.schedule(self, uri, view, diags, self.reader)  # hints come later

    async def _whole_reading(self, view: DocumentView, conditioned: bool) -> whole_reading.Found:
        """:func:`whole_reading.read_document`: in a child process for a big document (its
        garbage never touches the server's heap), else (or if no child could do it) on the
        reader thread."""
        if whole_reading.wanted(view):
            async with self.read_turn:
                try:
                    return await whole_reading.read_in_child(view, conditioned)
                except child.ChildFailed as exc:
                    log.warning("reading %s in a child process failed: %s", view.uri, exc)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.reader, whole_reading.read_document, view, conditioned
        )

    async def requests_settled(self) -> None:
        """Return once the client has sent nothing for :data:`READ_AFTER_S` and no request of
        it is being answered, or :data:`READ_WAIT_S` from now.

        A reading of a big file starts a child process and hands it the text: begun on the
        event loop right after an opening, it held up the completion sent with the opening
        (~6 ms before the request was even read, the 200,000-note document), and its child's
        start-up shared the two cores with that completion."""
        give_up = time.monotonic() + READ_WAIT_S
        while (now := time.monotonic()) < give_up:
            wait = self.protocol.last_message + READ_AFTER_S - now
            if wait <= 0 and not self.protocol.answering():
                return
            await asyncio.sleep(min(max(wait, READ_AFTER_S / 4), give_up - now))

    def after_long_work(self) -> None:
        """Give the heap back after a generation (100,000 notes peak at ~+290 MB, measured;
        without a trim ~100 MB of it stayed resident)."""
        self.release_memory_when_quiet()

    def release_memory_when_quiet(self) -> None:
        """:func:`release_memory` once the client has sent nothing for :data:`QUIET_S`.

        Its full collection holds the GIL throughout (~20-60 ms for the benchmark piece):
        run as soon as a reading ended, it held up the completion asked just then (a
        generation in another document: 50-105 ms over the quiet median, measured).
        One is pending at a time."""
        if self._collecting is None or self._collecting.done():
            self._collecting = asyncio.ensure_future(self._when_quiet(release_memory))

    def quiet(self) -> bool:
        """Whether the client has sent nothing for :data:`QUIET_S`."""
        return self.protocol.last_message + QUIET_S <= time.monotonic()

    async def _when_quiet(self, work: Callable[[], None]) -> None:
        """``work`` on the reader thread once the client has sent nothing for :data:`QUIET_S`."""
        while (wait := self.protocol.last_message + QUIET_S - time.monotonic()) > 0:
            await asyncio.sleep(min(wait, QUIET_S))
        await asyncio.get_running_loop().run_in_executor(self.reader, work)

    def trim_when_quiet(self) -> None:
        """:func:`trim_heap` once the client has sent nothing for :data:`QUIET_S` (called as
        each message arrives). A burst of keystrokes leaves their texts', requests' and
        answers' freed memory resident until the next reading's warm-up ends (the soak's
        10,000 edits: ~155 MB through the 4 s from the last edit to the reading, ~147 MB once
        idle); a burst of requests alone, until the next edit (20,000 hovers and completions
        sent at once: ~6 MB, measured). A trim only, which releases the GIL: no full
        collection between two bursts of typing. One is pending at a time. Not while a huge
        document is open: its heap's top is kept from keystroke to keystroke
        (:func:`trim_threshold_for`), which a trim would undo."""
        if self.trim_threshold != TRIM_THRESHOLD:
            return
        if self._trimming is None or self._trimming.done():
            self._trimming = asyncio.ensure_future(self._when_quiet(trim_heap))

    def _too_big(self, uri: str, view: DocumentView) -> None:
        """No whole-file reading above :data:`MAX_READING_CHARS`: say so once per document."""
        self.readings.pop(uri, None)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[], version=view.version)
        )
        if uri in self.too_big_told:
            return
        self.too_big_told.add(uri)
        name = unquote(uri.rsplit("/", 1)[-1])
        self.warn(
            f"notegen: {name} has {len(view.text):,} characters; above "
            f"{MAX_READING_CHARS:,} notegen reads only the lines around the cursor "
            "(completion and hover work; no diagnostics, no earlier sections as context)"
        )

    def warm_up(self, uri: str, reading: Reading) -> None:
        """Compute the model state at every section start, a section per worker task.

        Afterwards a completion anywhere in the file only reads the notes before the cursor in
        its own array. Runs after a reading (edits have paused); a newer reading, a closed
        document or a model change stops it.
        """
        task = self.warmers.pop(uri, None)
        if task is not None:
            task.cancel()
        cache = self.engine_for(uri).cache
        if cache is None:
            return
        self.fit_cache(cache)
        self.shrink_cache(self.engine_for(uri))
        self.warmers[uri] = asyncio.ensure_future(self._warm(uri, reading))

    def fit_cache(self, cache: ContextCache) -> None:
        """Room in ``cache`` for every section start of the documents open with its model
        (and the default's room beside them): the 200,000-note benchmark document has 2,000
        sections, ~4,000 states, and at the default's 2,048 the warm-up's last ones pushed out
        its first, and a cursor there read its whole window again (once the warm-up was done:
        places p50 9.1 / p99 19.8 ms, with room 6.1 / 10.9 ms; ~7 kB a state)."""
        sections = sum(
            len(numbers)
            for uri, reading in self.readings.items()
            if self.engine_for(uri).cache is cache
            for numbers in reading.sections.values()
        )
        max_context = self.settings.maxContext
        stops = sum(
            warm_stride(reading, max_context)[1] + short_states(reading, max_context)
            for uri, reading in self.readings.items()
            if self.engine_for(uri).cache is cache
        )
        room = ContextCache.CAPACITY
        cache.capacity = max(room, SECTION_STATES * sections + stops + room // 8)

    def read_ahead(self, uri: str, nc: NoteContext) -> None:
        """Where the window's start moves within :data:`LOOK_AHEAD` more notes typed at ``nc``
        (inference thread): the context of the notes before the cursor read from there, in
        the background, in trips of :data:`AHEAD_BUDGET_S` (:meth:`NoteContext.ahead`); where
        the network reads short, where its read's start moves (:meth:`NoteContext.short_ahead`),
        read from there to the cursor. Once per start and array, and only while typing goes
        on there (the last completion in the document was in this array, at most
        :data:`TYPED_NOTES` notes before): after jumps too, a tenth of the 200,000-note
        benchmark's places read a window that nobody typed into, and the places after them
        waited for it."""
        array = nc.local.ctx.array
        here = (array.kind, array.voice, array.section, array.name)
        notes = len(nc.before) + nc.skipped  # (a long line's window keeps the last ones only)
        last = self.typed_at.get(uri)
        self.typed_at[uri] = (here, notes)
        if last is None or last[0] != here or not 0 < notes - last[1] <= TYPED_NOTES:
            return  # not typing on here: a jump (a tenth of them lands this near a move)
        engine = self.engine_for(uri)
        cache, loop = engine.cache, self.loop
        if cache is None or loop is None:
            return
        request: tuple[Any, ...]
        if nc.reads_short():
            short = nc.short_ahead(cache, LOOK_AHEAD)
            if short is None:
                return
            start, (ids, marks, setting) = short
            key: tuple[Any, ...] = (*here, "short", notes - (len(ids) - start))
            # (its end kept: typing steps on; a whole window read keeps its stops too)
            request = (ids, [*(marks if start == 0 else ()), len(ids)], setting, start)
        else:
            found = nc.ahead(cache, LOOK_AHEAD)
            if found is None:
                return
            start, (ids, marks, setting) = found
            key = (*here, start)
            if cache.cached(ids, setting):
                return
            request = (ids, marks, setting)
        if self.read_ahead_of.get(uri) == key:
            return
        self.read_ahead_of[uri] = key
        steps = cache.prime_steps([request], WARM_SPAN)
        trip = functools.partial(advance, steps, AHEAD_BUDGET_S)

        def start_trips() -> None:
            self.reading_ahead = asyncio.ensure_future(
                engine.run_trips(trip, lambda: uri in self.views)
            )

        loop.call_soon_threadsafe(start_trips)

    def shrink_cache(self, engine: Engine) -> None:
        """Drop the states beyond its cache's capacity, :data:`SHRINK_ROUND` per trip to the
        inference thread (:meth:`ContextCache.shrink`), so that no request waits for more."""
        cache = engine.cache
        if cache is None or not cache.shrink(0):
            return
        self.shrinking = asyncio.ensure_future(
            engine.run_trips(functools.partial(cache.shrink, SHRINK_ROUND), lambda: True)
        )

    async def _warm(self, uri: str, reading: Reading) -> None:
        """Rounds of up to :data:`WARM_ROWS` voices, each round one section per voice.

        Voices are independent, so a round reads them as batch rows; a voice's sections
        follow one another (each starts from the previous one's state). One round is one
        task on the inference thread: a completion waits behind one round at most.
        """
        engine = self.engine_for(uri)
        cache = engine.cache
        max_context = self.settings.maxContext
        if cache is not None and cache.model.cond_dim and not reading.prepared:
            # The model loaded after the reading began: settings on the reader thread first.
            await asyncio.get_running_loop().run_in_executor(self.reader, reading.prepare_settings)
        stride, _ = warm_stride(reading, max_context)
        queues = [
            [reading.voices[voice][number] for number in numbers]
            for voice, numbers in reading.sections.items()
        ]
        while any(queues):
            for first in range(0, len(queues), WARM_ROWS):
                group = [q.pop(0) for q in queues[first : first + WARM_ROWS] if q]
                if not group:
                    continue
                await _after_children(engine)
                if self.readings.get(uri) is not reading or engine.cache is not cache:
                    return
                steps = warm_sections(reading, group, cache, max_context, stride)
                await engine.run_trips(
                    functools.partial(advance, steps),
                    lambda: self.readings.get(uri) is reading,
                )
                if self.readings.get(uri) is not reading:
                    return
        # then the short reads' states deep in long arrays (after every section's start: those
        # serve every cursor of a section, these a cursor's last notes)
        await _after_children(engine)
        if self.readings.get(uri) is not reading or cache is None or engine.cache is not cache:
            return
        await engine.run_trips(
            functools.partial(advance, warm_short_reads(reading, cache, max_context)),
            lambda: self.readings.get(uri) is reading,
        )
        if self.readings.get(uri) is not reading:
            return
        voices = self.voices_completed.get(uri)
        if voices and cache is not None and cache.model.cond_dim:
            tables = prepare_voices(reading, voices, cache.model)
            await engine.run_trips(
                functools.partial(advance, tables), lambda: self.readings.get(uri) is reading
            )
        # The warm-up's temporaries (a few MB per round) freed: give the heap back.
        self.release_memory_when_quiet()

    def forget(self, uri: str, closing: bool = True) -> list[Future[None]]:
        """Drop everything kept for ``uri`` (``closing``: and, when it was the last document
        open, the engines' warm states: done when the futures returned are)."""
        task = self.warmers.pop(uri, None)
        if task is not None:
            task.cancel()
        if closing:
            for work in self.running.pop(uri, ()):  # generations for it (while_open)
                self.closed_work.add(work)
                work.cancel()
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        gone = self.views.pop(uri, None)
        if gone is not None and len(gone.text) >= HUGE_TEXT:
            self.fit_heap()
        self.coexistence.forget(uri)
        self.readings.pop(uri, None)
        self.voices_completed.pop(uri, None)
        self.read_ahead_of.pop(uri, None)
        self.typed_at.pop(uri, None)
        self.read_cost.pop(uri, None)
        self.model_sent.pop(uri, None)
        self.slip_hints.forget(uri)
        for engine in (self.engine, *self.models.engines.values()):
            if engine.cache is not None:
                self.fit_cache(engine.cache)  # (the closed document's room given back)
                self.shrink_cache(engine)
        cleared: list[Future[None]] = []
        if closing and not self.views:  # the last one closed: its warm states serve nobody
            for engine in (self.engine, *self.models.engines.values()):
                future = engine.forget_states()
                if future is not None:
                    cleared.append(future)
        return cleared

    # -- shared request plumbing ---------------------------------------------------------------

    async def context_for(
        self, uri: str, position: types.Position
    ) -> tuple[DocumentView, NoteContext] | None:
        """The view and cursor context, computed on the inference thread; ``None`` outside."""
        view = self.view(uri)
        if view is None:
            return None
        reading = self.latest_reading(uri)
        max_context = self.settings.maxContext
        nc = await self.engine.run(
            note_context, view, position.line, position.character, reading, max_context
        )
        return (view, nc) if nc is not None else None


def complete_at(
    ls: NotegenServer, view: DocumentView, line: int, character: int, reading: Reading | None
) -> list[types.CompletionItem] | None:
    """Completion items at a cursor (inference thread); ``None`` outside note arrays."""
    settings = ls.settings
    nc = note_context(view, line, character, reading, settings.maxContext)
    if nc is None:
        return None
    ls.completed_in(view.uri, nc)
    edit_range = cursor_range(view, nc)

    def then(text: str, events: list[Event]) -> types.Command | None:
        """Accepting a phrase adds its durations to ``bN[k]`` (notegen.lsp.ghost_durations)."""
        return ghost_durations.command_for(view, nc, text, events, edit_range)

    items = completion.complete(
        ls.engine_for(view.uri), nc, settings, edit_range, then, phrase_later=True
    )
    ls.read_ahead(view.uri, nc)
    return items


def gone_stale(ls: NotegenServer, view: DocumentView) -> bool:
    """Whether ``view`` stopped being the open document (closed, reopened or edited) before
    the inference thread reached a request asked in it: the answer would be thrown away.

    Computed anyway, a client that opened, completed in and closed a document back to back
    queued work faster than it was done (5.7 ms a completion, the last close having dropped
    the warm states; skipped, 16 µs): the requests waited in memory, ~19 MB of RSS more per
    2,000 cycles, without bound (measured)."""
    return ls.views.get(view.uri) is not view or not ls.is_current(view)


def complete_prepared(
    ls: NotegenServer, view: DocumentView, line: int, character: int, reading: Reading | None
) -> Prepared | None:
    """:func:`complete_at`'s incomplete completion list, as the JSON text it is sent as."""
    if gone_stale(ls, view):  # (the answer a stale view gets in on_completion)
        return ls.protocol.prepare(types.CompletionList(is_incomplete=True, items=[]))
    items = complete_at(ls, view, line, character, reading)
    if items is None:
        return None
    return ls.protocol.prepare(types.CompletionList(is_incomplete=True, items=items))


def ghost_at(
    ls: NotegenServer, view: DocumentView, line: int, character: int, reading: Reading | None
) -> tuple[str, types.Range, types.Command | None] | None:
    """Ghost text, the range it replaces and the command that completes the voice once it is
    accepted (inference thread); ``None``: nothing to show."""
    if gone_stale(ls, view):
        return None
    nc = note_context(view, line, character, reading, ls.settings.maxContext)
    if nc is None:
        return None
    ls.completed_in(view.uri, nc)
    found = inline.ghost(ls.engine_for(view.uri), nc, ls.settings)
    if found is None:
        return None
    edit_range = cursor_range(view, nc)
    command = ghost_durations.command_for(view, nc, found.text, found.events, edit_range)
    return found.text, edit_range, command


async def _trim_after(cleared: list[Future[None]], reader: ThreadPoolExecutor) -> None:
    """:func:`trim_heap` on ``reader`` once the ``cleared`` work is done."""
    for future in cleared:
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(future)
    await asyncio.get_running_loop().run_in_executor(reader, trim_heap)


async def _after_children(engine: Engine) -> None:
    """Wait while a big job of ``engine`` runs in a child process (a warm-up round then).

    The child runs at a lower priority than the server (:data:`child.CHILD_NICE`), so that
    completions get the CPU first; a warm-up, which nobody waits for, took it from the job
    the user asked for too: ``generateMelody`` of 5,000 notes in the 20,000-note piece,
    asked while the piece was warmed again after the typing before it, took 2.7-4.5 s
    where it takes 1.7-2.3 s on an idle server (measured)."""
    turn = engine.child_turn()
    if turn.locked():
        async with turn:
            pass


def guarded(default: Any = None):
    """Log and swallow a feature's unexpected exception (JSON-RPC errors still propagate)."""

    def wrap(fn):
        async def run(ls: NotegenServer, params: Any):
            try:
                return await fn(ls, params)
            except (JsonRpcException, asyncio.CancelledError):
                raise
            except Exception:
                log.exception("%s failed", fn.__name__)
                return default

        run.__name__ = fn.__name__
        return run

    return wrap


def create_server(model_path: str | None = None) -> NotegenServer:
    """A server with every notegen feature registered."""
    server = NotegenServer(model_path)

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: NotegenServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls.apply_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: NotegenServer, params: types.InitializedParams) -> None:
        ls.client_ready = True
        if await ls.engine.ready() is not None:
            await ls.engine.run(rehearse, ls.engine, ls.settings, ls.protocol)
        tune_gc()  # the model and every module are loaded by now
        ls._report_model()  # a load that failed before the client could be told

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(
        ls: NotegenServer, params: types.DidChangeConfigurationParams
    ) -> None:
        settings = params.settings
        if isinstance(settings, dict) and SECTION in settings:
            ls.apply_settings(settings[SECTION])
        elif settings is None or settings == {}:
            await _pull_configuration(ls)
        else:
            ls.apply_settings(settings)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: NotegenServer, params: types.DidOpenTextDocumentParams) -> None:
        # Opened again (a client may, even at the same version): what was kept for the old
        # text goes, or answers keyed by the version (is it Sonic Pi?) stayed the old text's.
        uri = params.text_document.uri
        if uri in ls.views or uri in ls.readings:
            ls.forget(uri, closing=False)
        ls.view(uri)
        ls.schedule_reading(uri, 0.0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: NotegenServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.slip_hints.cancel(uri)  # a check of an older version (maybe a child process) stops
        ls.schedule_reading(uri, ls.reading_delay(uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: NotegenServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        cleared = ls.forget(uri)
        # Its reading, settings and evidence are freed now, and the warm states once the
        # inference thread has dropped them: then give the heap back (~35 MB for the
        # benchmark piece stayed resident without this, measured; trimmed before the states
        # went, the soak's server was ~15-20 MB bigger after closing in 2 of 3 runs). A trim
        # only: ctypes releases the GIL during it, where a full collection would hold it.
        if cleared:
            # The last document: its model states went with it (Engine.forget_states), so
            # the heap goes back now too (~1 ms), not only once the inference thread is
            # free. The soak read 132.4, 148.0 and 142.6 MB right after closing, by
            # whether that thread had been free.
            trim_heap()
        ls.trimming = asyncio.ensure_future(_trim_after(cleared, ls.reader))
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=completion.TRIGGER_CHARACTERS),
    )
    @guarded(None)
    async def on_completion(
        ls: NotegenServer, params: types.CompletionParams
    ) -> types.CompletionList | Prepared | None:
        uri = params.text_document.uri
        view = ls.view(uri)
        engine = ls.engine_for(uri)
        if view is None or not ls.serves(uri) or await engine.ready() is None:
            return None
        # One trip to the inference thread for the context and the items (already as JSON
        # there: protocol.Prepared): on a busy machine every thread hand-off can cost a
        # scheduler slice.
        position = params.position
        found = await engine.run(
            complete_prepared, ls, view, position.line, position.character, ls.latest_reading(uri)
        )
        if found is None:
            return None
        if not ls.is_current(view):
            return types.CompletionList(is_incomplete=True, items=[])
        return found

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @guarded(None)
    async def on_inline(
        ls: NotegenServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        if not ls.settings.inlineSuggestions:
            return None
        uri = params.text_document.uri
        view = ls.view(uri)
        engine = ls.engine_for(uri)
        if view is None or not ls.serves(uri) or await engine.ready() is None:
            return None
        position = params.position
        found = await engine.run(
            ghost_at, ls, view, position.line, position.character, ls.latest_reading(uri)
        )
        if found is None or not ls.is_current(view):
            return None
        return inline.items(*found)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded(None)
    async def on_hover(ls: NotegenServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        if not ls.serves(uri):
            return None
        found = await ls.context_for(uri, params.position)
        if found is None:
            return None
        view, nc = found
        token = hover.token_under(nc)
        if token is None and not ls.settings.pianoRoll:
            return None
        text = ""
        if token is not None:
            engine = ls.engine_for(uri)
            await engine.ready()
            text = await engine.run(hover.describe, engine, nc, token)
            text += "\n\n" + hover_line(ls.model_choice(uri))
        if ls.settings.pianoRoll:  # the melody's picture, under the note's facts
            roll = await ls.engine.run(picture.roll_for, view, nc, token)
            text = "\n\n".join(t for t in (text, picture.markdown_image(roll)) if t)
        if not ls.is_current(view):
            return None
        span = nc.local.doc_span(token.span) if token is not None else None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
            range=lsp_range(view, span.start, span.end) if span is not None else None,
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[*code_actions.KINDS, play.KIND_PLAY, quick_fixes.KIND]
        ),
    )
    @guarded([])
    async def on_code_action(
        ls: NotegenServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        uri = params.text_document.uri
        if not ls.serves(uri):
            return []
        position = params.range.start
        found = await ls.context_for(uri, position)
        view = ls.view(uri)
        if view is None:
            return []
        blank = not view.line_text(position.line).strip()
        reading = ls.latest_reading(uri)
        live = reading is not None and any(a.kind == "play" for a in reading.summaries)
        out = code_actions.actions(
            uri, position, found is not None, blank, ls.settings, live_coding=live
        )
        out += play.play_actions(view, params.range)
        changes = client_supports_document_changes(ls.client_capabilities_or_none())
        wanted = any(d.code == quick_fixes.CODE for d in params.context.diagnostics)
        if wanted and len(view.text) <= MAX_READING_CHARS:  # (never diagnosed above it)
            # A whole reading: beside the inference thread, which completions wait for.
            fixes = quick_fixes.add_missing_durations
            diagnostics = list(params.context.diagnostics)
            out = await asyncio.to_thread(fixes, view, diagnostics, changes) + out
        out = slip_hints.actions(view, params.context.diagnostics, changes) + out
        return out

    @server.command(commands.GENERATE)
    async def on_generate(ls: NotegenServer, *args: Any) -> dict[str, Any]:
        try:
            return await commands.generate_melody(ls, *args)
        finally:
            ls.after_long_work()

    @server.command(commands.CONTINUE)
    async def on_continue(ls: NotegenServer, *args: Any) -> dict[str, Any]:
        try:
            return await commands.continue_melody(ls, *args)
        finally:
            ls.after_long_work()

    @server.command(ghost_durations.COMMAND)
    async def on_ghost_durations(ls: NotegenServer, *args: Any) -> dict[str, Any]:
        return await ghost_durations.add_ghost_durations(ls, *args)

    @server.command(play.PLAY)
    async def on_play(ls: NotegenServer, *args: Any) -> dict[str, Any]:
        return await play.play_in_sonic_pi(ls, *args)

    @server.command(play.STOP)
    async def on_stop(ls: NotegenServer, *args: Any) -> dict[str, Any]:
        return await play.stop_sonic_pi(ls, *args)

    return server


async def _pull_configuration(ls: NotegenServer) -> None:
    """Clients that send empty settings expect the server to ask (``workspace/configuration``)."""
    caps = ls.client_capabilities_or_none()
    if not (caps and caps.workspace and caps.workspace.configuration):
        return
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        )
    except JsonRpcException as exc:  # the editor's answer (an error, none, or not a list)
        log.warning("workspace/configuration: %s; the settings stay as they were", exc)
        return
    except Exception:
        log.exception("workspace/configuration failed")
        return
    if result:
        ls.apply_settings(result[0])
