"""The served distribution of every event of a melody *before* the piece's experts.

The rhythm, imitation and training-tunes fits all weigh an expert against the same thing: the
network's output mixed with the copy model, renormalised without ``<bos>``, for each event of
a melody heard in its setting. One function gives it, so the three fits score their experts
against the very distribution the server serves under them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from notegen.melody import Event
from notegen.model.conditioning import Setting
from notegen.model.copying import log_softmax, mix_sequence
from notegen.model.network import MelodyModel


@dataclass(frozen=True)
class ServedRows:
    """Per event ``t`` of a melody of ``n`` events (ids as the model encodes them)."""

    pids: np.ndarray
    dids: np.ndarray
    ids: np.ndarray
    """Joint pitch × duration ids, what the copy model matches."""
    pitch: np.ndarray
    """``[n, pitch ids 1..]``: P(pitch id ``j + 1`` at event ``t`` | the events before)."""
    duration: np.ndarray
    """``[n, duration ids 1..]``: the same for durations."""


def served_rows(model: MelodyModel, events: Sequence[Event], setting: Setting | None) -> ServedRows:
    """Network + copy model, as served, for every event of ``events`` heard in ``setting``."""
    pids, dids = model.encode(events)
    n = len(pids)
    pitch_logits, duration_logits, _ = model.run(events, setting=setting)
    lp, ld = log_softmax(pitch_logits), log_softmax(duration_logits)
    ids = model.joint_ids(pids, dids)
    if model.mixture is not None:
        lp, ld = mix_sequence(model.mixture, lp, ld, ids)
    return ServedRows(pids, dids, ids, _without_bos(lp[:n]), _without_bos(ld[:n]))


def _without_bos(log_probs: np.ndarray) -> np.ndarray:
    body = log_probs[:, 1:]
    return np.exp(body - np.log(np.exp(body).sum(axis=1, keepdims=True)))
