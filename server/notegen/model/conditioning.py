"""What the network hears besides the melody: other voices, metre and the distance to the end.

One row of ``COND_DIM`` float32 values per model step, describing the *onset of the event that
step predicts* (so the pitch of a note is chosen knowing the harmony it will sound against):

* ``others`` (12): pitch classes sounding in the other voices at that onset;
* ``bass`` (12): pitch class of the lowest of them (one-hot);
* ``register`` (2): lowest and highest sounding other pitch, ``(midi - 60) / 12``;
* ``alone`` (1): the voice has no other voices (single melodies, a lone voice in a file);
* ``beat`` (5): onset mod 1 beat: on the beat, ¼, ½, ¾, elsewhere (triplets...);
* ``bar`` (7): beat of the bar (0..5, later beats in 5) where the metre is known, else unknown;
* ``notes_left`` (8): events left including this one: unknown, 1, 2, 3, 4, 5-8, 9-16, 17+;
* ``beats_left`` (10): beats from this onset to the end: unknown, ≤1, ≤2, ≤3, ≤4, ≤6, ≤8,
  ≤12, ≤16, more.

Training (``notegen_training``) and the server both build rows with :func:`condition_rows`, so
what evaluation measures is what the editor gets. numpy only: the runtime never imports
TensorFlow.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

from notegen.melody import Event

OTHERS = slice(0, 12)
BASS = slice(12, 24)
REGISTER = slice(24, 26)
ALONE = 26
BEAT = slice(27, 32)
BAR = slice(32, 39)
NOTES_LEFT = slice(39, 47)
BEATS_LEFT = slice(47, 57)
COND_DIM = 57

_EPS = 1e-6
_NOTES_EDGES = np.array([1, 2, 3, 4, 8, 16])
_BEATS_EDGES = np.array([1, 2, 3, 4, 6, 8, 12, 16]) + _EPS


@dataclass(frozen=True, eq=False)
class VoiceTimes:
    """A voice on the piece's time line: onsets, ends (beats) and MIDI pitches (NaN = rest)."""

    onsets: np.ndarray
    ends: np.ndarray
    pitches: np.ndarray

    @classmethod
    def of(
        cls, events: Sequence[Event], start: float = 0.0, default: float = 1.0, repeat: int = 1
    ) -> VoiceTimes:
        """The voice whose first event starts at ``start``; unknown durations last ``default``.
        ``repeat``: the events played that many times over (the voice of ``events * repeat``,
        its durations and pitches read once: a loop laid out pass after pass is ~2,600 events
        made of ~25, which cost a play voice's first completion ~2 ms read one by one)."""
        durations = np.array(
            [default if e.duration is None or e.duration <= 0 else e.duration for e in events],
            np.float64,
        )
        pitches = np.array([np.nan if e.pitch is None else float(e.pitch) for e in events])
        if repeat != 1:
            durations, pitches = np.tile(durations, repeat), np.tile(pitches, repeat)
        ends = start + np.cumsum(durations)
        onsets = ends - durations
        return cls(onsets, ends, pitches)

    def end_times(self) -> tuple[np.ndarray, TimeMap | None]:
        """What :attr:`ends` is made from, and the time line that makes it: ``ends ==
        line.beats(values)`` (``None``: the values are the ends). A voice moved onto another
        voice's beats keeps its ends in seconds, shared by every listener
        (:class:`notegen.model.ensemble.MovedVoice`): a table that reads a few ends at a time can
        move just those, instead of keeping its own copy of them all."""
        return self.ends, None


class TimeMap(Protocol):
    """Beats of times in seconds (:class:`notegen.model.ensemble.Timeline`)."""

    def beats(self, seconds: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Metre:
    """Bar length in beats and where beat 0 of the voice's time line falls in the bar."""

    bar_beats: float
    phase: float = 0.0


def onsets_of(events: Sequence[Event], start: float = 0.0, default: float = 1.0) -> np.ndarray:
    """``T + 1`` onsets: of each event, then the end of the last (what follows it)."""
    durations = [default if e.duration is None or e.duration <= 0 else e.duration for e in events]
    return start + np.concatenate([[0.0], np.cumsum(durations, dtype=np.float64)])


def sounding(others: Sequence[VoiceTimes], times: np.ndarray) -> np.ndarray:
    """``[len(times), len(others)]`` MIDI pitch each other voice sounds at each time (NaN)."""
    out = np.full((len(times), len(others)), np.nan)
    later = times + _EPS
    for j, voice in enumerate(others):
        if voice.onsets.size == 0:
            continue
        ok, note = _notes_at(voice, times, later)
        out[ok, j] = voice.pitches[note[ok]]
    return out


def _notes_at(
    voice: VoiceTimes, times: np.ndarray, later: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where one of ``voice``'s notes sounds among ``times`` (``later``: ``times + _EPS``),
    and which note (0 where none does): the note begun by then and not yet ended."""
    idx = np.searchsorted(voice.onsets, later, side="right") - 1
    ok = idx >= 0
    note = np.where(ok, idx, 0)
    ok &= times < voice.ends[note] - _EPS
    return ok, note


def harmony_rows(others: Sequence[VoiceTimes], times: np.ndarray) -> np.ndarray:
    """The ``others``/``bass``/``register``/``alone`` columns for each time.

    The other voices change only at their onsets and ends, so their harmony is computed once
    per change (per tuple of voices, memoised) and looked up: a served step costs one search
    instead of one per voice.
    """
    if not others:
        return _direct_harmony(others, times)
    table = _harmony_table(tuple(others))
    index = np.searchsorted(table.boundaries, np.asarray(times, np.float64) + _EPS, side="right")
    return table.rows(index)


class _HarmonyTable:
    """The other voices' harmony on each stretch between two of their onsets/ends, compactly.

    Per stretch: a 12-bit mask of the pitch classes sounding and the lowest and highest pitch
    sounding (the bass and the register are read off them): 4 bytes where a whole row took
    228, with the pitches in one byte each while they are whole MIDI notes (note names and
    numbers are), else 8. A 20-voice, 20,000-note piece has ~18,500 stretches per listening
    voice: 74 kB per voice beside 148 kB of boundaries, where whole rows took 4.2 MB. (The
    bass and the register in arrays of their own took 7 bytes more a stretch: the benchmark
    piece's pickled reading was 14.4 MB, then 11.6 MB, measured; 5.9 MB since the heard voices'
    times are not kept per listener, :class:`notegen.model.ensemble.MovedVoice`.)
    """

    __slots__ = ("boundaries", "high", "low", "mask")

    def __init__(self, others: tuple[VoiceTimes, ...]) -> None:
        self.boundaries = _boundaries(others)
        times = np.concatenate([[-1e9], self.boundaries])  # row 0: before every boundary
        # Voice by voice: each note's pitch-class bit and pitch, read at the stretches where
        # it sounds (as :func:`sounding` finds them), go into running ORs, minima and maxima.
        # Made from the stretches-by-voices matrix of pitches (2.8 MB for a listener of the
        # 20-voice benchmark piece) and a dozen passes over it, a table took 30-36 ms, this
        # way 13-18 ms (the same tables; 42 of the two 20-voice benchmark pieces, measured),
        # and a reading of such a piece makes 21.
        mask = np.zeros(len(times), np.int64)
        low = np.full(len(times), np.inf)
        high = np.full(len(times), -np.inf)
        later = times + _EPS
        for voice in others:
            if voice.onsets.size == 0:
                continue
            pitches = np.asarray(voice.pitches, np.float64)
            heard = np.isfinite(pitches)  # (a rest sounds no pitch)
            bits = np.where(
                heard, 1 << np.mod(np.where(heard, pitches, 0).round(), 12).astype(np.int64), 0
            )
            ok, note = _notes_at(voice, times, later)
            ok &= heard[note]
            mask |= np.where(ok, bits[note], 0)
            here = pitches[note]
            np.minimum(low, np.where(ok, here, np.inf), out=low)
            np.maximum(high, np.where(ok, here, -np.inf), out=high)
        self.mask = mask.astype(np.uint16)
        none = mask == 0  # (no note sounds: a sounding pitch sets one of the 12 bits)
        low[none], high[none] = 0.0, 0.0
        self.low, self.high = _small(low), _small(high)

    def row(self, time: float) -> np.ndarray:
        """:meth:`rows` of the stretch at one time (``harmony_rows(others, [time])[0]``), in a
        few scalar steps: a generated note asks for one per step."""
        index = int(self.boundaries.searchsorted(time + _EPS, side="right"))
        row = np.zeros(COND_DIM, np.float32)
        mask = int(self.mask[index])
        row[OTHERS] = _MASK_BITS[mask]
        if mask:
            low, high = float(self.low[index]), float(self.high[index])
            row[BASS.start + int(np.mod(round(low), 12))] = 1.0
            row[REGISTER] = ((low - 60) / 12, (high - 60) / 12)
        return row

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Rows (as :func:`_direct_harmony` gives them) of the stretches at ``index``."""
        index = np.asarray(index)
        rows = np.zeros((*index.shape, COND_DIM), np.float32)
        mask = self.mask[index]
        rows[..., OTHERS] = _MASK_BITS[mask]
        has = mask != 0
        low = self.low[index[has]].astype(np.float64)
        high = self.high[index[has]].astype(np.float64)
        rows[..., BASS][has, np.mod(low.round(), 12).astype(np.int64)] = 1.0
        rows[..., REGISTER.start][has] = (low - 60) / 12
        rows[..., REGISTER.start + 1][has] = (high - 60) / 12
        return rows


def _small(pitches: np.ndarray) -> np.ndarray:
    """``pitches`` in one byte each where they are all whole numbers that fit, else as they
    are (the same values either way)."""
    if np.all(np.abs(pitches) <= 127) and np.array_equal(pitches, np.round(pitches)):
        return pitches.astype(np.int8)
    return pitches


_MASK_BITS = ((np.arange(4096)[:, None] >> np.arange(12)) & 1).astype(np.float32)
"""Row ``m``: the 12 pitch-class columns of mask ``m``."""


def _harmony_table(others: tuple[VoiceTimes, ...]) -> _HarmonyTable:
    return _TABLES.get(others, _HarmonyTable)


def harmony_table(others: tuple[VoiceTimes, ...]) -> object:
    """The memoised harmony table of ``others`` (made now if it is not), to carry along with
    the voices when they are pickled (a whole-file reading made in a child process)."""
    return _harmony_table(tuple(others))


def stretch_boundaries(others: tuple[VoiceTimes, ...]) -> np.ndarray:
    """Every onset and end of ``others``, sorted, once each (where their harmony can change):
    the memoised harmony table's own array when there is one (a piece's settings keep one
    per voice), else made now."""
    table = _TABLES.find(others)
    if table is not None:
        return table.boundaries
    return _boundaries(others)


def _boundaries(others: tuple[VoiceTimes, ...]) -> np.ndarray:
    edges = [v.onsets for v in others] + [v.ends for v in others]
    return sorted_unique(edges) if edges else np.zeros(0)


def sorted_unique(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``np.unique(np.concatenate(arrays))`` (NaNs, sorted last, kept once), made with a
    stable sort: each array here is a voice's onsets or ends, already ascending, and a stable
    sort merges such runs in about linear time where ``np.unique``'s sort does not see them.
    A harmony table of 8 loops laid out pass after pass (66,000 edges) found its boundaries in
    0.65 ms instead of 3.65 ms (the 400-loop document's new places, measured)."""
    values = np.concatenate(arrays).astype(np.float64, copy=False)  # (a new array: sorted in place)
    values.sort(kind="stable")
    if len(values) and np.isnan(values[-1]):  # (NaN != NaN: one kept, as np.unique does)
        values = values[: int(np.searchsorted(values, values[-1], side="left")) + 1]
    keep = np.empty(len(values), bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def keep_harmony_table(others: tuple[VoiceTimes, ...], table: object) -> None:
    """Memoise ``table`` (from :func:`harmony_table`, pickled with ``others``) for these voices,
    so :func:`harmony_rows` does not make it again."""
    if not isinstance(table, _HarmonyTable):
        raise TypeError(f"not a harmony table: {type(table).__name__}")
    _TABLES.get(tuple(others), lambda _others: table)


T = TypeVar("T")


class _PerVoices(Generic[T]):
    """Values memoised per tuple of voices (by identity), held only while the voices live.

    A whole-file reading makes a new tuple per voice (the other voices it hears); the old
    reading's tuples die with it, and so do their entries here. (Holding the tuples, as a plain
    dict would, kept three readings' voices and tables alive: ~50 MB for the benchmark piece.)

    An entry is dropped as soon as one of its voices dies (a weak reference's callback), so
    the voices of an entry found are alive and their ids are theirs alone: comparing the ids
    is comparing the voices, without calling each weak reference (a generated note looks up
    three such tables, ~20 voices each).
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._entries: dict[
            int, tuple[tuple[weakref.ref[VoiceTimes], ...], tuple[int, ...], T]
        ] = {}

    def find(self, others: tuple[VoiceTimes, ...]) -> T | None:
        """The value memoised for these voices, or ``None`` (nothing is computed)."""
        found = self._entries.get(id(others))
        if found is not None and found[1] == tuple(map(id, others)):
            return found[2]
        return None

    def get(
        self, others: tuple[VoiceTimes, ...], compute: Callable[[tuple[VoiceTimes, ...]], T]
    ) -> T:
        found = self.find(others)
        if found is not None:
            return found
        key = id(others)
        value = compute(others)
        if len(self._entries) >= self.capacity:
            self._entries.clear()  # a safety net: entries normally go with their voices

        def gone(_ref: object, key: int = key) -> None:
            entry = self._entries.get(key)
            if entry is not None and any(r() is None for r in entry[0]):
                self._entries.pop(key, None)

        refs = tuple(weakref.ref(v, gone) for v in others)
        self._entries[key] = (refs, tuple(map(id, others)), value)
        return value

    def __len__(self) -> int:
        return len(self._entries)


_TABLES: _PerVoices[_HarmonyTable] = _PerVoices()


class SortedOnsets:
    """Every onset of a tuple of voices sorted together (ties in voice order), and the voice
    of each: what the consonance expert (what sounds at a point) and the rhythm experts
    (what starts with a note) search. One copy per listening voice, shared by both: each
    expert kept its own, 152 kB a listening voice in the 20-voice benchmark piece.

    Where the voices' harmony table is made (a reading's settings each have one), the onsets
    are kept as places among its boundaries, which hold every onset exactly (in two bytes a
    place where there are fewer than 65,535 boundaries: 38 kB instead of 152 in that piece),
    and searched through them: the same counts (:meth:`count_below`, :meth:`count_to`)."""

    __slots__ = ("_boundaries", "_places", "_values", "in_order", "owners", "voices")

    def __init__(self, others: tuple[VoiceTimes, ...]) -> None:
        # (Not the voices themselves: the memo holds them weakly, and so must what it keeps.)
        every = [np.asarray(v.onsets, np.float64) for v in others]
        self.voices = tuple(k for k, o in enumerate(every) if o.size)
        """Where in the tuple the voices that have onsets are (:attr:`owners` counts them)."""
        onsets = [every[k] for k in self.voices]
        self.in_order = all(np.isfinite(o).all() and (np.diff(o) >= 0).all() for o in onsets)
        """Every voice's onsets are finite and never decrease."""
        self._values: np.ndarray | None = np.zeros(0)
        self._boundaries: np.ndarray | None = None
        self._places: np.ndarray | None = None
        self.owners: np.ndarray = np.zeros(0, np.int16)
        """Whose each sorted onset is: its voice's place in :attr:`voices`."""
        if onsets:
            whole = np.concatenate(onsets)
            order = np.argsort(whole, kind="stable")
            values = whole[order]
            table = _TABLES.find(others)
            if table is not None and len(table.boundaries):
                places = table.boundaries.searchsorted(values)
                place_type = next(
                    (t for t in (np.uint16, np.int32) if len(table.boundaries) < np.iinfo(t).max),
                    np.int64,
                )
                self._boundaries, self._places = table.boundaries, places.astype(place_type)
                self._values = None
            else:
                self._values = values
            owner_type = next(
                (t for t in (np.int8, np.int16) if len(onsets) <= np.iinfo(t).max), np.int64
            )
            owners = np.repeat(np.arange(len(onsets)), [len(o) for o in onsets])
            self.owners = owners[order].astype(owner_type)

    def __len__(self) -> int:
        return len(self.owners)

    @property
    def onsets(self) -> np.ndarray:
        """The onsets, sorted (made from the places where they are kept as places)."""
        if self._values is not None:
            return self._values
        assert self._boundaries is not None and self._places is not None
        return self._boundaries[self._places]

    def count_below(self, point: float) -> int:
        """How many onsets are ``< point`` (``onsets.searchsorted(point)``)."""
        if self._values is not None:
            return int(self._values.searchsorted(point))
        assert self._boundaries is not None and self._places is not None
        # an onset is below the point exactly when its boundary is: those before this one
        place = self._places.dtype.type(self._boundaries.searchsorted(point))
        return int(self._places.searchsorted(place))

    def count_to(self, point: float) -> int:
        """How many onsets are ``<= point`` (``onsets.searchsorted(point, side="right")``)."""
        if self._values is not None:
            return int(self._values.searchsorted(point, side="right"))
        assert self._boundaries is not None and self._places is not None
        place = self._places.dtype.type(self._boundaries.searchsorted(point, side="right"))
        return int(self._places.searchsorted(place))


_SORTED: _PerVoices[SortedOnsets] = _PerVoices()


def sorted_onsets(others: tuple[VoiceTimes, ...]) -> SortedOnsets:
    """The memoised :class:`SortedOnsets` of ``others``."""
    return _SORTED.get(others, SortedOnsets)


class Ensembles:
    """Every voice of a piece, registered so that each listening voice's tables can be views
    of the whole ensemble's.

    Each listening voice hears the piece's other voices, all but itself
    (:func:`notegen.model.ensemble.setting_for`), and each made its own copy of what the experts
    search: the others' interval text, and (on its own beats) their sorted onsets, their
    rhythm and their concatenated pitches: ~0.5 MB a listening voice in the 20-voice,
    20,000-note benchmark piece, ~10 MB in all, made again after each reading as completions
    visit the voices (the soak's server then stood ~10 MB above its level once idle;
    measured). The experts count what they find, so the whole ensemble's table with the
    listening voice's own entries skipped gives the same answers (:meth:`split`). Where the
    voices share one tempo map the listeners hear the very same voice objects; where they do
    not, they still hear the same pitches (:meth:`split` with ``pitches``: the interval text).

    A registration lasts as long as its owner (a reading): it holds the voices.
    """

    def __init__(self) -> None:
        self._by_voice: dict[int, list[tuple[VoiceTimes, ...]]] = {}
        self._by_pitches: dict[int, list[tuple[VoiceTimes, ...]]] = {}
        self._lock = threading.RLock()  # (a reading's finalizer may run inside, on a collection)

    def register(self, voices: tuple[VoiceTimes, ...], owner: object) -> None:
        """Offer ``voices`` (all of a piece's, one tuple) while ``owner`` lives."""
        if len(voices) < 2 or len({id(v.pitches) for v in voices}) != len(voices):
            return  # (a listener could not be told apart from another)
        with self._lock:
            if any(voices is known for known in self._by_voice.get(id(voices[0]), ())):
                return
            for voice in voices:
                self._by_voice.setdefault(id(voice), []).append(voices)
                self._by_pitches.setdefault(id(voice.pitches), []).append(voices)
        weakref.finalize(owner, self._drop, voices)

    def _drop(self, voices: tuple[VoiceTimes, ...]) -> None:
        with self._lock:
            for index, key in ((self._by_voice, id), (self._by_pitches, _pitches_id)):
                for voice in voices:
                    known = index.get(key(voice))
                    if known is None:
                        continue
                    known[:] = [k for k in known if k is not voices]
                    if not known:
                        del index[key(voice)]

    def split(
        self, others: tuple[VoiceTimes, ...], pitches: bool = False
    ) -> tuple[tuple[VoiceTimes, ...], int] | None:
        """A registered ensemble that is ``others`` with one voice more, and where in it that
        voice is (``None``: none is). ``pitches``: one whose voices have the same pitch arrays
        (on other beats, perhaps)."""
        if not others:
            return None
        same = _same_pitches if pitches else _same_voice
        with self._lock:
            index = self._by_pitches if pitches else self._by_voice
            candidates = list(index.get(_pitches_id(others[0]) if pitches else id(others[0]), ()))
        for whole in candidates:
            if len(whole) != len(others) + 1:
                continue
            missing = next((k for k, v in enumerate(others) if not same(whole[k], v)), len(others))
            if all(same(whole[k + 1], v) for k, v in enumerate(others[missing:], start=missing)):
                return whole, missing
        return None

    def __len__(self) -> int:
        """How many ensembles are registered."""
        with self._lock:
            return len({id(whole) for known in self._by_voice.values() for whole in known})


def _pitches_id(voice: VoiceTimes) -> int:
    return id(voice.pitches)


def _same_voice(a: VoiceTimes, b: VoiceTimes) -> bool:
    return a is b


def _same_pitches(a: VoiceTimes, b: VoiceTimes) -> bool:
    return a.pitches is b.pitches


ENSEMBLES = Ensembles()
"""The ensembles the listening voices' tables are views of (a reading registers its own)."""


def _direct_harmony(others: Sequence[VoiceTimes], times: np.ndarray) -> np.ndarray:
    """:func:`harmony_rows` computed voice by voice at each time."""
    rows = np.zeros((len(times), COND_DIM), np.float32)
    if not others:
        rows[:, ALONE] = 1.0
        return rows
    pitches = sounding(others, times)
    has = np.isfinite(pitches)
    pcs = np.where(has, np.mod(np.where(has, pitches, 0).round(), 12), 0).astype(int)
    for j in range(pitches.shape[1]):
        hit = has[:, j]
        rows[np.nonzero(hit)[0], OTHERS.start + pcs[hit, j]] = 1.0
    any_note = has.any(axis=1)
    if any_note.any():
        with np.errstate(all="ignore"):
            low = np.nanmin(np.where(has, pitches, np.inf), axis=1)
            high = np.nanmax(np.where(has, pitches, -np.inf), axis=1)
        idx = np.nonzero(any_note)[0]
        rows[idx, BASS.start + np.mod(low[idx].round(), 12).astype(int)] = 1.0
        rows[idx, REGISTER.start] = (low[idx] - 60) / 12
        rows[idx, REGISTER.start + 1] = (high[idx] - 60) / 12
    return rows


def _bucket(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """1-based bucket of each value (1 = at most the first edge), ``len(edges)+1`` above."""
    return np.searchsorted(edges, values, side="left") + 1


def condition_rows(
    times: np.ndarray,
    others: Sequence[VoiceTimes] = (),
    metre: Metre | None = None,
    notes_left: np.ndarray | None = None,
    end: float | None = None,
) -> np.ndarray:
    """``[len(times), COND_DIM]`` rows for steps predicting events at onsets ``times``.

    ``others``: the other voices (empty = alone); ``metre``: ``None`` when unknown;
    ``notes_left``: events left including each one, or ``None``/values ``<= 0`` for unknown;
    ``end``: the time the melody ends (beats left = ``end - time``), ``None`` if unknown.
    """
    times = np.asarray(times, np.float64)
    if len(times) == 1:  # a served step: plain Python is several times faster than numpy
        left_one = None if notes_left is None else int(np.asarray(notes_left).reshape(-1)[0])
        return condition_row(float(times[0]), others, metre, left_one, end)[None, :]
    rows = harmony_rows(others, times)
    frac = np.mod(times, 1.0)
    beat = np.full(len(times), 4)
    for k, at in enumerate((0.0, 0.25, 0.5, 0.75)):
        beat[np.abs(frac - at) < 1e-3] = k
    beat[np.abs(frac - 1.0) < 1e-3] = 0
    rows[np.arange(len(times)), BEAT.start + beat] = 1.0
    if metre is None or metre.bar_beats <= 0:
        rows[:, BAR.start + 6] = 1.0
    else:
        position = np.mod(times + metre.phase + 1e-3, metre.bar_beats)
        rows[np.arange(len(times)), BAR.start + np.minimum(position.astype(int), 5)] = 1.0
    left = np.zeros(len(times), int)
    if notes_left is not None:
        known = np.asarray(notes_left) > 0
        left[known] = _bucket(np.asarray(notes_left)[known], _NOTES_EDGES)
    rows[np.arange(len(times)), NOTES_LEFT.start + left] = 1.0
    beats = np.zeros(len(times), int)
    if end is not None:
        remaining = np.maximum(end - times, 0.0)
        beats = _bucket(remaining, _BEATS_EDGES)
    rows[np.arange(len(times)), BEATS_LEFT.start + beats] = 1.0
    return rows


def condition_row(
    time: float,
    others: Sequence[VoiceTimes],
    metre: Metre | None,
    notes_left: int | None,
    end: float | None,
) -> np.ndarray:
    """:func:`condition_rows` for one time (``[COND_DIM]``), the same values."""
    if others:
        row = _harmony_table(tuple(others)).row(time)
    else:
        row = np.zeros(COND_DIM, np.float32)
        row[ALONE] = 1.0
    frac = time % 1.0
    beat = 4
    for k, at in enumerate((0.0, 0.25, 0.5, 0.75)):
        if abs(frac - at) < 1e-3:
            beat = k
    if abs(frac - 1.0) < 1e-3:
        beat = 0
    row[BEAT.start + beat] = 1.0
    if metre is None or metre.bar_beats <= 0:
        row[BAR.start + 6] = 1.0
    else:
        position = (time + metre.phase + 1e-3) % metre.bar_beats
        row[BAR.start + min(int(position), 5)] = 1.0
    left = 0
    if notes_left is not None and notes_left > 0:
        left = bisect.bisect_left(_NOTES_LIST, notes_left) + 1
    row[NOTES_LEFT.start + left] = 1.0
    beats = 0
    if end is not None:
        beats = bisect.bisect_left(_BEATS_LIST, max(end - time, 0.0)) + 1
    row[BEATS_LEFT.start + beats] = 1.0
    return row


_NOTES_LIST = _NOTES_EDGES.tolist()
_BEATS_LIST = _BEATS_EDGES.tolist()


def transpose_rows(rows: np.ndarray, shift: int) -> np.ndarray:
    """Rows of the same music moved by ``shift`` semitones (pitch classes and register)."""
    if shift == 0:
        return rows
    out = rows.copy()
    out[..., OTHERS] = np.roll(rows[..., OTHERS], shift, axis=-1)
    out[..., BASS] = np.roll(rows[..., BASS], shift, axis=-1)
    has = rows[..., BASS].sum(axis=-1) > 0
    out[..., REGISTER] = np.where(has[..., None], rows[..., REGISTER] + shift / 12, 0.0)
    return out


def unknown_end(rows: np.ndarray, notes: bool = True, beats: bool = True) -> np.ndarray:
    """Rows with the distance to the end hidden (completion: the end is not known)."""
    out = rows.copy()
    if notes:
        out[..., NOTES_LEFT] = 0.0
        out[..., NOTES_LEFT.start] = 1.0
    if beats:
        out[..., BEATS_LEFT] = 0.0
        out[..., BEATS_LEFT.start] = 1.0
    return out


def unknown_metre(rows: np.ndarray) -> np.ndarray:
    out = rows.copy()
    out[..., BAR] = 0.0
    out[..., BAR.start + 6] = 1.0
    return out


def alone(rows: np.ndarray) -> np.ndarray:
    """Rows with the other voices removed (as a single melody sees them)."""
    out = rows.copy()
    out[..., OTHERS.start : ALONE + 1] = 0.0
    out[..., ALONE] = 1.0
    return out


def heard_with_others(setting: Setting | None) -> bool:
    """Whether a voice in ``setting`` is heard with other voices (the training tunes weigh
    such a voice apart: rows alone cannot tell it from a voice whose others are silent)."""
    return setting is not None and bool(setting.others)


@dataclass(frozen=True, eq=False)
class Setting:
    """Where a melody sits: its other voices, metre, start time and (if known) its end.

    ``rows`` gives the conditioning of any stretch of model steps from the melody's durations,
    so the server, the cache and generation can continue a melody from a saved state with the
    same rows a full read would have used. ``total_notes``/``end`` are known when generating a
    block of a given size (or up to a piece's end), unknown while completing.
    """

    others: tuple[VoiceTimes, ...] = ()
    metre: Metre | None = None
    start: float = 0.0
    total_notes: int | None = None
    end: float | None = None

    def rows(self, durations: np.ndarray, first_step: int, steps: int) -> np.ndarray:
        """Rows for model steps ``first_step .. first_step + steps - 1``.

        Step ``s`` predicts event ``s`` of the melody (step 0 reads ``<bos>``), whose onset is
        ``start`` plus the first ``s`` ``durations`` (beats of the events read so far).
        """
        durations = np.asarray(durations, np.float64)[: max(0, first_step + steps - 1)]
        cumulative = np.concatenate([[0.0], np.cumsum(durations)])
        return self.rows_at(cumulative[first_step : first_step + steps], first_step)

    def rows_at(self, times: np.ndarray, first_step: int, notes_left: bool = True) -> np.ndarray:
        """Rows for consecutive steps from ``first_step`` whose events start ``times`` beats
        after the melody's first onset."""
        times = np.asarray(times, np.float64)
        left = None
        if self.total_notes is not None and notes_left:
            left = self.total_notes - np.arange(first_step, first_step + len(times))
        return condition_rows(self.start + times, self.others, self.metre, left, self.end)

    def with_end(self, total_notes: int | None, end: float | None = None) -> Setting:
        """The same place with the melody's length (events) and end (beats) known."""
        return Setting(self.others, self.metre, self.start, total_notes, end)

    def later(self, beats: float) -> Setting:
        """The setting of a melody that starts ``beats`` later (a context cut at its start)."""
        if beats == 0:
            return self
        return Setting(self.others, self.metre, self.start + beats, self.total_notes, self.end)

    def key(self) -> bytes:
        """A digest of everything that changes the rows (the context cache's salt)."""
        return (
            _voices_key(self.others)
            + repr((self.metre, self.start, self.total_notes, self.end)).encode()
        )

    @property
    def plain(self) -> bool:
        """Alone, from beat 0, nothing known: what a model reads without a setting."""
        return (
            not self.others
            and self.metre is None
            and self.start == 0
            and self.total_notes is None
            and self.end is None
        )


def _voices_key(others: tuple[VoiceTimes, ...]) -> bytes:
    """Digest of the other voices, memoised on the tuple's identity (the same voices are
    reused for every keystroke of a document version)."""
    if not others:
        return b""
    return _KEYS.get(others, _digest_voices)


def _digest_voices(others: tuple[VoiceTimes, ...]) -> bytes:
    import hashlib

    digest = hashlib.blake2b(digest_size=8)
    for voice in others:
        for array in (voice.onsets, voice.ends, voice.pitches):
            digest.update(np.ascontiguousarray(array, np.float64).tobytes())
    return digest.digest()


_KEYS: _PerVoices[bytes] = _PerVoices()


ALONE_SETTING = Setting()
"""A melody with nothing around it, from beat 0, its end unknown."""
