"""Bits per note, the one yardstick for the LSTM, the n-gram and the seed network.

Every model hands over, for each event of a melody, its log-probability distribution over the
pitch vocabulary (and the duration vocabulary) given all earlier events of the same melody.
``<bos>`` (id 0) is never a prediction, so it is removed from every distribution before scoring.
Pitched notes, rests and durations are reported separately: rests are frequent and easy in
some collections, so folding them into "pitch" would flatter a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .tokens import BOS, REST

LN2 = math.log(2.0)


def log_softmax_without_bos(logits: np.ndarray) -> np.ndarray:
    """Natural-log softmax over the last axis with column 0 (``<bos>``) excluded (→ -inf)."""
    z = np.asarray(logits, dtype=np.float64).copy()
    z[..., BOS] = -np.inf
    z -= z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def renormalize_without_bos(log_probs: np.ndarray) -> np.ndarray:
    """Same as :func:`log_softmax_without_bos` for inputs that already are log-probabilities."""
    return log_softmax_without_bos(log_probs)


@dataclass
class Scores:
    """Running sums; :meth:`summary` turns them into the reported figures."""

    pitch_nats: float = 0.0
    pitch_count: int = 0
    rest_nats: float = 0.0
    rest_count: int = 0
    duration_nats: float = 0.0
    duration_count: int = 0
    top1: int = 0
    top3: int = 0

    def add_pitch(self, log_probs: np.ndarray, targets: np.ndarray) -> None:
        """``log_probs`` [T, Vp] natural logs (``<bos>`` already removed), ``targets`` [T]."""
        targets = np.asarray(targets)
        picked = log_probs[np.arange(len(targets)), targets]
        notes = targets != REST
        self.pitch_nats -= float(picked[notes].sum())
        self.pitch_count += int(notes.sum())
        self.rest_nats -= float(picked[~notes].sum())
        self.rest_count += int((~notes).sum())
        if notes.any():
            rows = log_probs[notes]
            target_lp = picked[notes][:, None]
            # rank = how many tokens are strictly more likely than the target
            rank = (rows > target_lp).sum(axis=1)
            self.top1 += int((rank < 1).sum())
            self.top3 += int((rank < 3).sum())

    def add_duration(self, log_probs: np.ndarray, targets: np.ndarray) -> None:
        targets = np.asarray(targets)
        self.duration_nats -= float(log_probs[np.arange(len(targets)), targets].sum())
        self.duration_count += len(targets)

    def merge(self, other: Scores) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, float | int | None]:
        def bits(nats: float, count: int) -> float | None:
            return round(nats / count / LN2, 4) if count else None

        def share(hits: int) -> float | None:
            return round(hits / self.pitch_count, 4) if self.pitch_count else None

        return {
            "pitch_bits": bits(self.pitch_nats, self.pitch_count),
            "pitch_top1": share(self.top1),
            "pitch_top3": share(self.top3),
            "notes": self.pitch_count,
            "rest_bits": bits(self.rest_nats, self.rest_count),
            "rests": self.rest_count,
            "pitch_and_rest_bits": bits(
                self.pitch_nats + self.rest_nats, self.pitch_count + self.rest_count
            ),
            "duration_bits": bits(self.duration_nats, self.duration_count),
            "durations": self.duration_count,
        }
