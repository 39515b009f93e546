"""What every reader returns: a piece as voices aligned in beats, with its metre and tempo.

A voice is one line of music (a MIDI track, a MusicXML part, an ABC tune's voice, a Sonic Pi
``aN`` voice), monophonic: where a track plays chords, its top note is the melody a listener
hears, as in the rest of the project. Onsets are in beats from the piece's start, so the other
voices sounding at any event (the harmony context) and its place in the bar (the metre input)
can be computed from the piece alone — :meth:`Piece.examples` does exactly that.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

GRID = 1 / 48
"""Onsets and durations snap to 1/48 beat: exact for sixteenths, triplets and their halves."""
MIN_EVENTS = 2


def snap(beats: float) -> float:
    return round(beats / GRID) * GRID


@dataclass
class Voice:
    """One monophonic line: parallel lists; ``pitch`` is a MIDI number or ``None`` (rest)."""

    name: str
    onsets: list[float] = field(default_factory=list)
    pitches: list[int | None] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pitches)

    def sounding_at(self, beat: float) -> int | None:
        """The pitch this voice sounds at ``beat`` (``None``: silent or resting)."""
        i = bisect.bisect_right(self.onsets, beat + 1e-9) - 1
        if i < 0 or beat >= self.onsets[i] + self.durations[i] - 1e-9:
            return None
        return self.pitches[i]


@dataclass
class Piece:
    """Voices of one piece plus its metre: ``time_signatures`` and ``tempos`` as
    ``(beat, value)`` changes, sorted, the first at beat 0 when the source gives one."""

    id: str
    voices: list[Voice]
    time_signatures: list[tuple[float, tuple[int, int]]] = field(default_factory=list)
    tempos: list[tuple[float, float]] = field(default_factory=list)

    def bar_position(self, beat: float) -> float:
        """Beats since the start of the bar (4/4 when the source gives no time signature)."""
        start, (num, den) = 0.0, (4, 4)
        for at, sig in self.time_signatures:
            if at > beat + 1e-9:
                break
            start, (num, den) = at, sig
        bar = num * 4 / den
        return round((beat - start) % bar, 6) if bar > 0 else 0.0

    def metre(self) -> tuple[float, float] | None:
        """``(bar_beats, phase)`` of the first time signature (``None``: unknown)."""
        if not self.time_signatures:
            return None
        at, (num, den) = self.time_signatures[0]
        bar = num * 4 / den
        return (bar, (-at) % bar) if bar > 0 else None

    def examples(self) -> list[dict[str, object]]:
        """One training example per voice: its events, its bar positions, the pitches the
        other voices sound at each of its onsets (flattened with per-event counts), and the
        model's conditioning rows (:mod:`notegen.model.conditioning`, flattened) built from them."""
        from notegen.model.conditioning import Metre, VoiceTimes, condition_rows

        times = {
            id(v): VoiceTimes(
                np.asarray(v.onsets, np.float64),
                np.asarray(v.onsets, np.float64) + np.asarray(v.durations, np.float64),
                np.array([np.nan if p is None else float(p) for p in v.pitches]),
            )
            for v in self.voices
        }
        metre = self.metre()
        out: list[dict[str, object]] = []
        first_tempo = self.tempos[0][1] if self.tempos else 0.0
        sig = self.time_signatures[0][1] if self.time_signatures else (0, 0)
        for voice in self.voices:
            if len(voice) < MIN_EVENTS:
                continue
            others = [v for v in self.voices if v is not voice]
            context: list[int] = []
            counts: list[int] = []
            for onset in voice.onsets:
                sounding = [p for v in others if (p := v.sounding_at(onset)) is not None]
                context.extend(sounding)
                counts.append(len(sounding))
            count = len(voice)
            rows = condition_rows(
                np.asarray(voice.onsets, np.float64),
                [times[id(v)] for v in others],
                Metre(*metre) if metre else None,
                notes_left=count - np.arange(count),
                end=voice.onsets[-1] + voice.durations[-1],
            )
            out.append(
                {
                    "id": f"{self.id}#{voice.name}",
                    "conditioning": rows.ravel().tolist(),
                    "pitch": [-1 if p is None else int(p) for p in voice.pitches],
                    "beats": [float(d) for d in voice.durations],
                    "onset": [float(o) for o in voice.onsets],
                    "bar_position": [self.bar_position(o) for o in voice.onsets],
                    "context_pitch": context,
                    "context_count": counts,
                    "bpm": float(first_tempo),
                    "time_signature": [int(sig[0]), int(sig[1])],
                }
            )
        return out


def monophonic(name: str, notes: list[tuple[float, float, int]]) -> Voice:
    """A voice from ``(onset, duration, midi)`` notes that may overlap: at each onset the top
    note; a note lasts until the next onset (or its own end, then a rest fills the gap).
    Onsets stay absolute, so a voice that enters late is still aligned with the others; the
    silence before its first note is not an event (a melody starts on a note)."""
    voice = Voice(name)
    if not notes:
        return voice
    top: dict[float, tuple[float, int]] = {}
    for onset, duration, midi in notes:
        key = snap(onset)
        if duration <= 0:
            continue
        held = top.get(key)
        if held is None or midi > held[1]:
            top[key] = (max(duration, held[0]) if held else duration, midi)
    onsets = sorted(top)
    cursor = onsets[0] if onsets else 0.0
    for i, onset in enumerate(onsets):
        if onset > cursor + 1e-9:
            _append(voice, cursor, None, onset - cursor)
        duration, midi = top[onset]
        end = onset + duration
        if i + 1 < len(onsets):
            end = min(end, onsets[i + 1])
        length = snap(end - onset)
        if length <= 0:
            continue
        _append(voice, onset, midi, length)
        cursor = onset + length
    return voice


def _append(voice: Voice, onset: float, pitch: int | None, duration: float) -> None:
    if pitch is None and voice.pitches and voice.pitches[-1] is None:
        voice.durations[-1] = snap(voice.durations[-1] + duration)  # one rest, not two
        return
    voice.onsets.append(round(onset, 6))
    voice.pitches.append(pitch)
    voice.durations.append(round(duration, 6))
