"""Fit the imitation expert's weights (``notegen.model.imitation``) on validation voices, into the
card.

Every event of voices heard with their other voices is scored by the served pitch distribution
*before* the expert (network + copy model) and by the expert; EM finds the expert's weight for
each matched length. Only voices with other voices count (alone the expert never speaks).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from notegen.model.conditioning import Setting
from notegen.model.imitation import ImitationMixture, fit_imitation, imitation_marginal
from notegen.model.network import MelodyModel

from .corpus import Melody
from .served_rows import served_rows

DEFAULT_MAX_ORDER = 16


def fit_imitation_mixture(
    model_path: str | Path,
    melodies: Sequence[Melody],
    settings: Sequence[Setting | None],
    *,
    max_order: int = DEFAULT_MAX_ORDER,
) -> ImitationMixture:
    """Maximum-likelihood weights on ``melodies`` heard in ``settings``."""
    model = MelodyModel.load(model_path)
    midi_of = np.array([np.nan, np.nan, *(float(x) for x in model.pitch_vocab[2:])])
    probs, experts, lengths = [], [], []
    for melody, setting in zip(melodies, settings, strict=True):
        if not melody.events or setting is None or not setting.others:
            continue
        served = served_rows(model, melody.events, setting)
        pids, p = served.pids, served.pitch
        midi = midi_of[pids]
        for t in range(len(pids)):
            length, q = imitation_marginal(midi[:t], setting, model.pitch_vocab, max_order)
            probs.append(p[t, pids[t] - 1])
            experts.append(0.0 if q is None else q[pids[t]])
            lengths.append(length)
    return ImitationMixture(max_order, fit_imitation(probs, experts, lengths))
