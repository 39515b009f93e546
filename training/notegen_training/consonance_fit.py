"""Fit the consonance weight generation samples with (``notegen.model.consonance``) on validation
voices.

Every pitched event of a voice heard with its other voices, at an onset where another voice
sounds, is read with the distribution generation samples from (the network and the damped copy
model, :meth:`notegen.model.copying.CopyMixture.for_sampling`): its mass on the notes consonant
there (among notes: a rest is not a clash) against whether the voice's real note was consonant. The
maximum-likelihood tilt makes the first as large as the second on average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from notegen.model.conditioning import Setting, sounding
from notegen.model.consonance import ConsonanceBias, consonant_notes, fit_weight
from notegen.model.copying import log_softmax, mix_sequence
from notegen.model.network import MelodyModel

from .corpus import Melody


@dataclass(frozen=True)
class ConsonanceFit:
    bias: ConsonanceBias
    onsets: int
    """Notes read at onsets where another voice sounds."""
    real: float
    """Share of them consonant."""
    expected: float
    """Mean consonant mass of the sampled distribution there, before the weight."""


def fit_consonance(
    model_path: str | Path, melodies: Sequence[Melody], settings: Sequence[Setting | None]
) -> ConsonanceFit:
    """The maximum-likelihood weight on ``melodies`` heard in ``settings``."""
    model = MelodyModel.load(model_path)
    midi = np.array([np.nan, np.nan, *(float(x) for x in model.pitch_vocab[2:])])
    notes = np.isfinite(midi)
    expected: list[float] = []
    real: list[bool] = []
    for melody, setting in zip(melodies, settings, strict=True):
        if not melody.events or setting is None or not setting.others:
            continue
        pids, dids = model.encode(melody.events)
        pl, dl, _ = model.run(melody.events, setting=setting)
        lp, ld = log_softmax(pl), log_softmax(dl)
        if model.sampling_mixture is not None:
            lp, _ = mix_sequence(model.sampling_mixture, lp, ld, model.joint_ids(pids, dids))
        beats = model.durations[np.clip(dids - 1, 0, None)]
        onsets = setting.start + np.concatenate([[0.0], np.cumsum(beats)])[: len(pids)]
        heard = sounding(setting.others, onsets)
        for t, y in enumerate(pids.tolist()):
            if not notes[y] or not np.isfinite(heard[t]).any():
                continue
            ok = consonant_notes(midi, heard[t])
            p = np.exp(lp[t]) * notes
            expected.append(float((p * ok).sum() / p.sum()))
            real.append(bool(ok[y]))
    if not real:
        return ConsonanceFit(ConsonanceBias(0.0), 0, 0.0, 0.0)
    weight = fit_weight(expected, real)
    return ConsonanceFit(
        ConsonanceBias(weight), len(real), float(np.mean(real)), float(np.mean(expected))
    )
