"""One entry point for every kind of melody input the CLI accepts.

``.jsonl``/``.jsonl.gz`` files are melody files (the music21 extract, ``../shared/data``);
``.rb`` files and folders are Sonic Pi code, read through :mod:`notegen_training.sonicpi_corpus`
(bare note lists such as the seed's ``train_data.rb`` included).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .corpus import CorpusError, Melody, read_jsonl


def is_jsonl(path: Path) -> bool:
    return path.name.endswith((".jsonl", ".jsonl.gz"))


def load_melodies(paths: Iterable[str | Path]) -> list[Melody]:
    """All melodies of the given files/folders, in order; unreadable input raises
    :class:`CorpusError` naming the file."""
    melodies: list[Melody] = []
    rb_paths: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise CorpusError(f"{path}: no such file or folder")
        if path.is_file() and is_jsonl(path):
            melodies.extend(read_jsonl(path))
        else:
            rb_paths.append(path)
    if rb_paths:
        from .sonicpi_corpus import read_sonicpi_paths

        melodies.extend(read_sonicpi_paths(rb_paths))
    return melodies
