"""The event every stage passes along: one note (or rest) and how long it lasts.

Reader → training/model → sampler → writer all speak ``Event``; keeping it one tiny frozen
dataclass stops each stage from inventing its own tuple layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """A melody step: ``pitch`` is a MIDI number or ``None`` for a rest; ``duration`` in beats.

    ``duration`` is ``None`` where the source gives none (a bare note list, a ``play_pattern``).
    """

    pitch: int | float | None
    duration: float | None = None

    @property
    def is_rest(self) -> bool:
        return self.pitch is None


SHARED_KINDS = 4_096
"""Distinct events :func:`shared` keeps: a piece has a few dozen. Past this many (a document
of random durations) it starts again, so that the next document's events are shared too."""
_shared: dict[tuple[Any, ...], Event] = {}


def shared(pitch: int | float | None, duration: float | None = None) -> Event:
    """``Event(pitch, duration)``, the same object each time for the same values (of the
    same types: ``60`` and ``60.0`` are written apart). Events are immutable, so a reading
    may hold one object per kind instead of one per note: a 160,000-note ``play`` document's
    held 320,000 with 10 distinct values (46 MB as sent from the child process that reads
    it, ~1 s to unpickle; measured, benchmarks/README.md)."""
    key = (pitch, type(pitch), duration, type(duration))
    found = _shared.get(key)
    if found is None:
        found = Event(pitch, duration)
        if len(_shared) >= SHARED_KINDS:
            _shared.clear()
        _shared[key] = found
    return found
