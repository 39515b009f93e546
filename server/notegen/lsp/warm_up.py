"""The warm-up after a whole-file reading: the model's state at every section start (and
every few notes inside arrays of up to half a window), then deep in longer arrays a state of
each of the network's short reads (:func:`warm_short_reads`), and the experts' tables of the
voices completed in lately, read in the background one short step at a time, so that a
completion anywhere in the file reads only the notes before its cursor in its own array, and
deep in a long array at most 79 of them (:func:`_most_read`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

import numpy as np

from notegen.melody import Event

from .context import LONG_ARRAY, LONG_NETWORK, STOP_EVERY, NoteContext, deep_in_long_array
from .reading import ArraySummary, Reading

WARM_ROWS = 8
"""Voices warmed together: a batch-8 round of one section each takes ~5 ms of CPU."""
WARM_SPAN = 8
"""Events per warm-up model call: a call is what a completion may wait for. Batch 8 x 8 events
reads as many events per ms as 8 x 32 (measured: ~27 vs ~21 events/ms) in a quarter of the
time (~1.2 ms on a quiet core, 2.4 ms loaded, against 12 ms for 8 x 32 loaded)."""
SECTION_STATES = 2
"""States a warm-up keeps per section (:func:`warm_sections`: its start read from the two
window starts a cursor in it may have)."""
WARM_STOPS = 4096
"""Most states a warm-up keeps inside arrays (:func:`warm_stride`), ~7 kB each."""
SHORT_STATES = 4096
"""Most states a warm-up keeps for the network's short reads deep in long arrays
(:func:`warm_short_reads`), ~7 kB each: the 200,000-note one-line array has ~3,100."""
SHORT_ROWS = 1
"""Short reads primed together. Each looks up its start (a model call, its keys' rows) before
the first yield: four together made that step 6-8 ms (one row a call either way on the
quantized network)."""
WARM_BUDGET_S = 0.001
"""Work per trip of the warm-up to the inference thread: what a completion may wait for. A
trip makes whole model calls, at least one (:data:`WARM_SPAN` events a row, ~1.2 ms): this is
one call a trip. With 3 ms (two or three calls) the 20,000-note benchmark piece's completions
right after a whole-document replacement, whose warm-up runs beside them, had p99 8.2-17.1 ms
over five runs of the latency benchmark, against 7.5-9.9 ms; the warm-up took as long (the
server idle 28-33 s after opening either way)."""


def advance(steps: Iterator[None], budget_s: float = WARM_BUDGET_S) -> bool:
    """Run a background generator for about ``budget_s`` (whole steps: at least one);
    ``False`` once it is finished.

    One step per trip to the inference thread made a warm-up of the 20,000-note benchmark
    piece (~1,400 steps, most of them well under 1 ms) take one completion's turn per step
    while completions kept coming: ~12 s instead of ~2 s, with every completion in a section
    not warmed yet paying the whole context itself.
    """
    end = time.perf_counter() + budget_s
    while next(steps, StopIteration) is not StopIteration:
        if time.perf_counter() >= end:
            return True
    return False


RECENT_VOICES = 3
"""Voices per document whose experts' tables a warm-up prepares: the last completed in. Each
voice's tables copy the other voices' notes (~0.75 MB a voice in the 20-voice benchmark
piece): with 8 the soak's server was ~6 MB bigger once idle after each storm (173/184/189
against 167/178/183 MB), tables the next completions would have made anyway."""


def note_voice(recent: dict[int, None], nc: NoteContext) -> None:
    """Remember the voice of a cursor (inference thread): the next reading's warm-up prepares
    what its completions need (:func:`prepare_voices`)."""
    array = nc.local.ctx.array
    if array.kind != "voice" or array.voice is None:
        return
    recent.pop(array.voice, None)  # (the latest last)
    recent[array.voice] = None
    while len(recent) > RECENT_VOICES:
        del recent[next(iter(recent))]


def prepare_voices(
    reading: Reading, recent: Iterable[int], model: Any
) -> Generator[None, None, None]:
    """The experts' tables of the other voices (:meth:`MelodyModel.prepare_setting`) for each
    voice completed in lately, one voice per step (inference thread, where ``recent`` is
    written): only those, as each table holds a copy of the other voices' notes."""
    for voice in list(recent):
        if voice in reading.voices:
            model.prepare_setting(reading.setting(voice))
            yield


def prepare_voices_now(reading: Reading, recent: Iterable[int], model: Any) -> None:
    """:func:`prepare_voices` at once, on the reader thread, before ``reading`` is put in
    place (for the voice completed in last: the previous reading's tables live until then,
    and for three voices both sets took the latency benchmark's ``VmHWM`` to 150.3 MB once
    in three runs). The first completion in that voice after a new reading (often asked
    while it lands: typing on, a generation elsewhere) built those tables itself when the
    warm-up had not reached them yet, 10-25 ms of it in a trace of the latency benchmark's
    cross run."""
    for _ in prepare_voices(reading, recent, model):
        pass


def warm_stride(reading: Reading, max_context: int) -> tuple[int, int]:
    """Every how many notes the warm-up keeps a state inside each array, and how many states
    that is (``(0, 0)``: none).

    A cursor steps the model from the last state kept before it in its array (its start, or
    a stop every :data:`~notegen.lsp.context.STOP_EVERY` notes once a cursor passed there):
    in a file of 100-note lines, a new cursor read up to 99 notes (~4 ms of the shipped
    model). The warm-up keeps the stops too, every ``STOP_EVERY`` notes or a multiple of it,
    so that they number at most :data:`WARM_STOPS`, and at most every half window (the
    window's start moves every half window: a stop farther on is read from another start).
    Only in arrays of at most half a window (:func:`keeps_stops`): in a longer one the
    cursors' windows start inside it, at a new place every half window, and each start's
    stops were read from it anew (a real piece with voices of ~950 notes a section: the
    warm-up's CPU 0.31 → 1.43 s, its longest step 8 → 30 ms).
    """
    voices = reading.sections.items()
    lengths = np.array(
        [len(reading.voices[v][k].pitches) for v, ks in voices for k in ks], np.int64
    )
    lengths = lengths[[keeps_stops(int(n), max_context) for n in lengths]]
    for stride in range(STOP_EVERY, max_context // 2 + 1, STOP_EVERY):
        count = int(np.sum(np.maximum(lengths - 1, 0) // stride)) if len(lengths) else 0
        if count <= WARM_STOPS:
            return (stride, count) if count else (0, 0)
    return 0, 0


def keeps_stops(notes: int, max_context: int) -> bool:
    """Whether the warm-up keeps the stops inside an array of ``notes`` notes."""
    return notes <= max_context // 2


def warm_sections(
    reading: Reading,
    arrays: list[ArraySummary],
    cache: Any,
    max_context: int,
    stride: int = 0,
) -> Generator[None, None, None]:
    """Prime the context at the start of each array (one per voice), caching every start;
    a generator that yields after each model call (:meth:`ContextCache.prime_steps`).

    The context of a cursor starts at a section boundary that moves with the cursor every
    half window (:func:`notegen.model.context_cache.trim_context`), so a cursor late in a long array
    may need the array's start read from a later boundary than a cursor at its start: both
    are primed, and no cursor in the array reads more than the array's own notes.
    ``stride``: then the states every ``stride`` notes inside each array too (a cursor's
    stops, :func:`warm_stride`), each read as a cursor there reads its context.
    """

    def context(array: ArraySummary, before: list[Event]) -> tuple[np.ndarray, list[int], Any]:
        return _context(reading, array, before, max_context).context(cache)

    requests: list[tuple[np.ndarray, list[int], Any]] = []
    for array in arrays:
        own = array.events()
        kept = stride > 0 and keeps_stops(len(own), max_context)
        stops = _stop_requests(array, own, context, stride) if kept else []
        for before in ([], own):
            ids, marks, setting = context(array, before)
            if len(before) >= len(ids):
                continue  # the window starts inside the array: nothing before it to prime
            ids = ids[: len(ids) - len(before)]  # up to the array's start
            marks = [m for m in marks if m < len(ids)] + [len(ids)]  # the start is one too
            if any(len(r[0]) >= len(ids) and np.array_equal(r[0][: len(ids)], ids) for r in stops):
                continue  # read on the way to its stops
            if cache.cached(ids, setting) or any(
                np.array_equal(ids, r[0]) and r[2] is setting for r in requests
            ):
                continue
            requests.append((ids, marks, setting))
            cache.keep_start(setting)  # the setting's start state (one model call)
            yield  # a completion may run between two of these
        for ids, marks, setting in stops:
            if not cache.cached(ids, setting):
                requests.append((ids, marks, setting))
                cache.keep_start(setting)
                yield
    yield from cache.prime_steps(requests, WARM_SPAN)


def _stop_requests(
    array: ArraySummary,
    own: list[Event],
    context: Callable[[ArraySummary, list[Event]], tuple[np.ndarray, list[int], Any]],
    stride: int,
) -> list[tuple[np.ndarray, list[int], Any]]:
    """Requests that keep the states every ``stride`` notes of ``array`` and at its end (the
    next array's start): the contexts of cursors there, one request per window start among
    them (the stops read from one start follow one another: one row reads them all, and
    passes the array's start on the way, kept too)."""
    last: dict[int, tuple[np.ndarray, list[int], Any]] = {}  # window start → its last stop's
    for stop in [*range(stride, len(own), stride), len(own)]:
        ids, marks, setting = context(array, own[:stop])
        head = len(ids) - stop  # where the array starts in ids (every mark up to it kept)
        keep = [m for m in marks if m <= head or (m - head) % stride == 0]
        last[-head] = (ids, [*keep, len(ids)], setting)
    return list(last.values())


def _context(
    reading: Reading,
    array: ArraySummary,
    before: list[Event],
    max_context: int,
    gap: int = 0,
) -> NoteContext:
    """The context of a cursor after ``before`` in ``array`` (after ``gap`` elements of it
    left out before them, as a long line's window leaves them), with no cursor."""
    return NoteContext(
        local=None,  # type: ignore[arg-type]
        earlier=reading.earlier_sections(array),
        before=before,
        reading=reading,
        spelling=reading.style,
        numeric=False,
        max_context=max_context,
        setting=(
            reading.setting(array.voice)
            if array.kind == "voice" and array.voice is not None
            else None
        ),
        gap=(gap, array) if gap else None,
    )


def long_arrays(reading: Reading, max_context: int) -> list[ArraySummary]:
    """The arrays of ``reading`` deep in which cursors have the network read short (note
    arrays only: a ``play`` run's cursor reads its loop's notes in play order)."""
    return [
        array
        for array in reading.summaries
        if array.kind != "play" and deep_in_long_array(len(array.pitches), max_context)
    ]


def short_states(reading: Reading, max_context: int) -> int:
    """At most how many states :func:`warm_short_reads` keeps for ``reading``: one per
    short start (every half of :data:`LONG_NETWORK` notes) of each long array."""
    half = LONG_NETWORK // 2
    count = sum(len(a.pitches) // half for a in long_arrays(reading, max_context))
    return min(count, SHORT_STATES)


def warm_short_reads(
    reading: Reading,
    cache: Any,
    max_context: int,
    budget: int = SHORT_STATES,
) -> Generator[None, None, None]:
    """Keep, for each place deep in a long array where the network starts a short read
    (from ``<bos>``, every half of :data:`LONG_NETWORK` notes), the state that read reaches
    at one of its stops (:func:`_most_read`): 64 notes on where the array's stops fall so. A
    cursor there reads on from it, at most ~64 notes instead of 64-127: a new place in the
    200,000-note one-line array has the network read ~32 notes instead of ~96 (no state was
    kept inside such arrays: :func:`keeps_stops`). A generator that yields after each
    cursor's context and each model call; at most ``budget`` states.

    Each start's context is that of a cursor as the server reads it (its window's notes,
    the elements before them left out), so that the states' keys are that cursor's: where
    the voice's durations do not add up exactly in floating point, a cursor whose window
    splits the sum elsewhere may not find them."""
    left = budget
    for array in long_arrays(reading, max_context):
        notes = len(array.pitches)
        # where in the array a short read starts → (the stop kept, the request keeping it)
        best: dict[int, tuple[int, tuple[np.ndarray, list[int], Any, int]]] = {}
        for cursor in [*_last_cursors(reading, array, max_context), notes + LONG_NETWORK]:
            if cursor <= notes:
                gap = max(0, cursor - max_context)
                nc = _context(reading, array, array.events(gap, cursor), max_context, gap)
                ids, marks, setting = nc.context(cache)
                start, _ = nc.read_plan(cache, ids, marks, setting)
                stops = [m - start for m in marks if start < m < start + LONG_NETWORK]
                if start > 0 and stops:
                    begins = cursor - (len(ids) - start)
                    end = start + min(stops, key=_most_read)
                    known = best.get(begins)
                    if known is None or _most_read(end - start) < _most_read(known[0]):
                        best[begins] = (end - start, (ids[:end], [end], setting, start))
                yield
            # the starts no later cursor reads from, primed a few at a time
            done = [b for b in best if b < cursor - LONG_NETWORK]
            while len(done) >= SHORT_ROWS or (done and cursor > notes):
                part = [best.pop(b)[1] for b in done[:SHORT_ROWS]][:left]
                del done[:SHORT_ROWS]
                left -= len(part)
                yield from cache.prime_steps(part, WARM_SPAN)
                if left <= 0:
                    return


def _last_cursors(reading: Reading, array: ArraySummary, max_context: int) -> list[int]:
    """Cursors of ``array`` (notes before them) that see every short start a cursor deep in
    it has: the last of each run of cursors whose network starts at one place.

    A cursor's window starts every half window of its voice's notes, or at the next section
    start after that (:meth:`NoteContext.context`); from the window's start its network
    starts every half of :data:`LONG_NETWORK` notes, and the last cursor of each start is
    that many notes less one past a multiple of it from the window's start. Every cursor
    of the kind would see them all, at ~0.1 ms a context."""
    half = LONG_NETWORK // 2
    earlier = [len(a.pitches) for a in reading.earlier_sections(array)]
    bounds = np.cumsum([0, *earlier])
    prefix = int(bounds[-1])
    notes = len(array.pitches)
    first = int(max_context * LONG_ARRAY) + 1
    anchors = {0, *(int(b) for b in bounds if b > prefix + first - max_context)}
    found = {notes} if notes >= first else set()
    for anchor in anchors:
        offset = (half - 1 - (prefix - anchor)) % half  # (prefix + c - anchor) % half == half - 1
        found.update(range(first + (offset - first) % half, notes + 1, half))
    return sorted(found)


def _most_read(stop: int) -> int:
    """The most notes a cursor's network reads where a short read's state ``stop`` notes
    after its start is kept: cursors read 64-127 notes from that start (:data:`LONG_NETWORK`)
    and step on from the state, or read from the start those before it. A voice's stops
    fall every 32 notes of its array, not always at 64 (its earlier sections' lengths): of
    the two within reach, the better leaves at most 79 (stops at 48 and 80)."""
    half = LONG_NETWORK // 2
    return max(stop - 1 if stop > half else 0, LONG_NETWORK - 1 - stop)
