"""Melodies from Sonic Pi source files, read with the server's own reader (``notegen.sonicpi``).

What counts as a melody, and why:

* ``aN[k]=[...]`` voice arrays with their ``bN[k]`` durations — all sections of one voice are
  joined in section order into one melody (a piece's voice is one line of music);
* ``play_pattern_timed notes, times`` — notes with their times (a scalar time applies to all);
* ``play_pattern`` and the seed's bare note lines (``train_data.rb``) — no durations, so every
  event gets ``None`` and the tokenizer uses the card's ``default_duration`` (1 beat);
* chords (nested arrays) count as their top note, the line a listener hears as the melody
  (the reader already puts it in ``NoteToken.midi``); rests stay rests;
* runs of ``play``/``sleep`` statements (``live_loop``, ``in_thread``, ``N.times`` …): a note
  per ``play`` (a chord: its top note) lasting until the next one (notegen.sonicpi.statements);
* rings, ``.choose`` pools and other arrays are left out: they are note sets, not sequences.
Elements Sonic Pi would reject are skipped. Melodies shorter than two events are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from notegen.melody import Event

from .corpus import CorpusError, Melody

MELODY_KINDS = ("voice", "play_pattern_timed", "play_pattern", "bare", "play")
MIN_EVENTS = 2


def melodies_from_text(text: str, source: str) -> list[Melody]:
    """The melodies of one Sonic Pi document; ``source`` prefixes their ids."""
    from notegen.sonicpi import read

    voices: dict[int, list[tuple[int, list[Event]]]] = {}
    melodies: list[Melody] = []
    for index, array in enumerate(read(text)):
        if array.kind not in MELODY_KINDS:
            continue
        events = array.events()
        if array.kind == "voice" and array.voice is not None:
            voices.setdefault(array.voice, []).append((array.section or 0, events))
            continue
        if len(events) >= MIN_EVENTS:
            name = array.name or f"{array.kind}{index}"
            if array.kind == "play":  # a loop may hold several runs: one id each
                name = f"{array.name or 'play'}@{index}"
            melodies.append(Melody(f"{source}#{name}", events, collection="sonicpi"))
    for voice in sorted(voices):
        sections = sorted(voices[voice], key=lambda s: s[0])
        events = [e for _, section in sections for e in section]
        if len(events) >= MIN_EVENTS:
            melodies.append(Melody(f"{source}#a{voice}", events, collection="sonicpi"))
    return melodies


def rb_files(paths: Iterable[str | Path]) -> list[Path]:
    """``.rb`` files named directly or found (recursively, sorted) in folders."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.rb") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"{path}: no such file or folder")
    return files


def read_sonicpi_paths(paths: Sequence[str | Path]) -> list[Melody]:
    """Melodies of every Sonic Pi file in ``paths`` (files or folders)."""
    melodies: list[Melody] = []
    for file in rb_files(paths):
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise CorpusError(f"{file}: cannot read ({err.strerror or err})") from err
        melodies.extend(melodies_from_text(text, str(file)))
    return melodies
