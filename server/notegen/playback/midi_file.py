"""Standard MIDI files of notes and durations: hear a melody without Sonic Pi.

One track per voice (type 1 file; type 0 for a single voice), a tempo from the bpm, notes on
channel ``voice index mod 16`` (skipping the drum channel 10). Timing is kept in *seconds*: when
sections or voices use different bpm, each note lasts exactly as long as Sonic Pi would play it,
against the file's single tempo (MIDI tempo is global, not per track). Fractional MIDI numbers
(microtones, which Sonic Pi plays) are rounded to the nearest key, as MIDI has no other way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import mido

__all__ = ["Step", "build_midi", "read_midi", "steps_from_arrays", "write_midi"]

DEFAULT_TICKS_PER_BEAT = 480
DEFAULT_VELOCITY = 90
_DRUM_CHANNEL = 9


@dataclass(frozen=True, slots=True)
class Step:
    """Pitches sounding together for ``beats`` at ``bpm`` (no pitches = a rest)."""

    pitches: tuple[float, ...]
    beats: float
    bpm: float = 60.0

    @property
    def seconds(self) -> float:
        return self.beats * 60.0 / self.bpm


def steps_from_arrays(
    notes: Sequence[int | float | Sequence[int | float] | None],
    durations: Sequence[float],
    bpm: float = 60.0,
) -> list[Step]:
    """Pair a note array with its duration array, as Sonic Pi's ``play``/``sleep`` loop does.

    ``None`` is a rest; a sequence is a chord. Raises ``ValueError`` when the arrays differ in
    length (Sonic Pi would stop at ``sleep nil``) or a duration is not a positive number.
    """
    if len(notes) != len(durations):
        raise ValueError(
            f"{len(notes)} notes but {len(durations)} durations: each note needs its duration"
        )
    _check_bpm(bpm)
    steps = []
    for i, (note, beats) in enumerate(zip(notes, durations, strict=True)):
        if (
            isinstance(beats, bool)
            or not isinstance(beats, (int, float))
            or not (math.isfinite(beats) and beats > 0)
        ):
            raise ValueError(f"duration {i + 1} is {beats!r}; durations are positive beats")
        if note is None:
            pitches: tuple[float, ...] = ()
        elif isinstance(note, (int, float)):
            pitches = (float(note),)
        else:
            pitches = tuple(float(p) for p in note)
        steps.append(Step(pitches, float(beats), float(bpm)))
    return steps


def _check_bpm(bpm: float) -> None:
    if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"bpm is {bpm!r}; it must be a positive number")


def build_midi(
    voices: Mapping[str, Sequence[Step]],
    *,
    bpm: float | None = None,
    ticks_per_beat: int = DEFAULT_TICKS_PER_BEAT,
    velocity: int = DEFAULT_VELOCITY,
) -> mido.MidiFile:
    """A MIDI file with one track per voice; ``bpm`` defaults to the first step's."""
    if not voices or not any(voices.values()):
        raise ValueError("no notes to write: the melody is empty")
    if bpm is None:
        bpm = next(step.bpm for steps in voices.values() for step in steps)
    _check_bpm(bpm)
    ticks_per_second = ticks_per_beat * bpm / 60.0
    single = len(voices) == 1
    midi = mido.MidiFile(type=0 if single else 1, ticks_per_beat=ticks_per_beat)
    for index, (name, steps) in enumerate(voices.items()):
        track = mido.MidiTrack()
        midi.tracks.append(track)
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if index == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
        channel = _channel(index)
        # Ticks from the exact cumulative time, so rounding never accumulates drift.
        elapsed = 0.0
        last_tick = 0
        for step in steps:
            start = round(elapsed * ticks_per_second)
            elapsed += step.seconds
            end = round(elapsed * ticks_per_second)
            keys = sorted({_key(p) for p in step.pitches})
            if not keys or end <= start:
                continue
            for n, key in enumerate(keys):
                delta = start - last_tick if n == 0 else 0
                track.append(
                    mido.Message(
                        "note_on", channel=channel, note=key, velocity=velocity, time=delta
                    )
                )
            for n, key in enumerate(keys):
                delta = end - start if n == 0 else 0
                track.append(
                    mido.Message("note_off", channel=channel, note=key, velocity=0, time=delta)
                )
            last_tick = end
        final = round(elapsed * ticks_per_second)
        track.append(mido.MetaMessage("end_of_track", time=max(0, final - last_tick)))
    return midi


def _channel(index: int) -> int:
    channel = index % 15
    return channel + 1 if channel >= _DRUM_CHANNEL else channel


def _key(pitch: float) -> int:
    key = math.floor(pitch + 0.5)
    if not 0 <= key <= 127:
        raise ValueError(f"MIDI note {pitch:g} is outside the MIDI range 0-127")
    return key


def write_midi(
    path: str | Path,
    voices: Mapping[str, Sequence[Step]],
    *,
    bpm: float | None = None,
    ticks_per_beat: int = DEFAULT_TICKS_PER_BEAT,
    velocity: int = DEFAULT_VELOCITY,
) -> Path:
    """Write :func:`build_midi`'s file to ``path`` and return the path."""
    midi = build_midi(voices, bpm=bpm, ticks_per_beat=ticks_per_beat, velocity=velocity)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    midi.save(str(out))
    return out


def read_midi(path: str | Path) -> tuple[dict[str, list[Step]], float]:
    """Read back a file: steps per track (rests between notes included) and its bpm.

    Durations come back in beats of the file's tempo, exact to ``1 / ticks_per_beat``.
    """
    midi = mido.MidiFile(str(path))
    tempo = next((m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"), 500000)
    bpm = mido.tempo2bpm(tempo)
    tpb = midi.ticks_per_beat
    voices: dict[str, list[Step]] = {}
    for number, track in enumerate(midi.tracks):
        name = next((m.name for m in track if m.type == "track_name"), f"track {number + 1}")
        steps: list[Step] = []
        tick = 0
        cursor = 0
        sounding: dict[int, int] = {}
        chord_start: int | None = None
        chord: list[int] = []
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                if tick > cursor:
                    steps.append(Step((), (tick - cursor) / tpb, bpm))
                    cursor = tick
                sounding[message.note] = tick
                if chord_start is None:
                    chord_start = tick
                chord.append(message.note)
            elif message.type in ("note_off", "note_on") and message.note in sounding:
                del sounding[message.note]
                if not sounding and chord_start is not None:
                    steps.append(
                        Step(tuple(float(n) for n in chord), (tick - chord_start) / tpb, bpm)
                    )
                    cursor = tick
                    chord_start = None
                    chord = []
            elif message.type == "end_of_track" and tick > cursor:
                steps.append(Step((), (tick - cursor) / tpb, bpm))
                cursor = tick
        voices[name] = steps
    return voices, bpm
