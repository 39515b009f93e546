"""Build the training tunes' indexes (``notegen.model.tunes``) and fit their weights on validation
data.

The indexes hold the TRAINING melodies, one per view (pitches, pitches with durations,
intervals, intervals with durations). Their weights are fitted by EM, one expert after the
other as the server mixes them, each event scored by the served pitch distribution before the
expert (network + copy model + the experts before it) and by the expert: the weights for a
melody alone on the validation melodies, those for a voice heard with other voices on
validation chorale voices read with their others. Each fit is also cross-validated (two halves
by melody or piece: weights fitted on one half score the other), so the card reports a gain its
weights never saw. After the fit the shipped indexes may take the validation melodies too
(``--index-valid``): the weights stay those fitted with the training melodies alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from notegen.model.conditioning import Setting
from notegen.model.copying import sequence_marginals
from notegen.model.network import MelodyModel
from notegen.model.tunes import (
    LENGTH_EDGES,
    MAX_ORDER,
    MELODY,
    MELODY_WINDOW,
    TuneExpert,
    TuneIndex,
    TuneMixture,
    TuneTokens,
    Weights,
    fit_tune_weights,
    last_note,
)

from .corpus import Melody
from .served_rows import served_rows

_NONE: Weights = ((0.0,) * (len(LENGTH_EDGES) + 1), (0.0,) * (len(LENGTH_EDGES) + 1))


@dataclass
class Scored:
    """Per event of the fitting data: served probability of what came before the experts,
    each expert's probability of it (0 where it said nothing) and matched length (columns in
    the mixing order), copy model matched?, and the half (by melody) it falls in."""

    served: np.ndarray
    index: np.ndarray
    lengths: np.ndarray
    copied: np.ndarray
    halves: np.ndarray

    def weights(self, keep: np.ndarray | None = None) -> list[Weights]:
        """Each expert's weights fitted on the events ``keep``, one after the other."""
        s = slice(None) if keep is None else keep
        base = self.served[s]
        found = []
        for k in range(self.index.shape[1]):
            q, n = self.index[s, k], self.lengths[s, k]
            w = fit_tune_weights(base, q, n, self.copied[s])
            found.append(w)
            base = _mixed(base, q, n, self.copied[s], w)
        return found

    def bits(self, weights: Sequence[Weights] | None) -> float:
        if weights is None:
            return _bits(self.served)
        return _bits(self.mixed(weights))

    def mixed(self, weights: Sequence[Weights]) -> np.ndarray:
        p = self.served
        for k, w in enumerate(weights):
            p = _mixed(p, self.index[:, k], self.lengths[:, k], self.copied, w)
        return p

    def held_out_bits(self) -> float:
        """Each half scored with the weights fitted on the other half."""
        out = np.zeros(len(self.served))
        for h in (0, 1):
            part = self.halves == h
            out[part] = self.mixed(self.weights(~part))[part]
        return _bits(out)


def _mixed(p: np.ndarray, q: np.ndarray, lengths: np.ndarray, copied: np.ndarray, w: Weights):
    table = np.array(w, np.float64)
    buckets = np.searchsorted(LENGTH_EDGES, lengths, side="right")
    ww = table[copied.astype(np.int64), buckets]
    return (1 - ww) * p + ww * q


@dataclass
class TuneFit:
    mixture: TuneMixture
    alone: Scored
    heard: Scored | None


def build_experts(
    model: MelodyModel, melodies: Sequence[Melody], kinds: Sequence[str]
) -> list[TuneExpert]:
    """One index per view of ``kinds`` over ``melodies`` (weights still 0)."""
    encoded = [model.encode(m.events) for m in melodies if m.events]
    experts = []
    for kind in kinds:
        tokens = TuneTokens.fit(kind, encoded)
        index = (
            None if kind == MELODY else TuneIndex.build([tokens.tokens(p, d) for p, d in encoded])
        )
        experts.append(TuneExpert(tokens, _NONE, _NONE, index))
    return experts


def reindex(model: MelodyModel, expert: TuneExpert, melodies: Sequence[Melody]) -> TuneExpert:
    """``expert`` with its index rebuilt over ``melodies`` (same view, same weights)."""
    if expert.tokens.kind == MELODY:
        return expert
    encoded = [model.encode(m.events) for m in melodies if m.events]
    index = TuneIndex.build([expert.tokens.tokens(p, d) for p, d in encoded])
    return replace(expert, index=index)


def score(
    model: MelodyModel,
    experts: Sequence[TuneExpert],
    melodies: Sequence[Melody],
    settings: Sequence[Setting | None],
    groups: Sequence[str],
) -> Scored:
    """Every event of ``melodies`` (heard in ``settings``) scored by the served distribution
    before the experts and by each expert; halves by ``groups`` (a piece's voices together)."""
    n_pitch = len(model.pitch_vocab)
    served, index, lengths, copied, halves = [], [], [], [], []
    half_of: dict[str, int] = {}
    for melody, setting, group in zip(melodies, settings, groups, strict=True):
        if not melody.events:
            continue
        half = half_of.setdefault(group, len(half_of) % 2)
        rows = served_rows(model, melody.events, setting)
        pids, dids, p = rows.pids, rows.dids, rows.pitch
        n = len(pids)
        copy_lengths = np.zeros(n, np.int64)
        if model.mixture is not None:
            copy_lengths, _ = sequence_marginals(rows.ids, 1, 1, model.mixture.max_order, n)
        last = np.array([last_note(pids, t) for t in range(n)], np.int64)
        q = np.zeros((n, len(experts)))
        found = np.zeros((n, len(experts)), np.int64)
        for k, expert in enumerate(experts):
            tokens = expert.tokens.tokens(pids, dids)
            # the melody's own view reads as far back as the server does
            window = MELODY_WINDOW if expert.tokens.kind == MELODY else MAX_ORDER
            for t in range(n):
                context = tokens[max(0, t - window) : t]
                length, dist = expert.distribution(context, int(last[t]), n_pitch)
                if dist is not None:
                    q[t, k], found[t, k] = dist[pids[t]], length
        served.append(p[np.arange(n), pids - 1])
        index.append(q)
        lengths.append(found)
        copied.append(copy_lengths > 0)
        halves.append(np.full(n, half))
    if not served:
        raise ValueError("no events to score")
    return Scored(
        np.concatenate(served),
        np.concatenate(index),
        np.concatenate(lengths),
        np.concatenate(copied),
        np.concatenate(halves),
    )


def fit_tunes(
    model_path: str | Path,
    experts: Sequence[TuneExpert],
    file: str,
    melodies: Sequence[Melody],
    voices: tuple[Sequence[Melody], Sequence[Setting | None]] | None = None,
) -> TuneFit:
    """Maximum-likelihood weights of ``experts``: alone on ``melodies`` (validation melodies),
    heard with others on ``voices`` (validation voices and their settings; without them the
    alone weights serve both)."""
    model = MelodyModel.load(model_path)
    alone = score(model, experts, melodies, [None] * len(melodies), [m.id for m in melodies])
    heard = None
    if voices is not None:
        groups = [m.id.rsplit("/", 1)[0] for m in voices[0]]
        heard = score(model, experts, voices[0], voices[1], groups)
    w_alone = alone.weights()
    w_heard = heard.weights() if heard is not None else w_alone
    fitted = tuple(
        replace(e, alone=a, heard=h) for e, a, h in zip(experts, w_alone, w_heard, strict=True)
    )
    return TuneFit(TuneMixture(fitted, file), alone, heard)


def _bits(p: np.ndarray) -> float:
    return float(-np.log2(np.maximum(p, 1e-30)).mean())
