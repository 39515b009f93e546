"""The model as the server holds it: loaded once, in the background, used from one thread
(plus one for long generations, :meth:`Engine.run_long`, and one for background checks,
:meth:`Engine.run_background`).

Inference runs on a single worker thread, never on the event loop: one worker keeps requests
in order and makes the context cache lock-free in practice (ONNX Runtime may use a second
thread inside a model call: :data:`INFERENCE_THREADS`). A model that cannot be loaded leaves
``error`` set (the message names the file and why) and every model-free feature keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from notegen.model.context_cache import ContextCache
from notegen.model.generate import finish_steps
from notegen.model.network import MelodyModel, ModelError, default_model_path
from notegen.paths import user_path

log = logging.getLogger(__name__)
T = TypeVar("T")

INFERENCE_THREADS = min(2, os.cpu_count() or 1)
"""ONNX Runtime threads per call of the server's model (same results as one thread).

Reading a stretch of notes (a completion's notes before the cursor, the warm-up's batches)
takes less than half the time on two (20 events: 2.5 → 1.1 ms, measured); a phrase's
one-event steps gain little. Completions on the 20,000-note benchmark piece, replayed
in-process: p99 12.2-12.4 → 10.7-11.5 ms, for ~10 % more CPU. Big jobs in child processes
(:mod:`notegen.lsp.child`) keep one thread: they run beside completions. A quantized graph
(the shipped one: :attr:`notegen.model.network.MelodyModel.quantized`) always runs on one: two round
a batch's hidden states differently. (A lone row's stretch of 16-200 events is bit-identical
and 1.3-1.6x faster on two; a second session for those cost 5.5 MB of RSS with no clear gain
on the 20,000-note piece: tried and reverted, Dec 4.)"""


RESULTS = 256
"""Results :meth:`Engine.remember` keeps (phrases, ghost texts)."""
LATER_QUIET_S = 0.04
"""Quiet time (no message from the client) before work nobody waits for yet runs
(:meth:`Engine.later`): a typing pause. At full speed (~7 ms a keystroke, the latency
benchmark) phrases computed between the requests cost each completion ~1 ms at p50 and
1-3 ms at p99 (they share the interpreter with its messages; measured on a 2-CPU VM, 800
requests, against the same server without them: p99 8.9-9.0 against 10.0-12.9 ms); people
type a key every 100-200 ms, and a phrase takes ~5 ms."""


class Stopped(Exception):
    """Long work was stopped: the request it served was cancelled."""


class Job:
    """One long piece of work (a generation): its model, which stops when :attr:`stop` is set.

    Generation calls ``model.step`` once per note (or per batch of notes), so checking there
    stops a cancelled generation within one step, with no change to the generation code.
    """

    def __init__(self, model: MelodyModel) -> None:
        self.stop = threading.Event()
        self.model: MelodyModel = _StoppableModel(model, self.stop)  # type: ignore[assignment]


class _StoppableModel:
    """``model`` with a ``step`` that raises :class:`Stopped` once ``stop`` is set."""

    def __init__(self, model: MelodyModel, stop: threading.Event) -> None:
        self._model = model
        self._stop = stop

    def step(self, *args: Any, **kwargs: Any) -> Any:
        if self._stop.is_set():
            raise Stopped
        return self._model.step(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _Alarm:
    """One thread that runs the latest function given once its delay has passed (a function
    given before it, not run yet, is dropped). ``threading.Timer`` starts a thread each time:
    ~100 µs of CPU on the caller, at every completion of fast typing."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._due: tuple[float, Callable[[], None]] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def set(self, delay: float, fn: Callable[[], None]) -> None:
        with self._ready:
            if self._closed:
                raise RuntimeError("closed")
            idle = self._due is None
            self._due = (time.monotonic() + delay, fn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notegen-later", daemon=True)
                self._thread.start()
            elif idle:  # (a later deadline is seen when the earlier one's wait ends)
                self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._due = None
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._closed:
                    if self._due is None:
                        self._ready.wait()
                    elif (left := self._due[0] - time.monotonic()) > 0:
                        self._ready.wait(left)
                    else:
                        break
                if self._closed or self._due is None:
                    return
                fn = self._due[1]
                self._due = None
            fn()


class _Trips:
    """:meth:`Engine.run_trips`' trips: each queues the next (a bound method, so no closure
    refers to itself).

    A nested ``step`` that queued itself by name was a reference cycle (the function, its
    closure, the cell holding the function), and the ``wanted`` and ``trip`` it held stayed
    alive until a full collection, which the server runs only in pauses: the warm-up's last
    ``wanted`` kept the document's previous reading (~15 MB for the soak benchmark's piece)
    until the next reading had landed, whenever a collection found the last trip still
    running and so kept the cycle (the soak read ~158 MB at a storm's reading in 3 of 6 runs
    before this, in none of 9 since)."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        trip: Callable[[], bool],
        wanted: Callable[[], bool],
        finish: Callable[[BaseException | None], None],
    ) -> None:
        self.executor, self.trip, self.wanted, self.finish = executor, trip, wanted, finish
        self.stopped = threading.Event()

    def step(self) -> None:
        try:
            if self.stopped.is_set() or not self.wanted() or not self.trip():
                self.finish(None)
                return
            self.executor.submit(self.step)
        except RuntimeError:  # shut down meanwhile
            self.finish(None)
        except BaseException as exc:
            self.finish(exc)


def _settle_soon(
    loop: asyncio.AbstractEventLoop, done: asyncio.Future[None], error: BaseException | None
) -> None:
    """From any thread: ``done`` gets its result (or ``error``) on ``loop``, unless settled."""

    def settle() -> None:
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    if not loop.is_closed():
        loop.call_soon_threadsafe(settle)


class Engine:
    """Owns the model, its :class:`ContextCache`, a small result cache and the worker thread."""

    def __init__(self, quiet_for: Callable[[], float] | None = None) -> None:
        self.quiet_for = quiet_for
        """Seconds since the client last sent anything (``None``: always quiet): work nobody
        waits for (:meth:`later`) waits for :data:`LATER_QUIET_S` of it."""
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notegen-infer")
        self.model: MelodyModel | None = None
        self.cache: ContextCache | None = None
        self.error: str | None = None
        self.path: Path | None = None
        self._loading: Future[None] | None = None
        self._asked = 0
        """Loads asked for so far: only the latest is made (:meth:`load`)."""
        self._made_from: Path | None = None
        """The file ``model`` was loaded from."""
        self._lock = threading.Lock()
        self.results: OrderedDict[Any, Any] = OrderedDict()
        self._long: ThreadPoolExecutor | None = None
        self._background: ThreadPoolExecutor | None = None
        self._child_turn: asyncio.Lock | None = None
        self._pending: tuple[Any, Generator[None, None, Any]] | None = None
        self._alarm = _Alarm()

    # -- loading -------------------------------------------------------------------------------

    def load(self, path: str | Path | None) -> Future[None]:
        """Start loading ``path`` (``None``: the default model) on the worker; idempotent.

        Only the latest path asked for is loaded: a load asked for another path before this
        one began is skipped when its turn comes (:meth:`_load`). A client that switched
        ``modelPath`` 200 times in a row had 200 loads queued, one after the other, and its
        next completion waited 20.8 s for them (measured)."""
        target = user_path(path) if path else default_model_path()
        with self._lock:
            if self.path == target and self._loading is not None:
                return self._loading
            self.path = target
            self._asked += 1
            self._loading = self.executor.submit(self._load, target, self._asked)
            return self._loading

    def _load(self, path: Path, asked: int) -> None:
        if asked != self._asked:  # another load was asked for since: it follows this one
            return
        if self.model is not None and path == self._made_from:
            return  # (asked for another and back before either began: kept, its cache warm)
        self._made_from = None
        try:
            model = MelodyModel.load(path, threads=INFERENCE_THREADS)
        except ModelError as exc:
            self.model, self.cache, self.error = None, None, str(exc)
            log.error("model not loaded: %s", exc)
            return
        except Exception as exc:  # a broken runtime, not a bad file: still say which file
            self.model, self.cache = None, None
            self.error = f"{path}: cannot load model ({type(exc).__name__}: {exc})"
            log.exception("model not loaded")
            return
        self.model, self.cache, self.error = model, ContextCache(model), None
        self._made_from = path
        self.results.clear()
        self._pending = None
        log.info("model loaded: %s", path)

    async def ready(self) -> MelodyModel | None:
        """Wait for the current load (if any) and return the model, or ``None`` with ``error``."""
        loading = self._loading
        if loading is not None and not loading.done():
            await asyncio.wrap_future(loading)
        return self.model

    # -- running -------------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the inference thread and await it (cancellable)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn, *args)

    async def run_trips(self, trip: Callable[[], bool], wanted: Callable[[], bool]) -> None:
        """Call ``trip`` on the inference thread until it returns ``False`` or ``wanted()``
        does not hold any more (background work in short trips, such as the warm-up).

        Each trip queues the next one itself, behind whatever was asked meanwhile (requests
        still go first), without a round trip through the event loop: on a busy machine each
        such hand-over between threads cost a scheduler slice, and a warm-up of ~600 trips
        took 20 s instead of 2. Cancelling the awaiting task stops the trips.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        trips = _Trips(self.executor, trip, wanted, functools.partial(_settle_soon, loop, done))
        try:
            self.executor.submit(trips.step)
        except RuntimeError:
            return
        try:
            await done
        finally:
            trips.stopped.set()

    def forget_states(self) -> Future[None] | None:
        """Drop the cached model states and results (no document is open any more: ~9 MB of
        states at the cache's capacity). The states go at once (the cache takes its lock),
        and again on the inference thread, behind any request, with the results only that
        thread touches: done when the future is (``None``: shut down)."""
        if self.cache is not None:
            self.cache.clear()

        def clear() -> None:
            if self.cache is not None:
                self.cache.clear()
            self.results.clear()
            self._pending = None

        with contextlib.suppress(RuntimeError):  # shut down
            return self.executor.submit(clear)
        return None

    def remember(self, key: Any, compute: Callable[[], T]) -> T:
        """A tiny LRU for results that depend only on ``key`` (called on the worker thread)."""
        if key in self.results:
            self.results.move_to_end(key)
            return self.results[key]  # type: ignore[no-any-return]
        value = compute()
        self._keep(key, value)
        return value

    def _keep(self, key: Any, value: Any) -> None:
        self.results[key] = value
        while len(self.results) > RESULTS:
            self.results.popitem(last=False)

    def known(self, key: Any) -> Any | None:
        """The remembered result for ``key``, or ``None``; computes nothing."""
        if key in self.results:
            self.results.move_to_end(key)
            return self.results[key]
        return None

    def finish(self, key: Any, start: Callable[[], Generator[None, None, T]]) -> T:
        """:meth:`remember` for stepwise work (a generator that yields between model steps
        and returns the result): the remembered result, else the one :meth:`later` began for
        ``key`` run to its end, else ``start()`` run whole (on the worker thread)."""
        if key in self.results:
            self.results.move_to_end(key)
            return self.results[key]  # type: ignore[no-any-return]
        pending = self._pending
        if pending is not None and pending[0] == key:
            self._pending = None
            steps: Generator[None, None, T] = pending[1]
        else:
            steps = start()
        value = finish_steps(steps)
        self._keep(key, value)
        return value

    def later(self, key: Any, start: Callable[[], Generator[None, None, Any]]) -> None:
        """Compute ``key``'s stepwise work once the client is quiet: one step per trip to
        the worker thread, each queued behind whatever was asked meanwhile, and only after
        :data:`LATER_QUIET_S` without a message from the client; the result is then
        remembered. Called on the worker thread. Only the latest such work is kept: what
        ``later`` began for another key is dropped (the cursor moved on).

        A completion offers the phrase this way (:func:`notegen.lsp.completion.complete`):
        answered without it, the next request at that cursor (an editor asks again at the
        next keystroke: the list is incomplete) or the ghost text finds it. No request
        waits for its ~5 ms of steps, and typing faster than the pause spends none on
        phrases passed by (VS Code's ghost text, asked at the same keystroke, computes its
        phrase at once)."""
        if key in self.results:
            return
        if self._pending is not None and self._pending[0] == key:
            return  # already under way
        self._pending = (key, start())
        self._step_when_quiet(key)

    def _step_when_quiet(self, key: Any) -> None:
        """Queue the next step of ``key``'s work now, or once the client has been quiet for
        :data:`LATER_QUIET_S`."""
        quiet = math.inf if self.quiet_for is None else self.quiet_for()
        try:
            if quiet >= LATER_QUIET_S:
                self.executor.submit(self._step_later, key)
                return
            self._alarm.set(LATER_QUIET_S - quiet, functools.partial(self._resume, key))
        except RuntimeError:  # shut down (or no thread to be had): the work is dropped
            self._pending = None

    def _resume(self, key: Any) -> None:
        with contextlib.suppress(RuntimeError):  # shut down
            self.executor.submit(self._step_later, key)

    def _step_later(self, key: Any) -> None:
        pending = self._pending
        if pending is None or pending[0] != key:
            return  # finished by a request, replaced or dropped
        if self.quiet_for is not None and self.quiet_for() < LATER_QUIET_S:
            self._step_when_quiet(key)  # the client spoke meanwhile: its requests first
            return
        try:
            next(pending[1])
        except StopIteration as done:
            self._pending = None
            self._keep(key, done.value)
            return
        except Exception:
            self._pending = None
            log.exception("background work failed")
            return
        self._step_when_quiet(key)

    async def run_long(self, job: Job, fn: Callable[[], T]) -> T:
        """Run long work (a generation) on a thread of its own and await it.

        Completions and hovers never queue behind it: they keep the inference thread (ONNX
        Runtime sessions run concurrently, and each model call releases the GIL). Cancelling
        the awaiting task stops the work at its next model step (:class:`Job`).
        """
        if self._long is None:
            self._long = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notegen-long")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._long, fn)
        except asyncio.CancelledError:
            job.stop.set()
            raise

    def child_turn(self) -> asyncio.Lock:
        """Held while a big job runs in a child process (:mod:`notegen.lsp.child`): one at a
        time, in order, as on the long-work thread (two would each want a core and the memory
        of a whole model)."""
        if self._child_turn is None:
            self._child_turn = asyncio.Lock()
        return self._child_turn

    async def run_background(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the background thread (checks nobody waits for, such as the
        slip check) and await it.

        The slip check of the 20,000-note benchmark piece is ~14 s of CPU in steps of up to
        25–135 ms (p90 23 ms, measured); on the inference thread every completion asked
        meanwhile waited behind one. Here completions only share the interpreter with it
        (ONNX Runtime releases the GIL; the switch interval is 0.5 ms).
        """
        if self._background is None:
            self._background = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="notegen-background"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._background, fn, *args)

    def shutdown(self) -> None:
        from .child import kill_children

        self._alarm.close()

        kill_children()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for pool in (self._long, self._background):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
