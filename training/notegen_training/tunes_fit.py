"""Build the training tunes' index (``notegen.tunes``) and fit its weights on validation data.

The index holds the TRAINING melodies only. Its weights are fitted by EM, each event scored by
the served pitch distribution before the index (network + copy model) and by the index (what
the training tunes played after the longest matched stretch): the weights for a melody alone
on the validation melodies, those for a voice heard with other voices on validation chorale
voices read with their others. Each fit is also cross-validated (two halves by melody or
piece: weights fitted on one half score the other), so the card reports a gain its weights
never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from notegen.conditioning import Setting
from notegen.copying import sequence_marginals
from notegen.model import MelodyModel
from notegen.tunes import TuneIndex, TuneMixture, Weights, fit_tune_weights

from .corpus import Melody
from .served_rows import served_rows


@dataclass
class Scored:
    """Per event of the fitting data: served and index probability of what came, the index's
    matched length, copy model matched?, and the half (by melody) it falls in."""

    served: np.ndarray
    index: np.ndarray
    lengths: np.ndarray
    copied: np.ndarray
    halves: np.ndarray

    def weights(self, keep: np.ndarray | None = None) -> Weights:
        s = slice(None) if keep is None else keep
        return fit_tune_weights(self.served[s], self.index[s], self.lengths[s], self.copied[s])

    def bits(self, weights: Weights | None) -> float:
        if weights is None:
            return _bits(self.served)
        return _bits(self.mixed(weights))

    def mixed(self, weights: Weights) -> np.ndarray:
        mixture = TuneMixture(weights, weights)
        w = np.array(
            [
                mixture.weight(int(n), bool(c))
                for n, c in zip(self.lengths, self.copied, strict=True)
            ]
        )
        return (1 - w) * self.served + w * self.index

    def held_out_bits(self) -> float:
        """Each half scored with the weights fitted on the other half."""
        out = np.zeros(len(self.served))
        for h in (0, 1):
            part = self.halves == h
            out[part] = self.mixed(self.weights(~part))[part]
        return _bits(out)


@dataclass
class TuneFit:
    mixture: TuneMixture
    alone: Scored
    heard: Scored | None


def build_index(model: MelodyModel, melodies: Sequence[Melody]) -> TuneIndex:
    """The index of the training melodies' pitch ids (the model's vocabulary)."""
    return TuneIndex.build([model.encode(m.events)[0] for m in melodies if m.events])


def score(
    model: MelodyModel,
    index: TuneIndex,
    melodies: Sequence[Melody],
    settings: Sequence[Setting | None],
    groups: Sequence[str],
) -> Scored:
    """Every event of ``melodies`` (heard in ``settings``) scored by the served distribution
    before the index and by the index; halves by ``groups`` (a piece's voices together)."""
    rows: list[tuple[float, float, int, bool, int]] = []
    half_of: dict[str, int] = {}
    for melody, setting, group in zip(melodies, settings, groups, strict=True):
        if not melody.events:
            continue
        half = half_of.setdefault(group, len(half_of) % 2)
        served = served_rows(model, melody.events, setting)
        pids, p = served.pids, served.pitch
        n = len(pids)
        copy_lengths = np.zeros(n, np.int64)
        if model.mixture is not None:
            copy_lengths, _ = sequence_marginals(served.ids, 1, 1, model.mixture.max_order, n)
        for t in range(n):
            length, q = index.marginal(pids[:t], len(model.pitch_vocab))
            expert = 0.0 if q is None else float(q[pids[t]])
            rows.append((float(p[t, pids[t] - 1]), expert, length, bool(copy_lengths[t]), half))
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return Scored(a[:, 0], a[:, 1], a[:, 2].astype(np.int64), a[:, 3] > 0, a[:, 4].astype(int))


def fit_tunes(
    model_path: str | Path,
    index: TuneIndex,
    file: str,
    melodies: Sequence[Melody],
    voices: tuple[Sequence[Melody], Sequence[Setting | None]] | None = None,
) -> TuneFit:
    """Maximum-likelihood weights of ``index``: alone on ``melodies`` (validation melodies),
    heard with others on ``voices`` (validation voices and their settings; without them the
    alone weights serve both)."""
    model = MelodyModel.load(model_path)
    alone = score(model, index, melodies, [None] * len(melodies), [m.id for m in melodies])
    heard = None
    if voices is not None:
        groups = [m.id.rsplit("/", 1)[0] for m in voices[0]]
        heard = score(model, index, voices[0], voices[1], groups)
    w_alone = alone.weights()
    w_heard = heard.weights() if heard is not None else w_alone
    return TuneFit(TuneMixture(w_alone, w_heard, index, file), alone, heard)


def _bits(p: np.ndarray) -> float:
    return float(-np.log2(np.maximum(p, 1e-30)).mean())
