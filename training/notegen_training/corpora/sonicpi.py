"""Sonic Pi files as pieces: the melodies :mod:`notegen_training.sonicpi_corpus` finds, each
a voice starting at beat 0 (how the voice form plays them: every ``aN`` in its own thread).
Notes without a duration (bare lists, ``play_pattern``) last one beat, the card's default."""

from __future__ import annotations

from pathlib import Path

from .errors import UnreadableFile
from .piece import Piece, Voice


def read_sonicpi(path: Path, piece_id: str) -> tuple[list[Piece], dict[str, int]]:
    from ..sonicpi_corpus import melodies_from_text

    text = path.read_text(encoding="utf-8", errors="replace")
    voices = []
    for melody in melodies_from_text(text, piece_id):
        voice = Voice(melody.id.rsplit("#", 1)[-1])
        beat = 0.0
        for event in melody.events:
            duration = event.duration if event.duration and event.duration > 0 else 1.0
            voice.onsets.append(round(beat, 6))
            voice.pitches.append(None if event.pitch is None else round(event.pitch))
            voice.durations.append(round(duration, 6))
            beat += duration
        voices.append(voice)
    if not voices:
        raise UnreadableFile("no note arrays with at least two notes")
    return [Piece(piece_id, voices)], {}
