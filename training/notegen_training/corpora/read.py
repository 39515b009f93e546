"""One file → its pieces, whatever its kind; every failure becomes :class:`UnreadableFile`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import UnreadableFile
from .midi import read_midi
from .notation import read_abc, read_musicxml
from .piece import Piece
from .sonicpi import read_sonicpi

Reader = Callable[[Path, str], tuple[list[Piece], dict[str, int]]]
READERS: dict[str, Reader] = {
    "midi": read_midi,
    "musicxml": read_musicxml,
    "abc": read_abc,
    "sonicpi": read_sonicpi,
}


def read_file(path: Path, kind: str | None, piece_id: str) -> tuple[list[Piece], dict[str, int]]:
    """Pieces of ``path`` plus counts of what was skipped inside it (drum tracks, bad tunes)."""
    if kind is None:
        raise UnreadableFile(f"unknown file type {path.suffix or '(no extension)'!r}")
    try:
        return READERS[kind](path, piece_id)
    except UnreadableFile:
        raise
    except OSError as err:
        raise UnreadableFile(f"cannot read ({err.strerror or err})") from err
    except RecursionError as err:
        raise UnreadableFile("nested too deeply to read") from err
