"""The whole piece: its voices with their sections and timed events, its tempo, key and style.

Robin Newman's pieces (and most hand-written Sonic Pi scores) are sets of voices: note arrays
``aN[k]`` (or plain ``aN``) with durations ``bN[k]``/``bN`` and tempi ``cN``. Completion,
generation and the model's other-voice conditioning all need the same view of them, so it is
built once here::

    piece = read_piece(text)
    for voice in piece.voices:             # by voice number
        voice.number, voice.form           # 3, "indexed" | "plain"
        for section in voice.sections:     # in section order (a plain voice has one, index None)
            section.index, section.bpm     # 0, 70.0
            section.start_beat, section.start_time   # where it starts in its voice: beats, seconds
        for ev in voice.events:            # every note and rest, rests included, in order
            ev.onset, ev.time              # beats from the voice's start, seconds from it
            ev.pitch, ev.duration          # MIDI (None: rest) and beats (None: no bN value)
            ev.chord, ev.section           # all pitches of a chord, the section index
        voice.sounding_at(12.5)            # the event sounding 12.5 s into the piece, or None
        voice.register                     # (lowest, median, highest) MIDI, or None
    piece.key                              # keys.DetectedKey (tonic, scale) or None
    piece.style                            # notes.NoteStyle: spelling, separator, 1 vs 1.0
    piece.form                             # the form most voices use: "indexed" | "plain"
    piece.bpm                              # the tempo of the voices (else top-level use_bpm)
    piece.new_voice_register(near=None)    # the median pitch a new voice should take
    piece.tempo                            # voice 1's sections: [TempoSection(time, beat, bpm)]

Tempo per section: ``cN[k]`` (or ``cN=[...]``/``cN=70``), else the ``use_bpm`` in force where the
voice is played (:mod:`notegen.sonicpi.tempo`), else Sonic Pi's 60. A missing duration counts
as one beat for the onsets that follow it (``duration`` stays ``None``). Voices start together
at time 0, as Robin Newman's ``in_thread`` players do.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from dataclasses import dataclass, field
from typing import Literal

from notegen.keys import DetectedKey, detect_key
from notegen.melody import Event
from notegen.notes import NoteStyle, infer_style
from notegen.sonicpi.reader import _Doc, parse, read_doc
from notegen.sonicpi.tempo import voice_tempi
from notegen.sonicpi.types import NoteArray

DEFAULT_BPM = 60.0
REGISTER_LOW, REGISTER_HIGH = 36.0, 84.0
"""Where new voices may go: C2 to C6, the range most of Sonic Pi's synths sound well in."""
VoiceForm = Literal["indexed", "plain"]


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """One note or rest of a voice, placed in time."""

    onset: float
    """Beats from the start of the voice."""
    time: float
    """Seconds from the start of the voice (each section at its own tempo)."""
    pitch: int | float | None
    duration: float | None
    section: int | None
    chord: tuple[int | float | None, ...] | None = None
    seconds: float = 0.0
    """How long it sounds, in seconds (missing duration: one beat)."""


@dataclass(slots=True)
class Section:
    """One note array of a voice (``aN[k]``; ``index`` is ``None`` for a plain ``aN``)."""

    index: int | None
    array: NoteArray
    bpm: float
    start_beat: float = 0.0
    start_time: float = 0.0
    bpm_given: bool = True
    """The piece says this tempo (``cN`` or a ``use_bpm``); ``False``: Sonic Pi's default."""


@dataclass(frozen=True, slots=True)
class TempoSection:
    start_time: float
    start_beat: float
    bpm: float


@dataclass(slots=True)
class Voice:
    number: int
    form: VoiceForm
    sections: list[Section] = field(default_factory=list)
    events: list[TimedEvent] = field(default_factory=list)

    @property
    def register(self) -> tuple[float, float, float] | None:
        """Lowest, median and highest pitch (chords count every tone); ``None``: no notes."""
        pitches = [
            float(p)
            for ev in self.events
            for p in (ev.chord if ev.chord is not None else (ev.pitch,))
            if p is not None
        ]
        if not pitches:
            return None
        return min(pitches), float(statistics.median(pitches)), max(pitches)

    def melody(self) -> list[Event]:
        """The voice as model events (rests included), in order."""
        return [Event(ev.pitch, ev.duration) for ev in self.events]

    def sounding_at(self, time: float) -> TimedEvent | None:
        """The event that sounds ``time`` seconds after the voice starts (``None`` past it)."""
        starts = [ev.time for ev in self.events]
        k = bisect.bisect_right(starts, time) - 1
        if k < 0:
            return None
        ev = self.events[k]
        return ev if time < ev.time + ev.seconds else None


@dataclass(slots=True)
class Piece:
    voices: list[Voice]
    key: DetectedKey | None
    style: NoteStyle
    form: VoiceForm
    bpm: float
    tempo: list[TempoSection]
    arrays: list[NoteArray]
    """Every note array the reader found (voices and all other forms)."""

    def voice(self, number: int) -> Voice | None:
        return next((v for v in self.voices if v.number == number), None)

    def new_voice_register(self, near: int | None = None) -> float | None:
        """The median pitch for a new voice: voice ``near``'s own register when given, else
        the middle of the widest gap the voices' medians leave in MIDI 36–84 (above the top
        voice or below the bass when that is wider); ``None`` without voices."""
        if near is not None and (voice := self.voice(near)) is not None and voice.register:
            return voice.register[1]
        medians = sorted(v.register[1] for v in self.voices if v.register is not None)
        if not medians:
            return None
        points = [REGISTER_LOW, *(min(max(m, REGISTER_LOW), REGISTER_HIGH) for m in medians)]
        points.append(REGISTER_HIGH)
        low, high = max(itertools.pairwise(points), key=lambda gap: gap[1] - gap[0])
        return (low + high) / 2


def read_piece(text: str) -> Piece:
    """Read ``text`` as a piece; never raises on any input."""
    doc = parse(text)
    arrays = read_doc(doc)
    return piece_of(doc, arrays)


def piece_of(doc: _Doc | str, arrays: list[NoteArray]) -> Piece:
    """As :func:`read_piece`, from a reading already made (``doc`` or its text)."""
    if isinstance(doc, str):
        doc = parse(doc)
    tempi = voice_tempi(doc)
    voices = _voices(arrays, tempi.voices)
    events = [ev for v in voices for ev in v.melody()]
    if not events:
        events = [ev for a in arrays for ev in a.events()]
    forms = [v.form for v in voices]
    plain = forms.count("plain") > forms.count("indexed")
    form: VoiceForm = "plain" if plain else "indexed"
    first = voices[0] if voices else None
    given = [s.bpm for v in voices for s in v.sections[:1] if s.bpm_given]
    bpm = given[0] if given else tempi.top_level or DEFAULT_BPM
    tempo = (
        [TempoSection(s.start_time, s.start_beat, s.bpm) for s in first.sections]
        if first is not None
        else []
    )
    return Piece(
        voices=voices,
        key=detect_key(events),
        style=infer_style(doc.text),
        form=form,
        bpm=bpm,
        tempo=tempo,
        arrays=arrays,
    )


def piece_bpm(doc: _Doc | str, piece: Piece, offset: int) -> float:
    """The tempo for a voice inserted at ``offset``: the piece's voices' (``cN``, or the
    ``use_bpm`` where they play), else the ``use_bpm`` in force there, else 60."""
    given = [s.bpm for v in piece.voices for s in v.sections[:1] if s.bpm_given]
    if given:
        return given[0]
    return voice_tempi(doc, stop=offset).top_level or DEFAULT_BPM


def _voices(arrays: list[NoteArray], played_at: dict[int, float]) -> list[Voice]:
    by_number: dict[int, Voice] = {}
    seen: set[tuple[int, int | None]] = set()
    for array in arrays:
        if array.kind != "voice" or array.voice is None:
            continue
        key = (array.voice, array.section)
        if key in seen:
            continue  # a section assigned twice: the first one stands, as in the reader
        seen.add(key)
        form: VoiceForm = "plain" if array.section is None else "indexed"
        voice = by_number.setdefault(array.voice, Voice(array.voice, form))
        bpm = array.bpm if array.bpm and array.bpm > 0 else played_at.get(array.voice)
        voice.sections.append(
            Section(array.section, array, bpm or DEFAULT_BPM, bpm_given=bpm is not None)
        )
    out = sorted(by_number.values(), key=lambda v: v.number)
    for voice in out:
        voice.sections.sort(key=lambda s: -1 if s.index is None else s.index)
        _place(voice)
    return out


def _place(voice: Voice) -> None:
    """Onsets in beats and seconds, section after section."""
    beat = time = 0.0
    for section in voice.sections:
        section.start_beat, section.start_time = beat, time
        array = section.array
        for i, tok in enumerate(array.notes):
            if tok.error is not None or tok.dynamic:
                continue
            duration = array.durations.duration_for(i) if array.durations else None
            beats = duration if duration is not None and duration >= 0 else 1.0
            seconds = beats * 60.0 / section.bpm
            voice.events.append(
                TimedEvent(
                    onset=beat,
                    time=time,
                    pitch=tok.midi,
                    duration=duration,
                    section=section.index,
                    chord=tok.chord,
                    seconds=seconds,
                )
            )
            beat += beats
            time += seconds
