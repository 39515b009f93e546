"""Consonance with the other voices: the rule issue 10 measures, and a weight generation uses.

A note is *consonant* at an onset when it forms with every note the other voices sound there a
unison/octave, a third, a fifth or a sixth, or a fourth whose lower note is not the lowest
sounding note (a fourth over the bass is a dissonance). ``benchmarks/voice_consonance.py``
scores generated voices with :func:`consonant_notes`.

Why generation needs a weight: read on held-out chorale voices (the pieces the network was
fitted to hear), the network gives the consonant notes 62 % of its mass at onsets where other
voices sound, while the real voices play one 70 % of the time — it hedges (it was trained with
the other voices hidden at random and mostly on lone melodies). Sampled, a voice inherits that
hedge: at every onset a few points of mass sit on notes that clash. :class:`ConsonanceBias`
tilts the sampled pitch distribution by ``exp(weight)`` on the consonant notes. The weight
(``notegen-train tune-consonance``) is either the maximum-likelihood one on real voices (the
tilted distribution as consonant as the voices it predicts) or, as shipped, the one with which
generated voices, hearing their own notes, are as consonant as the pieces' own
(``--match-generated``, :mod:`notegen_training.consonance_match`). numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from notegen.model.conditioning import (
    _EPS,
    ENSEMBLES,
    SortedOnsets,
    TimeMap,
    VoiceTimes,
    _PerVoices,
    sorted_onsets,
    sounding,
    stretch_boundaries,
)

__all__ = ["CONSONANT", "ConsonanceBias", "consonant_notes", "fit_weight"]

CONSONANT = frozenset({0, 3, 4, 7, 8, 9})
"""Interval classes consonant with any note; 5 (a fourth) only above the bass."""
_FOURTH = 5


def consonant_notes(midi: np.ndarray, heard: np.ndarray) -> np.ndarray:
    """Which of the MIDI pitches ``midi`` (NaN: not a note) are consonant with every pitch in
    ``heard`` (what the other voices sound; empty: every note is)."""
    midi = np.asarray(midi, np.float64)
    heard = np.asarray(heard, np.float64)
    heard = heard[np.isfinite(heard)]
    notes = np.isfinite(midi)
    if heard.size == 0:
        return notes
    m = np.where(notes, midi, 0.0)[:, None]
    q = heard[None, :]
    interval = np.round(np.abs(m - q)) % 12
    bass = np.minimum(heard.min(), m)
    fourth_above_bass = (interval == _FOURTH) & (np.minimum(m, q) > bass)
    ok = np.isin(interval, sorted(CONSONANT)) | fourth_above_bass
    return ok.all(axis=1) & notes


@dataclass(frozen=True)
class ConsonanceBias:
    """Log-weight added to the pitches consonant with the other voices while sampling."""

    weight: float

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> ConsonanceBias | None:
        spec = card.get("consonance_bias")
        if not spec:
            return None
        weight = float(spec["weight"])
        if not math.isfinite(weight):
            raise ValueError(f"consonance_bias weight {weight!r}")
        return cls(weight)

    def to_card(self) -> dict[str, Any]:
        return {"weight": round(self.weight, 6)}

    def at(
        self, midi: np.ndarray, others: tuple[VoiceTimes, ...], onset: float
    ) -> np.ndarray | None:
        """The log-weights to add to pitch logits for a note starting at ``onset`` (beats on
        the others' time line), or ``None`` where nothing else sounds."""
        if not others or self.weight == 0:
            return None
        heard = _TABLES.get(others, _Sounding).at(others, onset)
        if not heard:
            return None
        midi_b = midi.tobytes()
        midi_b = _MIDI.setdefault(midi_b, midi_b)  # one key object per vocabulary, not per call
        return _bias(midi_b, len(midi), heard, self.weight)

    def weigher(
        self, midi: np.ndarray, others: tuple[VoiceTimes, ...]
    ) -> Callable[[float], np.ndarray | None]:
        """:meth:`at` for the onsets of one melody's notes, with the other voices' table and
        the vocabulary's key looked up once (not per generated note)."""
        if not others or self.weight == 0:
            return lambda onset: None
        table = _TABLES.get(others, _Sounding)
        midi_b = midi.tobytes()
        midi_b = _MIDI.setdefault(midi_b, midi_b)
        n, weight = len(midi), self.weight

        def at(onset: float) -> np.ndarray | None:
            heard = table.at(others, onset)
            return _bias(midi_b, n, heard, weight) if heard else None

        return at


def prepare(others: tuple[VoiceTimes, ...]) -> None:
    """Make the other voices' table now (:class:`_Sounding`), not at the first note generated
    against them (:meth:`notegen.model.network.MelodyModel.prepare_setting`)."""
    if others:
        _TABLES.get(others, _Sounding)


class _Sounding:
    """The pitches the other voices sound on each stretch between their onsets and ends: a
    generated note looks them up with one bisection instead of a search per voice.

    A stretch's pitches are read when a note first lands in it (then kept): the 20-voice
    benchmark piece has ~10,000 stretches per voice's setting, and reading them all up front
    (a tuple of Python floats each) cost ~50 ms and ~6 MB per voice, which the first completion
    in each voice paid, and up to ~280 MB over a completion run (measured through the server,
    benchmarks/lsp_latency.py). Same pitches, same order: the stretch's first point is read
    exactly as before. The table does not hold the voices (its memo holds them weakly): the
    caller hands them in.
    """

    __slots__ = ("boundaries", "heard", "voices")

    def __init__(self, others: tuple[VoiceTimes, ...]) -> None:
        # The harmony table's array where the voices have one (3 MB per 20,000-note piece,
        # 32 MB per 200,000-note one, and the sort each listening voice's first note waited
        # for): the same sort of the same values.
        self.boundaries = stretch_boundaries(others)
        self.heard: dict[int, tuple[float, ...]] = {}
        self.voices = _concatenated(others)

    def at(self, others: tuple[VoiceTimes, ...], onset: float) -> tuple[float, ...]:
        index = int(self.boundaries.searchsorted(onset + _EPS, side="right"))
        found = self.heard.get(index)
        if found is None:
            point = self.boundaries[index - 1] if index else -1e9
            if self.voices is not None:
                row = self.voices.sounding(float(point))
            else:
                row = sounding(others, np.array([point], np.float64))[0]
            found = tuple(sorted(row[np.isfinite(row)].tolist()))
            self.heard[index] = found
        return found


class _Concatenated:
    """The other voices one after another, to read what they sound at one point with a few
    small array operations instead of several per voice (:func:`sounding` loops over the
    voices: ~19 searches per generated note in the 20-voice benchmark piece, ~0.15 ms).

    A voice's note at ``t`` is its last onset ``<= t + _EPS``: in a voice whose onsets never
    decrease that is the number of such onsets minus one, exactly what ``searchsorted(...,
    side="right") - 1`` gives. Those counts come from every onset of every voice in one
    sorted array: one search finds how many onsets are ``<= t + _EPS`` (the same comparison),
    and the voices they belong to are counted from a checkpoint every ``STRIDE`` onsets (a
    whole-array comparison of the ~19,000 onsets cost ~50 µs per generated note in the
    server, where the network's step between two notes had pushed them out of the CPU's
    caches). Voices whose onsets are not in order (or not finite) keep :func:`sounding`
    (:meth:`of` gives ``None``).
    """

    STRIDE = 128

    __slots__ = (
        "checkpoints",
        "end_values",
        "ends",
        "firsts",
        "owners",
        "pitches",
        "sorted_onsets",
        "time_map",
    )

    def __init__(
        self, order: SortedOnsets, voices: Sequence[VoiceTimes], pitches: np.ndarray
    ) -> None:
        self.pitches = pitches
        sizes = np.array([len(v.pitches) for v in voices], np.intp)
        self.firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self.sorted_onsets = order
        self.owners = order.owners
        """The voice of each sorted onset."""
        sources = [v.end_times() for v in voices]
        self.time_map: TimeMap | None = sources[0][1]
        """The voices' one time map, when they are all moved by it: :attr:`end_values` are
        then the voices' own (shared) ends in seconds, and only those read are moved."""
        self.end_values: list[np.ndarray] = []
        self.ends: np.ndarray | None = None
        """Every end, one voice after another (when the voices are not all moved alike)."""
        if self.time_map is not None and all(m is self.time_map for _, m in sources):
            self.end_values = [values for values, _ in sources]
        else:
            self.time_map = None
            self.ends = np.concatenate([np.asarray(v.ends, np.float64) for v in voices])
        blocks = len(self.sorted_onsets) // self.STRIDE
        counts = np.zeros((blocks + 1, len(voices)), np.intp)
        if blocks:
            seen = self.owners[: blocks * self.STRIDE].reshape(blocks, self.STRIDE)
            for voice in range(len(voices)):
                counts[1:, voice] = np.cumsum((seen == voice).sum(axis=1))
        # (counts up to the number of onsets: two bytes each below 65,535 of them, 23 kB a
        # listening voice at eight in the benchmark piece; added to intp counts when read)
        self.checkpoints = counts.astype(np.uint16) if len(self.sorted_onsets) < 2**16 else counts
        """Row ``r``: how many of the first ``r * STRIDE`` sorted onsets each voice has."""

    @classmethod
    def of(cls, others: tuple[VoiceTimes, ...]) -> _Concatenated | None:
        order = sorted_onsets(others)  # (the rhythm experts' too)
        voices = [others[k] for k in order.voices]
        if not voices or not order.in_order:
            return None
        pitches = np.concatenate([np.asarray(v.pitches, np.float64) for v in voices])
        return cls(order, voices, _compact(pitches))

    def sounding(self, point: float) -> np.ndarray:
        """The pitch each voice sounds at ``point`` (NaN: none), in voice order."""
        below = self.sorted_onsets.count_to(point + _EPS)
        block = below // self.STRIDE
        counts = self.checkpoints[block] + np.bincount(
            self.owners[block * self.STRIDE : below], minlength=len(self.firsts)
        )
        ok = counts > 0
        last = np.where(ok, counts - 1, 0)  # each voice's note at the point
        at = self.firsts + last
        if self.time_map is not None:
            raw = [values[k] for values, k in zip(self.end_values, last.tolist(), strict=True)]
            ends = self.time_map.beats(np.array(raw, np.float64))
        else:
            assert self.ends is not None
            ends = self.ends[at]
        ok &= point < ends - _EPS
        pitches = self.pitches[at]
        if pitches.dtype == np.int8:
            ok &= pitches != _NO_PITCH
        return np.where(ok, pitches, np.nan)


class _Without:
    """A whole ensemble's :class:`_Concatenated` as one of its voices hears the others: the
    same pitches at a point, that voice's left out (:class:`notegen.model.conditioning.Ensembles`:
    one table for the piece, not one per listening voice)."""

    __slots__ = ("column", "whole")

    def __init__(self, whole: _Concatenated, column: int) -> None:
        self.whole = whole
        self.column = column

    def sounding(self, point: float) -> np.ndarray:
        """The pitch each other voice sounds at ``point`` (NaN: none), in voice order."""
        row = self.whole.sounding(point)
        return np.concatenate([row[: self.column], row[self.column + 1 :]])


def _concatenated(others: tuple[VoiceTimes, ...]) -> _Concatenated | _Without | None:
    """The voices' :class:`_Concatenated`: a view of their whole ensemble's where a reading
    registered one (:data:`notegen.model.conditioning.ENSEMBLES`) and its voices' onsets are in
    order, else their own."""
    split = ENSEMBLES.split(others)
    if split is not None:
        whole, missing = split
        table = _TABLES.get(whole, _Sounding).voices
        if isinstance(table, _Concatenated):
            voices = sorted_onsets(whole).voices
            if missing not in voices:  # (a voice of no notes: every column is another's)
                return table
            return _Without(table, voices.index(missing))
    return _Concatenated.of(others)


_NO_PITCH = -128
"""A rest among :func:`_compact` pitches."""


def _compact(pitches: np.ndarray) -> np.ndarray:
    """``pitches`` (MIDI, NaN: a rest) in one byte each where every note is a whole MIDI
    number (note names and numbers are), rests as :data:`_NO_PITCH`; else as they are. The
    same values either way (152 kB a listening voice in the 20-voice benchmark piece)."""
    notes = pitches[np.isfinite(pitches)]
    if not np.all(np.abs(notes) <= 127) or not np.array_equal(notes, np.round(notes)):
        return pitches
    return np.where(np.isfinite(pitches), pitches, _NO_PITCH).astype(np.int8)


_TABLES: _PerVoices[_Sounding] = _PerVoices()


_MIDI: dict[bytes, bytes] = {}


@lru_cache(maxsize=4096)
def _bias(midi_b: bytes, n: int, heard: tuple[float, ...], weight: float) -> np.ndarray:
    """``consonant_notes(midi, heard) * weight``, one heard pitch at a time.

    A note is consonant with what sounds when it is consonant with each pitch heard, and that
    depends only on the pitch and the lowest one heard (a fourth over the bass): so each
    ``(pitch, lowest)`` column is computed once and the columns of the distinct pitches heard
    are and-ed. In the benchmark piece ~17 pitches sound under a generated note in ~1,700
    combinations per voice, and the whole ``[notes, heard]`` rule cost ~38 µs per new one.
    The columns are kept as bit masks (bit ``i``: note ``i``), and-ed as Python integers: an
    array operation per column cost more than the rule it applied."""
    midi = np.frombuffer(midi_b, np.float64, count=n)
    if not heard or not all(map(math.isfinite, heard)):
        ok = consonant_notes(midi, np.array(heard))
    else:
        low = min(heard)
        bits = _notes_bits(midi_b, n)
        for q in set(heard):
            bits &= _column(midi_b, n, q, low)
        return _weights(bits, n, weight)  # (far fewer masks than combinations heard)
    out = ok * weight
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1024)
def _weights(bits: int, n: int, weight: float) -> np.ndarray:
    """``weight`` on the notes whose bit is set, 0 elsewhere (read-only)."""
    out = _unpack(bits, n) * weight
    out.setflags(write=False)
    return out


_OK = np.isin(np.arange(12), sorted(CONSONANT))
"""Whether each interval class is consonant with any note."""


def _pack(ok: np.ndarray) -> int:
    """A boolean array as an integer whose bit ``i`` is ``ok[i]``."""
    return int.from_bytes(np.packbits(ok, bitorder="little").tobytes(), "little")


def _unpack(bits: int, n: int) -> np.ndarray:
    """The boolean array of ``n`` entries that :func:`_pack` made ``bits`` from."""
    raw = np.frombuffer(bits.to_bytes((n + 7) // 8, "little"), np.uint8)
    return np.unpackbits(raw, count=n, bitorder="little").astype(bool)


@lru_cache(maxsize=64)
def _notes_bits(midi_b: bytes, n: int) -> int:
    """Which entries of the vocabulary are notes (finite MIDI numbers), as bits."""
    return _pack(np.isfinite(np.frombuffer(midi_b, np.float64, count=n)))


@lru_cache(maxsize=8192)
def _column(midi_b: bytes, n: int, q: float, low: float) -> int:
    """Which of the pitches are consonant with ``q`` heard with ``low`` the lowest pitch heard
    (as bits, :func:`_pack`): :func:`consonant_notes`' rule for one column (the same
    operations, so the same answer)."""
    midi = np.frombuffer(midi_b, np.float64, count=n)
    m = np.where(np.isfinite(midi), midi, 0.0)
    interval = np.round(np.abs(m - q)) % 12  # finite, a whole number in [0, 12)
    bass = np.minimum(low, m)
    fourth_above_bass = (interval == _FOURTH) & (np.minimum(m, q) > bass)
    ok: np.ndarray = _OK[interval.astype(np.intp)] | fourth_above_bass
    return _pack(ok)


MAX_WEIGHT = 8.0
"""The fitted weight's bound (voices that never, or always, clash would ask for infinity)."""


def fit_weight(expected: Sequence[float], consonant: Sequence[bool]) -> float:
    """Maximum-likelihood tilt ``w`` of distributions whose consonant mass is ``expected``
    (one per observed note) given whether each observed note was consonant: the ``w`` at
    which the tilted distributions' mean consonant mass equals the observed rate (within
    ±:data:`MAX_WEIGHT`; 0 without observations)."""
    e = np.clip(np.asarray(expected, np.float64), 1e-9, 1 - 1e-9)
    if not len(e):
        return 0.0
    rate = float(np.mean(np.asarray(consonant, np.float64)))
    lo, hi = -MAX_WEIGHT, MAX_WEIGHT
    for _ in range(60):
        w = (lo + hi) / 2
        tilted = e * math.exp(w) / (e * math.exp(w) + 1 - e)
        if tilted.mean() < rate:
            lo = w
        else:
            hi = w
    return (lo + hi) / 2
