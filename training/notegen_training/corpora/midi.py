"""Standard MIDI files through mido: each track (and each channel within it) a voice.

Type 0 files put every instrument in one track, told apart by channel, so a voice is a
``(track, channel)`` pair with notes. Channel 10 (index 9) is General MIDI percussion: its
"pitches" are drum sounds, not notes, so it is skipped; so are tracks without notes (tempo
maps, lyrics). Times are converted from ticks to beats with the file's ``ticks_per_beat``;
``set_tempo`` and ``time_signature`` meta messages give the tempo and metre changes.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UnreadableFile
from .piece import Piece, monophonic, snap

DRUM_CHANNEL = 9


def read_midi(path: Path, piece_id: str) -> tuple[list[Piece], dict[str, int]]:
    """The piece of one MIDI file and counts of skipped tracks (``drum_tracks``,
    ``empty_tracks``); raises :class:`UnreadableFile` when mido cannot parse it."""
    import mido

    try:
        midi = mido.MidiFile(str(path), clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as err:
        raise UnreadableFile(f"not a readable MIDI file ({type(err).__name__}: {err})") from err
    if midi.type == 2:
        raise UnreadableFile("MIDI type 2 (independent sequences) is not supported")
    tpb = midi.ticks_per_beat or 480
    tempos: list[tuple[float, float]] = []
    signatures: list[tuple[float, tuple[int, int]]] = []
    by_voice: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
    drums = empty = 0
    for index, track in enumerate(midi.tracks):
        tick = 0
        open_notes: dict[tuple[int, int], list[int]] = {}
        channels: set[int] = set()
        drum_notes = 0
        for msg in track:
            tick += msg.time
            beat = tick / tpb
            if msg.type == "set_tempo":
                tempos.append((snap(beat), round(mido.tempo2bpm(msg.tempo), 3)))
            elif msg.type == "time_signature":
                signatures.append((snap(beat), (msg.numerator, msg.denominator)))
            elif msg.type == "note_on" and msg.velocity > 0:
                if msg.channel == DRUM_CHANNEL:
                    drum_notes += 1
                    continue
                open_notes.setdefault((msg.channel, msg.note), []).append(tick)
            elif msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
                starts = open_notes.get((msg.channel, msg.note))
                if msg.channel == DRUM_CHANNEL or not starts:
                    continue
                start = starts.pop(0)
                by_voice.setdefault((index, msg.channel), []).append(
                    (start / tpb, (tick - start) / tpb, msg.note)
                )
                channels.add(msg.channel)
        if drum_notes and not channels:
            drums += 1
        elif not channels:
            empty += 1
    voices = []
    for (track, channel), notes in sorted(by_voice.items()):
        shared = len({c for t, c in by_voice if t == track}) > 1
        name = f"t{track}c{channel}" if shared else f"t{track}"
        voice = monophonic(name, notes)
        if len(voice):
            voices.append(voice)
    if not voices:
        raise UnreadableFile("no notes outside the drum channel" if drums else "no notes")
    piece = Piece(piece_id, voices, sorted(signatures), sorted(tempos))
    return [piece], {"drum_tracks": drums, "empty_tracks": empty}
