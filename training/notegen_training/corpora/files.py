"""``--corpus PATH…``: files, folders (searched recursively) and glob patterns → typed sources.

The kind of a file comes from its extension. Inside folders, files of other kinds are passed
over silently (a MIDI collection holds README files and cover art); a file named explicitly
with an unknown extension is reported as skipped, so a typo never goes unnoticed. A path that
matches nothing is an error: nothing would be trained on.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from pathlib import Path

KINDS = {
    ".mid": "midi",
    ".midi": "midi",
    ".kar": "midi",
    ".xml": "musicxml",
    ".musicxml": "musicxml",
    ".mxl": "musicxml",
    ".abc": "abc",
    ".rb": "sonicpi",
}


class CorpusPathError(ValueError):
    """A corpus argument that names nothing."""


def kind_of(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


def expand(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """``(file, kind)`` for every file the arguments name, in a stable order (each argument in
    turn, folders sorted), each file once; ``kind`` is ``None`` for an explicitly named file of
    an unknown type."""
    seen: set[Path] = set()

    def once(path: Path, kind: str | None) -> Iterator[tuple[Path, str | None]]:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            yield path, kind

    for raw in paths:
        text = str(raw)
        path = Path(text).expanduser()
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and kind_of(child):
                    yield from once(child, kind_of(child))
        elif path.is_file():
            yield from once(path, kind_of(path))
        elif glob.has_magic(text):
            matches = sorted(glob.glob(str(path), recursive=True))
            if not matches:
                raise CorpusPathError(f"{text}: no file matches this pattern")
            for match in matches:
                m = Path(match)
                if m.is_file():
                    yield from once(m, kind_of(m))
                elif m.is_dir():
                    yield from expand([m])
        else:
            raise CorpusPathError(f"{text}: no such file or folder")
