"""The event every stage passes along: one note (or rest) and how long it lasts.

Reader → training/model → sampler → writer all speak ``Event``; keeping it one tiny frozen
dataclass stops each stage from inventing its own tuple layout.
"""

from __future__ import annotations

from dataclasses import dataclass


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
