"""The voices of a Sonic Pi document on one time line, and what one of them hears of the others.

A piece in the voice form plays every voice from the start in its own thread: voice N is its
sections ``aN[0]``, ``aN[1]``... one after another, each at its tempo (as
:mod:`notegen.sonicpi.piece` reads it: ``cN[k]``, else the ``use_bpm`` where the voice plays,
else 60), durations from ``bN[k]`` (a missing duration lasts the model's default).
:func:`piece_lines` lays them out in seconds; :func:`setting_for` gives the
:class:`~notegen.model.conditioning.Setting` of one voice — the other voices moved onto that voice's
own beats — which the server, ``notegen-melody generate --context`` and ``notegen-train evaluate``
all use, so what is measured on a file is what the editor serves in it.

In ``play``/``sleep`` code, :func:`others_of` gives the loops a ``live_loop`` hears, laid out
pass after pass on its own time line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from notegen.melody import Event
from notegen.model.conditioning import Setting, VoiceTimes
from notegen.sonicpi.play_order import PlayVoice, total_beats

if TYPE_CHECKING:
    from notegen.sonicpi.piece import Piece

DEFAULT_BPM = 60.0


@dataclass
class VoiceLine:
    """One voice: its events in play order and where each of its sections starts."""

    number: int
    events: list[Event] = field(default_factory=list)
    section_starts: list[int] = field(default_factory=list)
    """Index in ``events`` of each section's first event."""
    bpms: list[float] = field(default_factory=list)
    """Tempo of each section."""

    def beats(self, default: float = 1.0) -> np.ndarray:
        return np.array(
            [default if e.duration is None or e.duration <= 0 else e.duration for e in self.events],
            np.float64,
        )

    def tempo_map(self, default: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints (seconds, beats) where this voice's tempo changes, from (0, 0)."""
        beats = self.beats(default)
        seconds, at_beats = [0.0], [0.0]
        bounds = [*self.section_starts[1:], len(self.events)]
        for k, (start, end) in enumerate(zip(self.section_starts, bounds, strict=True)):
            length = float(beats[start:end].sum())
            seconds.append(seconds[-1] + length * 60.0 / self.bpms[k])
            at_beats.append(at_beats[-1] + length)
        return np.array(seconds), np.array(at_beats)

    def seconds(self, default: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Onset and end of every event in seconds from the piece's start."""
        beats = self.beats(default)
        per_beat = np.empty(len(beats))
        bounds = [*self.section_starts[1:], len(self.events)]
        for k, (start, end) in enumerate(zip(self.section_starts, bounds, strict=True)):
            per_beat[start:end] = 60.0 / self.bpms[k]
        ends = np.cumsum(beats * per_beat)
        return ends - beats * per_beat, ends


def voice_lines(
    arrays: Iterable[object], played_at: Mapping[int, float] | None = None
) -> list[VoiceLine]:
    """The ``aN[k]`` voices of a document's note arrays (``notegen.sonicpi.read``), by number.

    Sections are joined in section order; a section's tempo is the piece reader's
    (:mod:`notegen.sonicpi.piece`): its ``bpm`` (``cN[k]``), else the ``use_bpm`` in force
    where its voice is played (``played_at``: :func:`notegen.sonicpi.tempo.voice_tempi`),
    else 60.
    """
    played_at = played_at or {}
    sections: dict[int, list[tuple[int, list[Event], float]]] = {}
    for array in arrays:
        if getattr(array, "kind", None) != "voice" or getattr(array, "voice", None) is None:
            continue
        given = getattr(array, "bpm", None)
        voice: int = array.voice  # type: ignore[attr-defined]
        bpm = given if given and given > 0 else played_at.get(voice) or DEFAULT_BPM
        events = array.events()  # type: ignore[attr-defined]
        sections.setdefault(array.voice, []).append(  # type: ignore[attr-defined]
            (array.section or 0, events, float(bpm))  # type: ignore[attr-defined]
        )
    lines = []
    for number in sorted(sections):
        line = VoiceLine(number)
        for _, events, bpm in sorted(sections[number], key=lambda s: s[0]):
            if not events:
                continue
            line.section_starts.append(len(line.events))
            line.bpms.append(bpm)
            line.events.extend(events)
        if line.events:
            lines.append(line)
    return lines


@dataclass(frozen=True, eq=False)
class Timeline:
    """A listening voice's beats as a function of the piece's seconds: its tempo map's
    breakpoints, then its last tempo past them."""

    seconds: np.ndarray
    beats_at: np.ndarray
    last_rate: float

    def beats(self, seconds: np.ndarray) -> np.ndarray:
        inside = np.interp(seconds, self.seconds, self.beats_at)
        beyond = seconds > self.seconds[-1]
        inside[beyond] = self.beats_at[-1] + (seconds[beyond] - self.seconds[-1]) * self.last_rate
        return inside


class MovedVoice(VoiceTimes):
    """Another voice on a listening voice's beats, its onsets and ends computed from its times
    in seconds whenever they are read, and not kept.

    Each listening voice hears every other voice on its own beats: a piece of n voices held
    n(n-1) copies of their onsets and ends (the 20-voice, 20,000-note benchmark piece: 380
    pairs, 6.1 MB, in each reading and in its pickle from the child that reads it). They are
    read to make the tables the experts keep for a tuple of voices (its harmony, what sounds
    where, its rhythm, its digest), once per table; the values are those the same
    :meth:`Timeline.beats` gives every time, so those tables are the same to the bit.
    """

    seconds: tuple[np.ndarray, np.ndarray]
    """Its onsets and ends in seconds from the piece's start (shared by every listener)."""
    timeline: Timeline

    def __init__(
        self, seconds: tuple[np.ndarray, np.ndarray], pitches: np.ndarray, timeline: Timeline
    ) -> None:
        # (the frozen dataclass's fields are set as it sets them)
        object.__setattr__(self, "seconds", seconds)
        object.__setattr__(self, "pitches", pitches)
        object.__setattr__(self, "timeline", timeline)

    @property  # type: ignore[override]
    def onsets(self) -> np.ndarray:
        return self.timeline.beats(self.seconds[0])

    @property  # type: ignore[override]
    def ends(self) -> np.ndarray:
        return self.timeline.beats(self.seconds[1])

    def end_times(self) -> tuple[np.ndarray, Timeline]:
        return self.seconds[1], self.timeline


def setting_for(
    lines: Sequence[VoiceLine],
    number: int | None,
    default: float = 1.0,
    shared: dict[tuple[Any, ...], VoiceTimes] | None = None,
) -> Setting:
    """What voice ``number`` hears: every other voice, on its own beats (metre unknown: Sonic
    Pi code has none). A voice not in ``lines`` (a new one) is placed at the tempo of the
    first voice.

    ``shared``: the voices already moved for other voices of the same ``lines``: their
    pitches and times in seconds are reused, and the moved voice itself where the tempo map
    is the same (a piece's settings each hold every other voice: the 20,000-note benchmark
    piece's 21 settings held 400 copies of its 20 voices' pitches, 3.2 MB)."""
    own = next((line for line in lines if line.number == number), None)
    others = [line for line in lines if line.number != number]
    if not others:
        return Setting()
    reference = own or others[0]
    sec_points, beat_points = reference.tempo_map(default)
    last_rate = reference.bpms[-1] / 60.0 if reference.bpms else 1.0
    tempo = (default, last_rate, sec_points.tobytes(), beat_points.tobytes())
    known: dict[tuple[Any, ...], VoiceTimes] = {} if shared is None else shared
    # One time line object per tempo map: a table of the voices (the consonance expert's)
    # moves the few ends it reads when they are all moved by the same one.
    timeline = next(
        (
            found.timeline
            for line in others
            if isinstance(found := known.get((line.number, tempo)), MovedVoice)
        ),
        None,
    ) or Timeline(sec_points, beat_points, last_rate)
    times = []
    for line in others:
        key = (line.number, tempo)
        found = known.get(key)
        if found is None:
            seen = known.get((line.number, default))  # its pitches and seconds: the same here
            if isinstance(seen, MovedVoice):
                pitches, seconds = seen.pitches, seen.seconds
            else:
                pitches = np.array(
                    [np.nan if e.pitch is None else float(e.pitch) for e in line.events]
                )
                seconds = line.seconds(default)
            found = MovedVoice(seconds, pitches, timeline)
            known[key] = found
            known.setdefault((line.number, default), found)
        times.append(found)
    return Setting(others=tuple(times))


def piece_lines(piece: Piece) -> list[VoiceLine]:
    """The voices of a :class:`notegen.sonicpi.piece.Piece` (tempo per section as it reads
    them: ``cN``, else the ``use_bpm`` where the voice plays, else 60)."""
    lines = []
    for voice in piece.voices:
        line = VoiceLine(voice.number)
        for section in voice.sections:
            events = [
                Event(ev.pitch, ev.duration) for ev in voice.events if ev.section == section.index
            ]
            if not events:
                continue
            line.section_starts.append(len(line.events))
            line.bpms.append(section.bpm)
            line.events.extend(events)
        if line.events:
            lines.append(line)
    return lines


def document_lines(text: str) -> list[VoiceLine]:
    """:func:`piece_lines` straight from a document's text."""
    from notegen.sonicpi.piece import read_piece

    return piece_lines(read_piece(text))


def document_setting(text: str, number: int | None, default: float = 1.0) -> Setting:
    """:func:`setting_for` straight from a document's text."""
    return setting_for(document_lines(text), number, default)


MAX_OTHERS = 8
"""Other parts heard at most (chord tones count one each), from the loops written nearest:
the model learned from four-part chorales, and a file of 200 loops must not cost 200 parts
on every keystroke."""
TILE_BEATS = 512.0
"""How far back other looping voices are laid out (beyond the longest context read)."""


def others_of(voices: Sequence[PlayVoice], voice: PlayVoice | None) -> tuple[VoiceTimes, ...]:
    """The other voices heard with ``voice``, on its time line (0 = the start of its pass).

    Loops that start together and last as long as this one stay in step with it (``sync``
    aside) and are laid out pass after pass; loops of another length drift against it, and
    voices that play once (top level, ``in_thread``, ``define``) have no place on a loop's
    time line: they are left out, as are unpitched voices. At most ``MAX_OTHERS`` parts.
    """
    if voice is None or not voice.looped:
        return ()
    memo = _OTHERS.get(id(voice))
    if memo is not None and memo[0] is voice and memo[1] is voices:
        return memo[2]
    nearest = sorted(
        (v for v in voices if v is not voice and v.looped), key=lambda v: abs(v.start - voice.start)
    )
    # (no other loop: not this voice's length either, a sum over its every note; a
    # 160,000-note live_loop's first completion after each reading spent ~5 ms on it)
    own = pass_beats(voices, voice) if nearest else 0.0
    out: list[VoiceTimes] = []
    for other in nearest:
        if len(out) >= MAX_OTHERS:
            break
        length = pass_beats(voices, other)
        if length <= 0 or abs(length - own) > 1e-6:
            continue  # out of step with this voice: which notes sound together is unknown
        back = int(TILE_BEATS // length) + 1
        for layer in other.layers():  # a chord's every tone is heard
            if not any(e.pitch is not None for e in layer) or len(out) >= MAX_OTHERS:
                continue
            out.append(VoiceTimes.of(layer, start=-length * back, default=0.0, repeat=2 * back + 1))
    if len(_OTHERS) > 32:
        _OTHERS.clear()
    found = tuple(out)
    _OTHERS[id(voice)] = (voice, voices, found)
    return found


def pass_beats(voices: Sequence[PlayVoice], voice: PlayVoice) -> float:
    """Beats of one pass of ``voice``, one of ``voices``, counted once per ``voices``.

    :func:`others_of` compares the cursor's loop with the loops written nearest until it has
    :data:`MAX_OTHERS` of its length: in a file of 400 loops of other lengths than the
    cursor's, each new cursor summed ~200 loops' notes again (~0.8 ms of its ~19, in
    process)."""
    global _PASS_BEATS
    memo = _PASS_BEATS  # (read once: another thread may put another reading's in place)
    if memo[0] is not voices:  # (a new reading: the last one's lengths let go)
        memo = _PASS_BEATS = (voices, {})
    known = memo[1]
    beats = known.get(id(voice))
    if beats is None:
        beats = known[id(voice)] = total_beats(voice.one_pass())
    return beats


_PASS_BEATS: tuple[Sequence[PlayVoice] | None, dict[int, float]] = (None, {})
"""The voices :func:`pass_beats` last counted, and each one's beats by ``id`` (they live as
long as that sequence, which holds them)."""

_OTHERS: dict[int, tuple[PlayVoice, Sequence[PlayVoice], tuple[VoiceTimes, ...]]] = {}
"""Other voices per voice of a reading (the same tuple for every keystroke: the conditioning
and the context cache key their memos on it)."""
