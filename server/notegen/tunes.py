"""What the training tunes played next: the longest stretch of the melody so far that a
training melody also played, and what followed it there (an unbounded-order n-gram).

Folk tunes come in variants: the same tune turns up in several collections, a few notes apart,
and its phrases are shared formulae. The network of the size two CPU cores can train remembers
them only loosely; the copy model (:mod:`notegen.copying`) sees only the melody being written.
This index keeps the training melodies' pitch ids themselves: a suffix array over the corpus
with each melody *reversed* (so a left context read backwards is a prefix of a suffix, and one
sorted array answers every context length), searched by binary search. A query finds the
longest suffix of the melody (``≤ max_order`` pitches and rests) that occurs in a training
melody with a note after it, and returns the pitches that followed.

It is mixed into the served pitch distribution after the copy model with a weight per matched
length, per whether the copy model matched and per whether the voice is heard with other
voices (:class:`TuneMixture`), fitted by EM on validation melodies and validation chorale
voices (``notegen-train tune-tunes``). Completions, hover, the first note of a
generated phrase and ``notegen-train evaluate`` all read it (:meth:`MelodyModel.copy_log_probs`
and :meth:`MelodyModel.served_sequence`); generation's later notes do not — a sampled melody
should not quote a training tune note for note. numpy only.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LENGTH_EDGES", "TuneIndex", "TuneMixture", "length_bucket", "suffix_array"]

MAX_ORDER = 16
LENGTH_EDGES = (1, 3, 5, 7, 9, 12, 16)
"""Matched-length buckets: none, 1–2, 3–4, 5–6, 7–8, 9–11, 12–15, 16."""
_BITS = 6
"""Bits of one token (ids 1..63; 0 separates melodies)."""
_PACKED = 4
"""The first four steps of a query need no reading of the text: a table of where each pair
of first tokens starts, then binary searches on the next two tokens packed in a uint16."""
_TINY = 1e-30


def length_bucket(length: int) -> int:
    """``np.searchsorted(LENGTH_EDGES, length, side="right")`` without making an array of
    the edges on every served distribution (as :func:`notegen.rhythm.bucket` does)."""
    return bisect.bisect_right(LENGTH_EDGES, length)


def suffix_array(text: np.ndarray, depth: int = 2 * MAX_ORDER) -> np.ndarray:
    """Start positions of the suffixes of ``text`` in sorted order (prefix doubling; ties
    beyond ``depth`` tokens are left in any order, which no query of ``≤ depth`` can see)."""
    n = len(text)
    rank = np.asarray(text, np.int64)
    order = np.argsort(rank, kind="stable")
    span = 1
    while span < depth:
        second = np.full(n, -1, np.int64)
        second[: n - span] = rank[span:]
        order = np.lexsort((second, rank))
        a, b = rank[order], second[order]
        changed = np.concatenate([[False], (a[1:] != a[:-1]) | (b[1:] != b[:-1])])
        rank = np.empty(n, np.int64)
        rank[order] = np.cumsum(changed)
        span *= 2
        if rank.max() == n - 1:
            break
    return order.astype(np.int32)


class TuneIndex:
    """The training melodies' pitch ids (``1..62``; 0 separates melodies, so no match crosses
    from one into another), each reversed, with their suffix array."""

    def __init__(self, text: np.ndarray, suffixes: np.ndarray) -> None:
        text = np.asarray(text, np.uint8)
        if len(text) != len(suffixes) or (len(text) and text[0] != 0):
            raise ValueError("a tune index needs its text (starting with 0) and suffix array")
        self.size = len(text)
        # padded so that reading ``MAX_ORDER`` tokens past any suffix stays inside
        self._text = np.concatenate([text, np.zeros(MAX_ORDER + 1, np.uint8)])
        self._suffixes = np.asarray(suffixes, np.int32)
        # the note after each suffix's match, in the melody's own order (0: the melody ended)
        before = np.empty(self.size + 1, np.uint8)
        before[0] = 0
        before[1:] = text
        self._next = before[self._suffixes]
        # in place, one scratch index: transient copies would stay in the server's RSS
        at = self._suffixes.copy()
        pair = self._text[at].astype(np.uint16)
        at += 1
        pair <<= _BITS
        pair |= self._text[at]
        # suffixes starting with the token pair c: _starts[c] .. _starts[c + 1]
        self._starts = np.searchsorted(pair, np.arange(1 + (1 << 2 * _BITS), dtype=np.uint16))
        self._starts = self._starts.astype(np.int32)
        # the next two tokens, sorted within each pair's range (the suffixes are sorted)
        key = pair  # reused: 2 bytes a suffix instead of the 4 of four tokens in an int32
        at += 1
        key[:] = self._text[at]
        at += 1
        key <<= _BITS
        key |= self._text[at]
        self._key = key

    @classmethod
    def build(cls, melodies: Sequence[np.ndarray]) -> TuneIndex:
        """The index of melodies given as pitch ids (without ``<bos>``)."""
        parts = [np.zeros(1, np.uint8)]
        for pitch in melodies:
            pitch = np.asarray(pitch, np.int64)
            if len(pitch) and (pitch.min() < 1 or pitch.max() >= 1 << _BITS):
                raise ValueError("pitch ids must lie in 1..63")
            parts += [pitch[::-1].astype(np.uint8), np.zeros(1, np.uint8)]
        text = np.concatenate(parts)
        return cls(text, suffix_array(text))

    def save(self, path: str | os.PathLike[str]) -> None:
        np.savez_compressed(Path(path), text=self._text[: self.size], suffixes=self._suffixes)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TuneIndex:
        with np.load(Path(path), allow_pickle=False) as data:
            return cls(data["text"], data["suffixes"])

    def _range(self, query: np.ndarray, length: int) -> tuple[int, int]:
        """Suffixes whose first ``length ≤ _PACKED`` tokens are ``query[:length]``."""
        first = int(query[0]) << _BITS
        if length == 1:
            return int(self._starts[first]), int(self._starts[first + (1 << _BITS)])
        pair = first | int(query[1])
        lo, hi = int(self._starts[pair]), int(self._starts[pair + 1])
        if length == 2 or hi <= lo:
            return lo, hi
        code = int(query[2]) << _BITS
        if length == 3:
            low, high = code, code + (1 << _BITS)
        else:
            low, high = code | int(query[3]), (code | int(query[3])) + 1
        # the needles in the key's own dtype: a Python int would convert the slice
        key = self._key[lo:hi]
        a = int(np.searchsorted(key, np.uint16(low), side="left"))
        b = int(np.searchsorted(key, np.uint16(high), side="left"))
        return lo + a, lo + b

    def query(self, pitch_ids: np.ndarray, max_order: int = MAX_ORDER) -> tuple[int, np.ndarray]:
        """``(length, counts)`` after the melody ``pitch_ids`` (no ``<bos>``): the longest
        matched length of its last notes and the counts over pitch ids of what followed;
        ``(0, [])`` for an empty melody or when not even its last note was ever followed."""
        # Not anchored at the melody's start: a voice that enters late, after rests, or in a
        # piece (not a folk tune) starts otherwise (anchored, the Sonic Pi voices lost 0.1
        # bits on rests; the validation melodies gained 0.013 bits more).
        query = np.asarray(pitch_ids, np.int64)[::-1][:max_order]
        spans: list[tuple[int, int]] = []
        lo, hi = 0, self.size
        for k in range(1, len(query) + 1):
            if k <= _PACKED:
                lo, hi = self._range(query, k)
            else:
                column = self._text[self._suffixes[lo:hi] + (k - 1)]
                token = np.uint8(query[k - 1])
                a = int(np.searchsorted(column, token, side="left"))
                b = int(np.searchsorted(column, token, side="right"))
                lo, hi = lo + a, lo + b
            if hi <= lo:
                break
            spans.append((lo, hi))
        for k in range(len(spans), 0, -1):
            lo, hi = spans[k - 1]
            counts = np.bincount(self._next[lo:hi], minlength=1 << _BITS)
            counts[0] = 0
            if counts.any():
                return k, counts
        return 0, np.zeros(0, np.int64)

    def marginal(self, pitch_ids: np.ndarray, n_pitch: int) -> tuple[int, np.ndarray | None]:
        """As :meth:`query`, the counts as a distribution over a pitch vocabulary of
        ``n_pitch`` ids (``None`` when nothing matched)."""
        length, counts = self.query(pitch_ids)
        if length == 0:
            return 0, None
        q = counts[:n_pitch].astype(np.float64)
        total = q.sum()
        if total <= 0:
            return 0, None
        return length, q / total


Weights = tuple[tuple[float, ...], tuple[float, ...]]
"""One weight per matched-length bucket, for copy model silent (row 0) and matched (row 1)."""


@dataclass(frozen=True)
class TuneMixture:
    """The tune index's weights per (copy model matched?, matched-length bucket): ``alone``
    for a melody heard alone (fitted on validation melodies), ``heard`` for a voice heard with
    other voices (fitted on validation chorale voices: the network hears the harmony there
    and needs the folk tunes less)."""

    alone: Weights
    heard: Weights
    index: TuneIndex | None = None
    file: str = ""

    @classmethod
    def from_card(cls, card: dict[str, Any], directory: Path) -> TuneMixture | None:
        """The mixture a card describes under ``"tune_mixture"`` with its index file (beside
        the card), or ``None``. A missing or unreadable file raises ``OSError``/``ValueError``."""
        spec = card.get("tune_mixture")
        if not spec:
            return None
        file = str(spec["file"])
        alone, heard = (_weights(spec["weights"][key]) for key in ("alone", "with_voices"))
        return cls(alone, heard, TuneIndex.load(directory / file), file)

    def weight(self, length: int, copied: bool, heard: bool = False) -> float:
        return (self.heard if heard else self.alone)[int(copied)][length_bucket(length)]

    def mix(
        self, log_p: np.ndarray, pitch_ids: np.ndarray, copied: bool, heard: bool = False
    ) -> np.ndarray:
        """Served pitch log-probs after ``pitch_ids`` with the training tunes' next pitch."""
        if self.index is None:
            return log_p
        length, q = self.index.marginal(pitch_ids, log_p.shape[-1])
        if q is None:
            return log_p
        w = self.weight(length, copied, heard)
        if w <= 0:
            return log_p
        return np.log(np.maximum((1.0 - w) * np.exp(log_p) + w * q, _TINY))

    def to_card(self) -> dict[str, Any]:
        def rows(w: Weights) -> list[list[float]]:
            return [[round(x, 6) for x in row] for row in w]

        return {
            "file": self.file,
            "max_order": MAX_ORDER,
            "length_edges": list(LENGTH_EDGES),
            "weights": {"alone": rows(self.alone), "with_voices": rows(self.heard)},
        }


def _weights(spec: Any) -> Weights:
    rows = tuple(tuple(float(x) for x in row) for row in spec)
    if len(rows) != 2 or any(len(row) != len(LENGTH_EDGES) + 1 for row in rows):
        raise ValueError("tune_mixture needs 2 rows of weights per length bucket")
    return rows[0], rows[1]


def fit_tune_weights(
    served: np.ndarray,
    expert: np.ndarray,
    lengths: np.ndarray,
    copied: np.ndarray,
    prior: float = 20.0,
    iterations: int = 100,
) -> Weights:
    """EM for the weight of each cell (copy matched? × length bucket), each cell shrunk
    toward the pooled weight with ``prior`` pseudo-events (a sparse cell keeps the pooled one).

    Inputs per scored event: the served distribution's and the index's probability of the
    pitch that came (0 where the index said nothing), the matched length, copy matched?
    """
    p = np.asarray(served, np.float64)
    q = np.nan_to_num(np.asarray(expert, np.float64))
    buckets = np.searchsorted(LENGTH_EDGES, np.asarray(lengths, np.int64), side="right")
    cells = np.asarray(copied, np.int64) * (len(LENGTH_EDGES) + 1) + buckets
    speaks = buckets > 0
    n_cells = 2 * (len(LENGTH_EDGES) + 1)
    pooled = 0.1
    for _ in range(iterations):
        r = pooled * q[speaks] / np.maximum(pooled * q[speaks] + (1 - pooled) * p[speaks], _TINY)
        pooled = float(r.mean()) if len(r) else 0.0
    w = np.full(n_cells, pooled)
    for _ in range(iterations):
        wc = w[cells]
        r = np.where(speaks, wc * q / np.maximum(wc * q + (1 - wc) * p, _TINY), 0.0)
        total = np.bincount(cells[speaks], weights=r[speaks], minlength=n_cells)
        count = np.bincount(cells[speaks], minlength=n_cells)
        w = (total + prior * pooled) / (count + prior)
    rows = w.reshape(2, -1)
    rows[:, 0] = 0.0
    return tuple(float(x) for x in rows[0]), tuple(float(x) for x in rows[1])
