"""From a cursor to what the model needs: the array, the notes before, the spelling style.

Shared by completion, inline completion, hover and continueMelody so they all read the same
context the same way: the local reader result, the voice's earlier sections and durations from
the latest whole-file reading, trimmed to ``maxContext`` events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from notegen.melody import Event
from notegen.model.conditioning import Setting
from notegen.model.context_cache import ContextCache, Primed, trim_context
from notegen.model.ensemble import others_of
from notegen.notes import NoteStyle, infer_style_by_line
from notegen.sonicpi.play_order import (
    heard_after,
    heard_before,
    onset_in_pass,
    voice_at,
)
from notegen.sonicpi.statements import PlayRun
from notegen.sonicpi.types import LINE_BREAK, CursorContext, NoteArray, NoteToken
from notegen.sonicpi.writer import format_duration

from .documents import WINDOW_CHARS, DocumentView, LocalContext
from .reading import ArraySummary, Beats, Reading, VoiceTrack, before_events

_Found = tuple[np.ndarray, list[int], "Setting | None"]
"""A context's ids, checkpoints and setting (:meth:`NoteContext.context`)."""


@dataclass
class NoteContext:
    """A cursor inside a note array, ready for the model."""

    local: LocalContext
    earlier: list[ArraySummary]
    """The voice's earlier sections (from the latest whole-file reading), in order."""
    before: list[Event]
    """The notes before the cursor in this array (and a finished partial note)."""
    reading: Reading | None
    spelling: NoteStyle | StyleLater
    """The document's spelling style (:attr:`style`), or the text it is inferred from when
    first asked: a fresh cursor's ~1.5 ms of inference then runs while the network reads."""
    numeric: bool
    """The array writes notes as MIDI numbers (``[60, 62]``), so suggestions should too."""
    partial: str = ""
    """What the suggestions must match and replace; ``""`` when suggesting the next note."""
    needs_lead: bool = False
    """A new note at the cursor needs the separator before it (right after an element)."""
    trail_at: int | None = None
    """Where an insertion at the cursor ends, in an array (:attr:`trail`)."""
    written: str = ""
    """In a ``play``/``sleep`` slot, the value already written right after what an insertion
    replaces (``play |:c4``): a completion replaces it whole, since one inserted before it
    would be glued to it (``play :d4:c4``, ``sleep 10.5``)."""
    occupied: bool = False
    """Something is written there that is not one whole value on the line (no completion
    can replace it cleanly): nothing is offered."""
    max_context: int = 256
    setting: Setting | None = None
    """What this voice hears of the piece's other voices (``notegen.model.ensemble``), from its
    start."""
    document: str = ""
    """The document's text (for statement ghost text, which looks at the cursor's line)."""
    closes: bool = False
    """The array is not closed and nothing of it follows the cursor: an insertion that
    continues it should close it."""
    closer: str = "]"
    """The bracket that closes the array: ``)`` for ``(ring …`` and ``ring(…``."""
    kept: int = 0
    """Notes of the array that stay before an insertion at the cursor."""
    durations_name: str | None = None
    durations_count: int | None = None
    """The voice's duration array (``b1[0]``) and how many values it has, where known."""
    cursor_time: float | None = None
    """Where the note at the cursor starts on ``setting``'s time line, when the context
    does not start at its beat 0 (a loop's previous pass read first): the setting's start
    is then placed so that the context's beats end there."""
    after: Event | None = None
    """In play/sleep code, the note heard right after the cursor's where it is already
    written (``notegen.sonicpi.play_order.heard_after``): completion ranks notes by how well
    they lead into it too."""
    gap: tuple[int, ArraySummary] | None = None
    """A warm-up's context (no cursor) deep in a long array: the elements of ``array`` before
    :attr:`before` that a cursor's window there leaves out (:attr:`skipped`), and the array."""
    _own: tuple[ContextCache, _Found, int, int] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """:meth:`context` without extra events, kept: a completion asks for it to rank the notes
    and again for its phrase (the same ids, checkpoints and setting object, so the phrase's
    priming finds the cache's memo of the ranked context)."""

    @property
    def style(self) -> NoteStyle:
        """The spelling and layout habits to write notes in."""
        if isinstance(self.spelling, StyleLater):
            return self.spelling.style()
        return self.spelling

    @property
    def skipped(self) -> int:
        """Elements of the cursor's array that a long line's window left out before the notes
        read (none elsewhere; in a warm-up's context, which has no cursor, its :attr:`gap`)."""
        if self.local is not None:
            return self.local.skipped
        return self.gap[0] if self.gap is not None else 0

    @property
    def lead(self) -> str:
        """Text a new note needs before it at the cursor (``", "`` right after an element)."""
        return self.style.joiner(", ") if self.needs_lead else ""

    @property
    def trail(self) -> str:
        """Text an insertion needs after it (the separator when an element follows the cursor,
        on this line or a later one): without it the new note runs into that element."""
        if self.trail_at is None:
            return ""
        return _trail(self.document, self.local, self.trail_at, self.style.joiner(", "))

    def closing(self, events: Sequence[Event]) -> str:
        """What must follow inserted ``events`` for the code to stay valid: the bracket that
        closes an unclosed array (``]``; ``)`` for a ring), and, where its duration array is
        now short, the durations the insertion assumes, as a comment (``continueMelody`` writes
        them itself)."""
        if not self.closes:
            return ""
        out = self.closer
        if self.durations_name is not None and self.durations_count is not None and events:
            missing = min(self.kept + len(events) - self.durations_count, len(events))
            if missing > 0:
                beats = self.style.joiner(",").join(
                    format_duration(ev.duration or 1.0, self.style.whole_float)
                    for ev in events[-missing:]
                )
                out += f"  # durations {beats} (add to {self.durations_name})"
        return out

    @property
    def array(self) -> NoteArray:
        return self.local.array

    @property
    def history(self) -> list[Event]:
        """The model's context as events (untrimmed; for tests and simple callers)."""
        out: list[Event] = []
        for section in self.earlier:
            out.extend(section.events())
        return out + self.before

    def context_ids(
        self, cache: ContextCache, extra: Sequence[Event] = ()
    ) -> tuple[np.ndarray, list[int]]:
        ids, marks, _ = self.context(cache, extra)
        return ids, marks

    def context(self, cache: ContextCache, extra: Sequence[Event] = ()) -> _Found:
        """Token ids of the trimmed context (+ ``extra`` events) and the section checkpoints.

        The context keeps at most ``max_context`` events and starts at a section boundary
        that only moves every half window, so the state at each section start can be cached
        and reused by every cursor in the following sections.
        """
        own = self._own  # (read once: a kept context may serve two engines' threads at once)
        if not extra and own is not None and own[0] is cache:
            return own[1]
        start, n, ids, marks, setting = self._window(cache, extra, 0)
        found = ids, marks, setting
        if not extra:
            ids.setflags(write=False)
            self._own = (cache, found, start, n)
        return found

    def ahead(self, cache: ContextCache, within: int) -> tuple[int, _Found] | None:
        """Where the window's start moves once up to ``within`` more notes are typed at the
        cursor, with the context of the notes before it read from there (its stops kept, as
        :meth:`context` would ask them then); ``None`` if it stays where it is meanwhile.

        The window's start moves every half window: the keystroke that moves it read the
        whole window anew (~130-230 notes, 6-10 ms on the 200,000-note benchmark document,
        once every 128 keystrokes). Read ahead, that keystroke steps from a stop nearby."""
        self.context(cache)
        own = self._own
        assert own is not None
        _, _, start, n = own
        n += self.skipped
        now = trim_context(n, self.max_context)
        for more in range(1, within + 1):
            if trim_context(n + more, self.max_context) != now:
                later, _, ids, marks, setting = self._window(cache, (), more)
                return None if later == start else (later, (ids, marks, setting))
        return None

    def short_ahead(self, cache: ContextCache, within: int) -> tuple[int, _Found] | None:
        """As :meth:`ahead` where the network reads short (:meth:`reads_short`): where in the
        context its read starts once up to ``within`` more notes are typed at the cursor, if
        that start moves meanwhile, with the context of the notes before the cursor then
        (the network reads from the start to the cursor: the notes typed come after). 0
        where the window's start moves too and the cursor then reads its window whole.

        The start moves every half of its notes typed (:data:`LONG_NETWORK`): the keystroke
        that moves it read ~64 notes from ``<bos>`` (~2 ms), once every 64 keystrokes deep
        in a long array (128 notes, once every 128, where the window moves too). Read ahead,
        that keystroke steps on from the cursor's place."""
        ids, _, _ = self.context(cache)
        own = self._own
        assert own is not None
        n = own[3] + self.skipped
        window, short = trim_context(n, self.max_context), self._short_notes()
        now = trim_context(len(ids), short)
        for more in range(1, within + 1):
            if trim_context(n + more, self.max_context) == window and (
                trim_context(len(ids) + more, short) == now
            ):
                continue
            _, _, later, marks, setting = self._window(cache, (), more)
            start = trim_context(len(later) + more, short)
            # (the same notes read the same way: from <bos> short, or whole from the window's)
            same = len(later) - start == len(ids) - now and (start == 0) == (now == 0)
            if start < len(later) and not same:
                return start, (later, marks, setting)
            return None
        return None

    def _window(
        self, cache: ContextCache, extra: Sequence[Event], ahead: int
    ) -> tuple[int, int, np.ndarray, list[int], Setting | None]:
        """Where the context starts in the voice's notes, how many there are up to the
        cursor, and :meth:`context`, trimmed as if ``ahead`` more notes followed (still
        ending at the cursor)."""
        track = self._track(cache)
        tail = cache.ids([*self.before, *extra])
        whole: np.ndarray | None = None  # (every id, joined: without a track)
        if track is not None:  # the voice's earlier sections: only the window's are joined
            bounds = track.bounds[: len(self.earlier) + 1]
        else:
            parts = [
                self.reading.ids(a, cache) if self.reading is not None else cache.ids(a.events())
                for a in self.earlier
            ]
            bounds = np.cumsum([0, *(len(p) for p in parts)])
            whole = np.concatenate([*parts, tail]) if parts else tail
        prefix = int(bounds[-1])
        n = prefix + len(tail)
        skipped = self.skipped
        if skipped:
            # A window of a long line: ``skipped`` elements of this array come before the
            # notes read. Trimmed as if they had been read, the context starts where a whole
            # line's would, moving every half window; trimmed on the window's own count it
            # moved with the window at every keystroke, and no cached state matched.
            # (Nothing before the window joins it: the earlier sections lie past the gap.)
            cut = trim_context(n + skipped + ahead, self.max_context)
            start = min(max(cut - skipped, prefix), n)
        else:
            cut = min(trim_context(n + ahead, self.max_context), n)
            later = bounds[bounds >= cut]
            start = int(later[0]) if len(later) else cut
        if whole is not None:
            ids = whole[start:]
        else:
            assert track is not None
            head = track.ids[min(start, prefix) : prefix]
            ids = np.concatenate([head, tail[max(0, start - prefix) :]])
        inside = bounds[(bounds > start) & (bounds <= prefix)]  # (a voice's 2,000 sections)
        marks = (inside - start).tolist()
        # and every STOP_EVERY notes of this array (counted from its first, however many a
        # window left out), so a cursor in a long array steps from a kept state nearby
        first = -skipped % STOP_EVERY
        stops = (prefix + i - start for i in range(first, len(tail), STOP_EVERY))
        marks += [m for m in stops if 0 < m < n - start]
        setting = None
        if self.setting is not None and cache.model.cond_dim:
            setting = self.setting
            if self.cursor_time is not None:
                heard = self._beats_before(cache, track, whole, tail, prefix, n - len(extra))
                setting = replace(setting, start=self.cursor_time - heard)
            dropped = self._beats_before(cache, track, whole, tail, prefix, start)
            setting = setting.later(dropped + self._skipped_beats(cache))
        return start, n, ids, marks, setting

    def _track(self, cache: ContextCache) -> VoiceTrack | None:
        """The reading's track of the voice whose first sections are :attr:`earlier`."""
        if self.reading is None or not self.earlier:
            return None
        last = self.earlier[-1]
        if last.kind != "voice" or last.voice is None or last.voice not in self.reading.voices:
            return None
        track = self.reading.track(last.voice, cache)
        k = len(self.earlier)
        if k > len(track.sections) or track.sections[k - 1] is not last:
            return None  # (not the voice's first sections: read them one by one)
        return track

    @staticmethod
    def _beats_before(
        cache: ContextCache,
        track: VoiceTrack | None,
        whole: np.ndarray | None,
        tail: np.ndarray,
        prefix: int,
        count: int,
    ) -> float:
        """Beats of the first ``count`` events of the untrimmed context (the ``prefix``
        events of the earlier sections, then ``tail``; ``whole``: all of them joined, where
        there is no track), exactly as ``model.beats_of`` sums them: the cached states' keys
        hold the time line's start."""
        model = cache.model
        if whole is not None:
            return model.beats_of(whole[:count] % cache.vd)
        assert track is not None
        if count <= prefix:
            return track.beats_before(count)
        dids = tail[: count - prefix] % cache.vd
        beats = np.concatenate([track.beats[:prefix], model.durations[dids[dids > 0] - 1]])
        return float(np.add.reduce(beats))

    def _skipped_beats(self, cache: ContextCache) -> float:
        """Beats of the elements of a long line that its window left out (their durations,
        as the whole line's reading would count them: the voice's clock at the window)."""
        skipped = self.skipped
        if not skipped:
            return 0.0
        beats: Beats | None = None
        if self.local is None:
            assert self.gap is not None
            beats = self.gap[1].durations  # (the reading's own array)
        else:
            array = self.local.ctx.array
            if self.reading is not None:
                identity = (array.kind, array.voice, array.section, array.name)
                twin = self.reading.by_identity.get(identity)
                beats = twin.durations if twin is not None else None
            if beats is None and self.local.ctx.durations is not None:
                beats = Beats.of(self.local.ctx.durations)
        if beats is None:
            beats = Beats(np.zeros(0), scalar=False)  # every duration unknown: the default
        return beats.beats_before(skipped, cache.model)

    def network_from(
        self,
        cache: ContextCache,
        ids: np.ndarray,
        marks: Sequence[int],
        setting: Setting | None,
    ) -> int:
        """Where the network starts reading the context ``ids`` (:meth:`read_plan`)."""
        return self.read_plan(cache, ids, marks, setting)[0]

    def read_plan(
        self,
        cache: ContextCache,
        ids: np.ndarray,
        marks: Sequence[int],
        setting: Setting | None,
    ) -> tuple[int, Sequence[int]]:
        """Where the network starts reading the context ``ids`` (:meth:`context`'s, with its
        ``marks`` and ``setting``), and the checkpoints whose states the read keeps.

        The network reads from the context's start, except where no kept state reaches the
        cursor: there it reads the last notes only and the experts all of them. That is
        before the document's whole reading (:data:`PROVISIONAL_NETWORK`), deep in a long
        array (:meth:`reads_short`, :data:`LONG_NETWORK`), and where ``cache`` keeps no
        state within the last :data:`LONG_NETWORK` notes before the cursor (a place the
        warm-up after a reading has not reached yet: :data:`LONG_NETWORK` too). Such a cold
        place keeps no checkpoint, only its end (the one typing on steps from): the warm-up
        keeps its states soon, read in the whole window, and the short read's kept beside
        them (~7 kB each) left the soak's server 6-12 MB bigger."""
        if self.reads_short():
            return trim_context(len(ids), self._short_notes()), marks
        start = trim_context(len(ids), LONG_NETWORK)
        if start == 0 or cache.reach(ids, marks, setting) >= start:
            return 0, marks
        return start, ()

    def _short_notes(self) -> int:
        """Notes a short read of the network reads at most (:meth:`reads_short`)."""
        return PROVISIONAL_NETWORK if self.reading is None else LONG_NETWORK

    def reads_short(self) -> bool:
        """Whether the network reads the last notes of the context only: before the
        document's whole reading, and after it deep in a long array (:data:`LONG_ARRAY`). In
        ``play`` code the notes before the cursor are its whole context read as one run
        (``play_lines.notes_only``): none of the 376 places of ``play_completion.py`` has
        that many; the 400-loop benchmark document's ~300 do."""
        if self.reading is None:
            return True
        return deep_in_long_array(len(self.before) + self.skipped, self.max_context)

    def prime(self, cache: ContextCache, extra: Sequence[Event] = ()) -> Primed:
        ids, marks, setting = self.context(cache, extra)
        start, kept = self.read_plan(cache, ids, marks, setting)
        later = self.spelling if isinstance(self.spelling, StyleLater) else None
        return cache.prime_ids(
            ids,
            kept,
            setting,
            meanwhile=None if later is None else later.style,
            network_from=start,
        )


def reaching(runs: list[ArraySummary], max_context: int) -> list[ArraySummary]:
    """The last of ``runs`` that hold ``max_context`` notes: a context's window never starts
    further back (a cursor's own notes come after them). The rest would only be counted: in
    a piece of 400 loops every completion read all the loops above the cursor, a candidate's
    context each time (~35 ms in the 20,000-note one). Where the window starts among them
    (every half window, at a run's start) is counted from the first one kept, which typing
    in the cursor's own run does not change (counted with its notes, a run left the window
    every 25 keystrokes in that piece, and the whole context was read again: ~20 ms)."""
    total = 0
    for k in range(len(runs) - 1, -1, -1):
        if total >= max_context:
            return runs[k + 1 :]
        total += len(runs[k].pitches)
    return runs


def is_numeric_array(tokens: list[NoteToken]) -> bool:
    """Most elements written as plain numbers (``60``, ``61.5``) rather than symbols."""
    written = [t.text.strip() for t in tokens if t.text.strip()]
    if not written:
        return False
    numbers = sum(1 for t in written if t[:1].isdigit())
    return numbers * 2 > len(written)


PROVISIONAL_NETWORK = 64
"""Notes of a cursor's context the network reads (the last, from a start that moves every
half of them) until the document's whole reading arrives; the experts (the copy model, the
training tunes) read all of it. A huge document's reading takes seconds, and each cursor's
context then starts from nothing: its completion read up to ``maxContext`` notes (~45 µs a
note, cold, on the test VM). The network's own longer context adds little once the experts
read the whole window: 2,235 cursors of the real pieces, asked with no reading
(``benchmarks/provisional_window.py --split``): top-1 64.3 / 64.4 %, top-3 83.1 / 82.7 %,
1.861 / 1.855 bits a pitch, the network reading 46.6 / 127.2 notes (64 / 256). The window
itself cut to 64 cost them ten points of top-1 (54.5 %). Once read, the document's cursors
read their whole window as before."""

LONG_ARRAY = 0.5
"""Past this share of ``maxContext`` notes of its own array before it, a cursor's network
reads the last :data:`LONG_NETWORK` notes of its context once the document is read. The
warm-up keeps no state inside such arrays (``warm_up.keeps_stops``): each new place there
read its whole window (128-256 notes) from nothing, 10-15 ms in a 200,000-note line."""


def deep_in_long_array(notes: int, max_context: int) -> bool:
    """Whether a cursor after ``notes`` notes of its own array is past :data:`LONG_ARRAY` of
    ``max_context`` (where, once the document is read, its network reads short)."""
    return notes > max_context * LONG_ARRAY


LONG_NETWORK = 128
"""Notes the network reads (the last, from a start that moves every half of them) at a cursor
deep in a long array once the document is read, from ``<bos>`` in the setting of a voice that
starts there; the experts read the whole window. 3,321 cursors deep in the real pieces' long
arrays, read (``benchmarks/provisional_window.py --read --every 3``): the whole window top-1
73.4 %, top-3 87.7 %, 1.360 bits a pitch, the network reading 180.9 notes (6.5 ms a cursor in
process); the last 128: 73.3 %, 87.3 %, 1.364 bits, 93.2 notes (4.4 ms); the last 64: 72.9 %,
87.2 %, 1.379 bits, 46.9 notes (3.4 ms).

A place the warm-up after a reading has not reached yet reads the same way (no state kept
within these notes before it, :meth:`NoteContext.network_from`): typing at a 400 ms pace in
the 20,000-note benchmark piece, a reading lands every few seconds and its warm-up takes
~3.7 s, and the completions it had not reached read their whole window (up to 256 notes) from
nothing, ~12 ms. ``lsp_latency.py --pace-ms 400 --requests 300``, in turns with cf56be7:
all p99 9.69 / 12.59 ms against 14.70 / 12.24 ms, cursor jumps p99 13.75 / 16.39 against
24.72 / 24.64 ms. Once the warm-up has been there, the place reads its whole window again."""

STOP_EVERY = 32
"""A cursor's context keeps the model's state every this many notes of its array: the next
cursor in that array (another jump, a hover) reads at most this many notes itself. On the
real pieces' long one-line arrays (~200-1,000 notes) a jump read ~100 (~5 ms)."""
CONTEXT_MARGIN = 64
"""Elements a long line's window keeps before the cursor beyond ``maxContext``: chords' inner
commas, elements Sonic Pi would reject, and the notes habits read (:func:`trim_context` keeps
at most ``maxContext``)."""


def note_context(
    view: DocumentView,
    line: int,
    character: int,
    reading: Reading | None,
    max_context: int,
) -> NoteContext | None:
    """The cursor's note context, or ``None`` outside note arrays (the cheap check).

    The last one asked of a version is kept on its view: an editor asks at each keystroke
    for completion and for ghost text at the same cursor (and hover, code actions), and on
    real pieces' long lines reading the cursor's array is ~2-6 ms of each. Nothing changes a
    context once made (:func:`dataclasses.replace` makes the changed ones)."""
    asked = (line, character, max_context)
    last = view.last_cursor
    if last is not None and last[0] == asked and last[1] is reading:
        return last[2]  # type: ignore[no-any-return]
    found = _note_context(view, line, character, reading, max_context)
    view.last_cursor = (asked, reading, found)
    return found


def _note_context(
    view: DocumentView,
    line: int,
    character: int,
    reading: Reading | None,
    max_context: int,
) -> NoteContext | None:
    reach = max(WINDOW_CHARS, 8 * max_context)
    local = view.local_context(line, character, reach, elements=max_context + CONTEXT_MARGIN)
    if local is None:
        return None
    ctx = local.ctx
    before = before_events(reading, ctx, local.skipped)
    partial = ctx.partial
    token = ctx.partial_token
    finished = partial[-1:].isdigit() or partial in (":r", ":rest")
    if ctx.slot == "array" and partial.startswith(":") and finished and token is not None:
        # ``:G4|`` is a finished note (an octave ends it; or a rest): suggest what follows
        # it, not a replacement for it.
        duration = None
        if ctx.durations is not None:
            duration = ctx.durations.duration_for(len(ctx.before))
        before = [*before, Event(token.midi, duration)]
        partial = ""
    earlier = reading.earlier_sections(ctx.array) if reading is not None else []
    setting = None
    cursor_time = None
    after = None
    if reading is not None and ctx.array.kind == "voice" and ctx.array.voice is not None:
        setting = reading.setting(ctx.array.voice)
    if ctx.slot != "array":
        before = list(ctx.history)  # play/sleep: the run's notes, code left out
        if reading is not None:
            start = local.base + ctx.array.span.start
            earlier = reading.earlier_runs(start)
            if isinstance(ctx.array, PlayRun):  # read in play order (notegen.sonicpi.play_order)
                voice = voice_at(reading.play_voices, start)
                before = heard_before(voice, ctx.array, start, ctx.index)
                if voice is not None:
                    own = {run.start for run in voice.runs}
                    earlier = [s for s in earlier if s.start not in own]
                setting = Setting(others=others_of(reading.play_voices, voice))
                cursor_time = onset_in_pass(voice, ctx.array, start, ctx.index)
                if ctx.slot == "note":
                    after = heard_after(voice, ctx.array, start, ctx.index)
            earlier = reaching(earlier, max_context)
    spelling: NoteStyle | StyleLater
    if reading is not None:
        spelling = reading.style
    else:
        # (a long line's window: around as much text as the whole reach, however many
        # elements the window itself kept)
        start = local.base if not local.skipped else min(local.base, local.offset - reach)
        spelling = StyleLater(view.text[max(0, start - 2000) : local.offset + 2000])
    names, count = _durations_of(ctx, reading)
    end = max(local.partial_span.end, local.offset) if partial else local.offset
    written = _value_after(view, local, end) if ctx.slot in ("note", "sleep") else ""
    return NoteContext(
        local=local,
        earlier=earlier,
        before=before,
        reading=reading,
        spelling=spelling,
        numeric=is_numeric_array(ctx.array.notes)
        or (ctx.slot != "sleep" and ctx.partial[:1].isdigit()),
        partial=partial,
        needs_lead=ctx.needs_comma and not partial,
        trail_at=end if ctx.slot == "array" else None,
        written=written or "",
        occupied=written is None,
        max_context=max_context,
        setting=setting,
        document=view.text,
        closes=_ends_at_cursor(view, local),
        closer=_closer(view, local),
        kept=local.skipped + len(ctx.before) + (1 if ctx.partial and not partial else 0),
        durations_name=names,
        durations_count=count,
        cursor_time=cursor_time,
        after=after,
    )


def _ends_at_cursor(view: DocumentView, local: LocalContext) -> bool:
    """An unclosed array (not a chord, not a bare line) with nothing after the cursor."""
    ctx = local.ctx
    if ctx.slot != "array" or ctx.array.closed or ctx.in_chord:
        return False
    after = view.text[max(local.offset, local.partial_span.end) : local.content_end()]
    return not re.sub(r"#[^\n]*", "", after).strip()


_GAP_RE = re.compile(r"(?:\s|#[^\r\n]*)*")
"""Blanks, line breaks and comments: what may lie between two elements besides the comma."""
_SLOT_END_RE = re.compile(r"[ \t]*(?:[,#;)\r\n]|\Z)")
"""What may follow a ``play``/``sleep`` value: options, a comment, the statement's end."""
_BLANKS_RE = re.compile(r"[ \t]*")


class StyleLater:
    """A document's spelling style inferred from ``text`` when first asked (and kept).

    Two threads may ask at once (a kept context serves two engines' threads): each infers it
    from the same text, and either result is the same style."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._style: NoteStyle | None = None

    def style(self) -> NoteStyle:
        found = self._style
        if found is None:
            found = self._style = infer_style_by_line(self.text)
        return found


def _trail(text: str, local: LocalContext, end: int, separator: str) -> str:
    """The separator an insertion ending at ``end`` needs before an element that follows it
    in its array (``""`` before a comma, the closing bracket or nothing).

    Spacing already at ``end`` is kept as the next element's (``[:C4,X, :D4]``); a line break
    there gets no blank before it, a comment a space."""
    stop = local.content_end()
    gap = _GAP_RE.match(text, end, stop)
    after = gap.end() if gap is not None else end
    if after >= stop or text[after] in ",])":
        return ""
    bare = separator.rstrip(" \t")
    following = text[end : end + 1]
    if following.isspace():
        return bare
    if following == "#":
        return bare + (separator[len(bare) :] or " ")
    return separator


def _value_after(view: DocumentView, local: LocalContext, end: int) -> str | None:
    """The ``play``/``sleep`` value written right after ``end`` (``:c4`` of ``play |:c4``,
    as the statement reader delimits it: ``chord(:e4, :minor)`` whole), with the blanks
    before it; ``""`` when none follows; ``None`` when what follows is not one such value
    on this line (a completion could not replace it cleanly)."""
    text = view.text
    if _SLOT_END_RE.match(text, end) is not None:
        return ""
    ctx = local.ctx
    durations = ctx.array.durations
    if ctx.slot == "note":
        spans = [local.doc_span(n.span) for n in ctx.array.notes]
    else:
        spans = [local.doc_span(v.span) for v in durations.values] if durations else []
    start = _BLANKS_RE.match(text, end)
    at = start.end() if start is not None else end
    value = next((text[end : s.end] for s in spans if s.start == at), None)
    return None if value is None or LINE_BREAK.search(value) else value


def _closer(view: DocumentView, local: LocalContext) -> str:
    """What closes the collection at the cursor: ``)`` for one opened by a parenthesis
    (``(ring …``, ``ring(…``), else ``]``; and before it, the closer of every collection
    opened inside it and still open at the cursor (``a1=[(ring :C4, :E4, `` → ``)]``: a
    ring in an array, the ghost text goes on in the ring).

    (A long line's window reads the array from a ``[`` of the line's head, at other offsets.)
    """
    array = local.ctx.array
    if array.open is None or local.skipped:
        return "]"
    at = local.base + array.open
    still_open: list[str] = []
    for found in _BRACKET_RE.finditer(view.text, at, max(at, local.offset)):
        mark = found.group()
        if mark in "[(":
            still_open.append("]" if mark == "[" else ")")
        elif mark in "])" and still_open:
            still_open.pop()
    return "".join(reversed(still_open)) or (")" if view.text[at : at + 1] == "(" else "]")


_BRACKET_RE = re.compile(r"#[^\r\n]*|[\[\]()]")
"""Brackets and parentheses, and comments (passed over whole)."""


def _durations_of(ctx: CursorContext, reading: Reading | None) -> tuple[str | None, int | None]:
    """The voice's duration array name and length (from the region, else the last reading)."""
    array = ctx.array
    if array.kind != "voice" or array.voice is None:
        return None, None
    name = f"b{array.voice}" + ("" if array.section is None else f"[{array.section}]")
    if ctx.durations is not None and not ctx.durations.scalar:
        return name, len(ctx.durations.values)
    if reading is not None:
        twin = reading.by_identity.get((array.kind, array.voice, array.section, array.name))
        if twin is not None and twin.durations is not None:
            return name, len(twin.durations.values)
    return None, None
