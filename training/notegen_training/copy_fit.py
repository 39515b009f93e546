"""Fit the weights of the within-melody copy model (``notegen.model.copying``) on validation
melodies.

The network is exported first; then, on the validation split only, every event is scored by
the network alone and by the copy model, and EM finds, for each matched-suffix length, how
much to trust the copy. The weights go into the model card, where the server reads them, so
the mixture that is evaluated is the one that is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from notegen.model.copying import CopyMixture, fit_lambdas, log_softmax, sequence_marginals
from notegen.model.network import MelodyModel

from .corpus import Melody

DEFAULT_MAX_ORDER = 12
DEFAULT_BUCKETS = 9  # match lengths 1..7 get their own weight, 8 and more share one


def fit_copy_mixture(
    model_path: str | Path,
    melodies: Sequence[Melody],
    *,
    max_order: int = DEFAULT_MAX_ORDER,
    buckets: int = DEFAULT_BUCKETS,
) -> CopyMixture:
    """Maximum-likelihood mixture weights for the network at ``model_path`` on ``melodies``.

    Any mixture already in the card is ignored: the weights are fitted against the network's
    own probabilities.
    """
    model = MelodyModel.load(model_path)
    model.mixture = None
    vp, vd = len(model.pitch_vocab), len(model.duration_vocab)
    p_net, p_copy, d_net, d_copy, lengths = [], [], [], [], []
    for melody in melodies:
        if not melody.events:
            continue
        pids, dids = model.encode(melody.events)
        n = len(pids)
        pl, dl, _ = model.run(melody.events)
        lp, ld = log_softmax(pl[:n]), log_softmax(dl[:n])
        ids = model.joint_ids(pids, dids)
        match, dists = sequence_marginals(ids, vp, vd, max_order, n)
        rows = np.arange(n)
        p_net.append(np.exp(lp[rows, pids]))
        d_net.append(np.exp(ld[rows, dids]))
        p_copy.append(np.array([0.0 if q is None else q[0][pids[t]] for t, q in enumerate(dists)]))
        d_copy.append(np.array([0.0 if q is None else q[1][dids[t]] for t, q in enumerate(dists)]))
        lengths.append(match)
    length = np.concatenate(lengths)
    return CopyMixture(
        max_order=max_order,
        pitch=fit_lambdas(np.concatenate(p_net), np.concatenate(p_copy), length, buckets),
        duration=fit_lambdas(np.concatenate(d_net), np.concatenate(d_copy), length, buckets),
    )
