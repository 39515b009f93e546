"""How often a generated melody repeats its last note: kept near the training melodies' rate.

The network's share for repeating the last note is calibrated on melodies like its training
tunes (validation melodies masked to their own notes: 20.0 % predicted, 21.1 % real), but in a
scale it never heard (octatonic, evic_2, hirajoshi ...) it puts 20-37 % of its mass outside the
scale and expects more movement: blocks there repeated 5-9 % of their notes, the training tunes
15 %. Forcing the scale's notes to carry that mass (renormalising) overshoots instead (runs of
19), because a melody that has repeated goes on repeating. So generation keeps count: every
pitched note after the first adds ``rate`` expected repeats, every repeat played takes one away,
and the repeat's log-odds move by ``gain`` per repeat the melody is behind (or ahead), within
``bound``. A melody in the network's home keys stays close to what the network wants; one in a
scale it never heard is pulled back to the rate of real tunes, a little at a time.

``max_run`` is a rule, not a fit: a note is never sounded more than that many times in a row
(issue 10's bound; 6 of 1,295 64-note windows of the validation tunes exceed it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RepeatControl:
    """The card's ``repeats`` section (see the module docstring)."""

    rate: float
    """Share of consecutive pitched notes of the training melodies that repeat a pitch."""
    gain: float = 0.5
    """Log-odds added to the repeat per repeat the melody is behind ``rate``."""
    bound: float = 3.0
    """Largest log-odds change, either way."""
    max_run: int = 9
    """A pitch never sounds more than this many times in a row (0: no limit)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"repeats rate {self.rate!r}: must be in [0, 1)")
        for name in ("gain", "bound"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"repeats {name} {value!r}: must be finite and >= 0")
        if self.max_run < 0:
            raise ValueError(f"repeats max_run {self.max_run!r}: must be >= 0")

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> RepeatControl | None:
        spec = card.get("repeats")
        if not spec:
            return None
        return cls(
            rate=float(spec["rate"]),
            gain=float(spec.get("gain", cls.gain)),
            bound=float(spec.get("bound", cls.bound)),
            max_run=int(spec.get("max_run", cls.max_run)),
        )

    def to_card(self) -> dict[str, Any]:
        return {
            "rate": round(self.rate, 6),
            "gain": self.gain,
            "bound": self.bound,
            "max_run": self.max_run,
        }

    def adjust(self, share: float, counter: RepeatCounter) -> float:
        """The repeat's probability ``share`` after the melody's count so far."""
        if self.max_run and counter.run >= self.max_run:
            return 0.0
        if not 0.0 < share < 1.0:
            return share
        behind = self.rate * counter.pairs - counter.repeats
        tilt = min(max(self.gain * behind, -self.bound), self.bound)
        if tilt == 0.0:
            return share
        odds = share / (1.0 - share) * math.exp(tilt)
        return odds / (1.0 + odds)


class RepeatCounter:
    """What a melody being generated has played so far: pitched pairs, repeats among them,
    and the length of the run its last pitch is in (rests neither break nor extend a run)."""

    __slots__ = ("last", "pairs", "repeats", "run")

    def __init__(self, before: Sequence[int] = ()) -> None:
        """``before``: the pitch ids already played (the context): only its final run counts,
        so a context that ends on nine equal notes does not get a tenth."""
        self.last = before[-1] if len(before) else -1
        self.pairs = 0
        self.repeats = 0
        self.run = 0
        for pid in reversed(before):  # (only the final run: the context can be long)
            if pid != self.last:
                break
            self.run += 1

    def played(self, pid: int) -> None:
        """Count pitch id ``pid`` (a pitched note, not a rest)."""
        if self.last >= 0:
            self.pairs += 1
            if pid == self.last:
                self.repeats += 1
                self.run += 1
            else:
                self.run = 1
        else:
            self.run = 1
        self.last = pid


def training_rate(melodies: Iterable[Sequence[float | None]]) -> tuple[float, int]:
    """(share of consecutive pitched notes with the same pitch, number of such pairs) over
    melodies given as MIDI pitches (``None`` for rests, skipped)."""
    same = pairs = 0
    for melody in melodies:
        pitched = [p for p in melody if p is not None]
        pairs += max(len(pitched) - 1, 0)
        same += sum(a == b for a, b in itertools.pairwise(pitched))
    return (same / pairs if pairs else 0.0), pairs
