"""Fit the rhythm experts' weights (``notegen.model.rhythm``) on validation data, into the card.

Every event of the given voices is scored by the served duration distribution *before* the
rhythm experts (network + copy model) and by each expert (``same``, ``own``, ``cross``); EM finds
the weights of each cell (which experts speak, how long their matches are). Voices of
multi-voice pieces are read twice: with the other voices (as the server reads a piece) and
alone (a new voice, a single melody); single melodies once, alone. The test split is never
read here.

Sonic Pi pieces given for fitting are scored *held out* as well (:func:`held_out_bits`): each
piece with the weights fitted on everything but that piece, the honest figure for pieces the
weights never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from notegen.model.conditioning import Setting
from notegen.model.network import MelodyModel
from notegen.model.rhythm import (
    RhythmMixture,
    bucket,
    expert_marginals,
    fit_weights,
    mixture_bits,
    rhythm_context,
)

from .corpus import Melody
from .served_rows import served_rows

DEFAULT_MAX_ORDER = 16


def rhythm_rows(
    model: MelodyModel,
    melodies: Sequence[Melody],
    settings: Sequence[Setting | None],
    max_order: int = DEFAULT_MAX_ORDER,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: the pre-rhythm served probability of its duration, the experts'
    probabilities of it (NaN: silent) and its weight cell ``(same, own bucket, cross bucket)``."""
    size = len(model.durations)
    probs, experts, cells = [], [], []
    for melody, setting in zip(melodies, settings, strict=True):
        if not melody.events:
            continue
        served = served_rows(model, melody.events, setting)
        n, p = len(served.dids), served.duration
        context = rhythm_context(setting, model.durations)
        own = served.dids - 1
        start = setting.start if setting is not None else 0.0
        onsets = start + np.concatenate([[0.0], np.cumsum(model.durations[own])])
        for t in range(n):
            y = int(own[t])
            q_same, (own_len, q_own), (cross_len, q_cross) = expert_marginals(
                own[:t], float(onsets[t]), context, size, max_order
            )
            probs.append(p[t, y])
            experts.append([np.nan if q is None else q[y] for q in (q_same, q_own, q_cross)])
            cells.append((int(q_same is not None), bucket(own_len), bucket(cross_len)))
    return np.asarray(probs), np.asarray(experts, np.float64), np.asarray(cells, np.int64)


def fit_rhythm_mixture(
    model_path: str | Path,
    melodies: Sequence[Melody],
    settings: Sequence[Setting | None],
    *,
    max_order: int = DEFAULT_MAX_ORDER,
    groups: Sequence[str | None] | None = None,
) -> tuple[RhythmMixture, dict[str, dict[str, float]]]:
    """Maximum-likelihood weights on ``melodies`` in ``settings`` (any rhythm mixture already
    in the card is ignored: the experts are fitted against the distribution before them), and
    for each ``groups`` label (a piece; ``None``: never held out) the bits/duration of its
    melodies under weights fitted without it (:func:`held_out_bits`)."""
    model = MelodyModel.load(model_path)
    model.rhythm = None
    probs, experts, cells = rhythm_rows(model, melodies, settings, max_order)
    mixture = RhythmMixture(max_order, fit_weights(probs, experts, cells))
    held: dict[str, dict[str, float]] = {}
    if groups is not None:
        sizes = [len(m.events) for m in melodies if m.events]
        labels = [g for g, m in zip(groups, melodies, strict=True) if m.events]
        together = [
            s is not None and bool(s.others)
            for s, m in zip(settings, melodies, strict=True)
            if m.events
        ]
        held = held_out_bits(
            probs,
            experts,
            cells,
            np.repeat(np.array([g or "" for g in labels], object), sizes),
            np.repeat(np.array(together), sizes),
        )
    return mixture, held


def held_out_bits(
    probs: np.ndarray,
    experts: np.ndarray,
    cells: np.ndarray,
    groups: np.ndarray,
    together: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Leave one piece out: each labelled piece's events scored with weights fitted on every
    other event; bits/duration per piece and over all of them (``"all"``), with the other voices
    (``together``) and alone."""
    out: dict[str, dict[str, float]] = {}
    total = {"with_voices": [0.0, 0], "alone": [0.0, 0]}
    for piece in sorted({str(g) for g in groups if g}):
        held = groups == piece
        weights = fit_weights(probs[~held], experts[~held], cells[~held])
        out[piece] = {}
        for label, sel in (("with_voices", held & together), ("alone", held & ~together)):
            if not sel.any():
                continue
            bits = mixture_bits(weights, probs[sel], experts[sel], cells[sel])
            out[piece][label] = round(float(bits.mean()), 4)
            total[label][0] += float(bits.sum())
            total[label][1] += int(sel.sum())
    out["all"] = {k: round(v[0] / v[1], 4) for k, v in total.items() if v[1]}
    return out
