"""Interpolated Kneser-Ney n-gram over token ids, with an optional within-melody cache.

The baseline the LSTM must beat, scored exactly like it: for every event a full distribution
over the vocabulary (``<bos>`` excluded) given the melody so far. Counting and lookup are
vectorised with numpy: an n-gram is packed into one int64 (6 bits a token, so up to order 10
for vocabularies of at most 63 tokens), sorted, and found with ``searchsorted``.

KN as in Chen & Goodman's interpolated form, one discount per order ``D = n1 / (n1 + 2 n2)``:
the highest order uses raw counts, lower orders continuation counts (how many distinct tokens
precede the n-gram), the unigram level interpolates with the uniform distribution. Contexts
before the start of a melody are ``<bos>`` (id 0), so the first notes see "start of melody".

The cache is the same recursion over the counts of the *current melody's prefix*, with the
static model's distribution as its lowest level: repeated phrases (AABB tunes) become likely
once heard, as the static model cannot know them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .tokens import BOS

BITS = 6
BASE = 1 << BITS


def _codes(tokens: np.ndarray, order: int) -> np.ndarray:
    """Packed n-grams ending at each position of a ``<bos>``-padded sequence.

    ``tokens`` holds ``order - 1`` leading zeros; the result has one code per real position.
    """
    n = len(tokens) - (order - 1)
    code = np.zeros(n, dtype=np.int64)
    for j in range(order):
        code = (code << BITS) | tokens[j : j + n]
    return code


@dataclass
class _Level:
    """Counts of one order: packed grams → count, packed contexts → total and type count."""

    grams: np.ndarray
    counts: np.ndarray
    contexts: np.ndarray
    totals: np.ndarray
    types: np.ndarray
    discount: float


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(queries.shape, dtype=values.dtype)
    idx = np.searchsorted(keys, queries)
    idx_c = np.minimum(idx, len(keys) - 1)
    return np.where(keys[idx_c] == queries, values[idx_c], 0)


def _discount(counts: np.ndarray) -> float:
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    if n1 == 0:
        return 0.5
    return n1 / (n1 + 2 * n2) if n2 else 0.9


class KneserNey:
    """Interpolated Kneser-Ney model of ``order`` over tokens ``0..vocab_size-1``."""

    def __init__(self, order: int, vocab_size: int) -> None:
        if not 1 <= order <= 10:
            raise ValueError("order must be 1..10")
        if vocab_size > BASE - 1:
            raise ValueError(f"vocabulary of {vocab_size} does not fit {BITS} bits a token")
        self.order = order
        self.vocab_size = vocab_size
        self.levels: list[_Level] = []

    def fit(self, sequences: Sequence[np.ndarray]) -> KneserNey:
        """Count n-grams of every order in the sequences (token ids without ``<bos>``)."""
        pad = self.order - 1
        padded = [np.concatenate([np.zeros(pad, np.int64), s]) for s in sequences if len(s)]
        top = np.concatenate([_codes(p, self.order) for p in padded])
        grams, counts = np.unique(top, return_counts=True)
        levels: list[_Level] = []
        for k in range(self.order, 0, -1):
            levels.append(self._level(grams, counts))
            if k == 1:
                break
            # continuation counts of the (k-1)-grams: distinct left extensions
            suffix = grams & ((1 << (BITS * (k - 1))) - 1)
            # contexts padded with <bos> are kept as raw counts: they have no left extension
            grams, counts = np.unique(suffix, return_counts=True)
        self.levels = levels[::-1]  # levels[k-1] is order k
        return self

    @staticmethod
    def _level(grams: np.ndarray, counts: np.ndarray) -> _Level:
        ctx = grams >> BITS
        contexts, start = np.unique(ctx, return_index=True)
        totals = np.add.reduceat(counts, start) if len(counts) else counts
        types = np.diff(np.append(start, len(grams)))
        return _Level(grams, counts, contexts, totals, types, _discount(counts))

    def distributions(self, sequence: np.ndarray) -> np.ndarray:
        """[len, V] probabilities of each token of ``sequence`` given its prefix (``<bos>``
        column is 0, rows sum to 1)."""
        n = len(sequence)
        pad = self.order - 1
        padded = np.concatenate([np.zeros(pad, np.int64), np.asarray(sequence, np.int64)])
        vocab = np.arange(self.vocab_size, dtype=np.int64)
        probs = np.full((n, self.vocab_size), 1.0 / (self.vocab_size - 1))
        probs[:, BOS] = 0.0
        for k, level in enumerate(self.levels, start=1):
            # context of order k at position t: the k-1 tokens before it (gram code >> BITS)
            ctx = _codes(padded[pad - k + 1 :], k) >> BITS
            total = _lookup(level.contexts, level.totals, ctx).astype(np.float64)
            types = _lookup(level.contexts, level.types, ctx)
            seen = total > 0
            if not seen.any():
                continue
            queries = (ctx[seen, None] << BITS) | vocab[None, :]
            counts = _lookup(level.grams, level.counts, queries).astype(np.float64)
            d = level.discount
            t = total[seen, None]
            mixed = np.maximum(counts - d, 0) / t + (d * types[seen, None] / t) * probs[seen]
            mixed[:, BOS] = 0.0
            probs[seen] = mixed / mixed.sum(axis=1, keepdims=True)
        return probs


def cache_distributions(
    sequence: np.ndarray, base: np.ndarray, order: int, discount: float, weight: float
) -> np.ndarray:
    """Mix the static model's rows ``base`` [len, V] with a KN-style cache of the prefix.

    For each position the cache recursion runs over orders 1..``order`` of the counts seen so
    far in this melody, bottoming out in ``base``; the result is ``(1 - weight) * base +
    weight * cache``. Sequential by nature (the counts grow), hence a plain loop.
    """
    n = base.shape[0]
    out = np.empty_like(base)
    tables: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(order)]
    seq = [int(x) for x in sequence]
    for t in range(n):
        p = base[t]
        for k in range(1, order + 1):
            if t < k - 1:
                break
            ctx = tuple(seq[t - k + 1 : t])
            seen = tables[k - 1].get(ctx)
            if not seen:
                continue
            total = sum(seen.values())
            mixed = p * (discount * len(seen) / total)
            for token, count in seen.items():
                mixed[token] += (count - discount) / total
            p = mixed
        out[t] = (1 - weight) * base[t] + weight * p
        token = seq[t]
        for k in range(1, order + 1):
            if t < k - 1:
                break
            ctx = tuple(seq[t - k + 1 : t])
            table = tables[k - 1].setdefault(ctx, {})
            table[token] = table.get(token, 0) + 1
    return out


@dataclass(frozen=True)
class CacheConfig:
    """Cache settings, tuned on the valid split only (pitch bits/note, order-9 static model):
    (order, discount, weight) = (9, .5, .4) 2.189, (9, .5, .5) 2.180, (9, .4, .45) 2.193,
    (9, .6, .45) 2.176, (6, .5, .45) 2.188, (10, .5, .45) 2.181."""

    order: int = 9
    discount: float = 0.6
    weight: float = 0.45
