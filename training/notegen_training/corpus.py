"""Melodies on disk: the ``.jsonl(.gz)`` format of ``../shared/data/melodies`` and the split rule.

One melody a line: ``{"id", "collection", "title", "meter", "key_sig", "notes": [[":G4", 1.0],
...]}`` with Sonic Pi symbols and durations in beats. Every reader of the project (music21,
Sonic Pi files, bare note lists) produces :class:`Melody`, so fit/evaluate take any of them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from notegen.melody import Event
from notegen.notes import note_to_midi, spell

Split = Literal["train", "valid", "test"]
SPLIT_RULE = "sha1(id) % 100: <80 train, 80-89 valid, 90-99 test"


class CorpusError(ValueError):
    """A melody file that cannot be read; the message names the file and line."""


@dataclass
class Melody:
    """A monophonic melody: events (MIDI pitch or ``None`` for rest, duration in beats)."""

    id: str
    events: list[Event]
    collection: str = ""
    title: str = ""
    meta: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.events)

    def to_json(self) -> dict[str, object]:
        notes = [[spell(e.pitch), e.duration] for e in self.events]
        return {
            "id": self.id,
            "collection": self.collection,
            "title": self.title,
            **self.meta,
            "notes": notes,
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> Melody:
        notes = obj["notes"]
        if not isinstance(notes, list):
            raise ValueError("'notes' must be a list of [symbol, beats] pairs")
        events = []
        for pair in notes:
            symbol, beats = pair
            duration = None if beats is None else float(beats)
            events.append(Event(note_to_midi(symbol), duration))
        meta = {k: v for k, v in obj.items() if k not in ("id", "collection", "title", "notes")}
        return cls(
            str(obj["id"]), events, str(obj.get("collection", "")), str(obj.get("title", "")), meta
        )


def split_of(melody_id: str) -> Split:
    """The fixed split of the data README: ``sha1(id) % 100`` → train / valid / test."""
    bucket = int(hashlib.sha1(melody_id.encode("utf-8")).hexdigest(), 16) % 100
    if bucket < 80:
        return "train"
    return "valid" if bucket < 90 else "test"


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8")


def read_jsonl(path: str | Path) -> Iterator[Melody]:
    """Melodies of a ``.jsonl`` or ``.jsonl.gz`` file; bad lines raise :class:`CorpusError`."""
    path = Path(path)
    with _open(path, "r") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield Melody.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError) as err:
                raise CorpusError(f"{path}:{number}: not a melody ({err})") from err


def write_jsonl(path: str | Path, melodies: Iterable[Melody]) -> int:
    """Write melodies (gzip if the name ends in .gz) through a temp file; returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp" + (".gz" if path.suffix == ".gz" else ""))
    count = 0
    with _open(tmp, "w") as handle:
        for melody in melodies:
            handle.write(json.dumps(melody.to_json()) + "\n")
            count += 1
    tmp.replace(path)
    return count
