"""What the training tunes played next: the longest stretches of the melody so far that a
training melody also played, and what followed them there (an unbounded-order n-gram).

Folk tunes come in variants: the same tune turns up in several collections, a few notes apart,
in another key or another rhythm, and its phrases are shared formulae. The network of the size
two CPU cores can train remembers them only loosely; the copy model (:mod:`notegen.model.copying`)
sees only the melody being written. An index keeps the training melodies' tokens themselves: a
suffix array over the corpus with each melody *reversed* (so a left context read backwards is
a prefix of a suffix, and one sorted array answers every context length), searched by binary
search. A query finds the longest suffixes of the melody (``≤ max_order`` events) that occur in
a training melody with an event after it and counts what followed.

Four views of a melody can be indexed (:data:`KINDS`): its pitch ids, its pitches with their
durations, its intervals (a tune in another key) and its intervals with durations; a fifth
view searches the melody's own intervals (a phrase repeated at another pitch, which the copy
model, matching exact notes, misses). Each is an
expert mixed into the served pitch distribution after the copy model, one after the other, with
a weight per matched length, per whether the copy model matched and per whether the voice is
heard with other voices (:class:`TuneMixture`), fitted by EM on validation melodies and
validation chorale voices (``notegen-train tune-tunes``). An expert's distribution blends what
followed its four longest matched lengths (Witten–Bell: a length whose followers were many
and alike counts more). Completions, hover, the first note of a generated phrase and
``notegen-train evaluate`` all read it (:meth:`MelodyModel.copy_log_probs` and
:meth:`MelodyModel.served_sequence`); generation's later notes do not — a sampled melody should
not quote a training tune note for note. numpy only.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "KINDS",
    "LENGTH_EDGES",
    "TuneExpert",
    "TuneIndex",
    "TuneMixture",
    "TuneTokens",
    "length_bucket",
    "suffix_array",
]

MAX_ORDER = 16
LEVELS = 4
"""Matched lengths whose followers an expert blends (the longest first)."""
LENGTH_EDGES = (1, 3, 5, 7, 9, 12, 16)
"""Matched-length buckets: none, 1–2, 3–4, 5–6, 7–8, 9–11, 12–15, 16."""
KINDS = ("pitch", "pitch_duration", "interval", "interval_duration", "melody_interval")
MELODY = "melody_interval"
"""The view with no index: the melody's own intervals (a phrase repeated a step higher — a
sequence — goes on as it went before), searched in its last :data:`MELODY_WINDOW` events."""
MELODY_WINDOW = 512
_BITS = 8
"""Bits of one token (ids 1..255; 0 separates melodies and stands for an event a view has no
token for, so no match crosses it)."""
_FEW = 48
"""A range of at most this many suffixes is searched for all longer lengths at once (a larger
one is narrowed a token at a time, by bisection)."""
_MEMO_SPAN = 4096
"""Follower counts of a span of more suffixes than this are kept (:meth:`TuneIndex.levels`):
short matches have large spans, few of them, met again and again (on the latency
benchmark's replay 259 such spans answered 5,500 lookups; counting one costs up to ~0.3 ms)."""
_MEMO_SIZE = 256
"""At most this many kept counts per index (1 kB each)."""
_COUNT_CHUNK = 32768
"""Suffixes whose followers are counted at a time. A span of 150,000 counted at once made
~1.3 MB of temporaries, faulted in page by page where the heap was just trimmed (the server
trims it when idle): ~450 faults in a fresh cursor's experts, at ~4 µs each on the test VM.
In chunks the same few blocks are freed and taken again (~150 faults), as fast when warm."""
_TINY = 1e-30
_REST = 1
"""The rest's pitch id (:data:`notegen.model.network.REST`); note ids from 2 up are semitones
apart."""
_FIRST = 2
"""Interval token of a melody's first note (no note before it)."""
_SPAN = 24
_OFFSET = 28
"""Interval token of ``i`` semitones (clipped to ±24): ``i + 28``, in 4..52."""


def length_bucket(length: int) -> int:
    """``np.searchsorted(LENGTH_EDGES, length, side="right")`` without making an array of
    the edges on every served distribution (as :func:`notegen.model.rhythm.bucket` does)."""
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


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an index file: its arrays stored in the ``.npz``, not deflated.

    Every process that loads the model (the server at its start, each child that generates or
    continues a long melody) reads it whole: the shipped file's 16.8 MB, deflated to 11.1 MB,
    loaded in 85-96 ms, stored in 9-21 ms (``np.load`` of every array, this VM). A wheel or a
    git object deflates it anyway. Files written deflated (``np.savez_compressed``) load as
    before."""
    np.savez(path, **arrays)  # type: ignore[arg-type]


class TuneIndex:
    """Training melodies as tokens (``1..255``; 0 separates melodies, so no match crosses
    from one into another), each reversed, with their suffix array."""

    def __init__(self, text: np.ndarray, suffixes: np.ndarray) -> None:
        text = np.asarray(text, np.uint8)
        if len(text) != len(suffixes) or (len(text) and text[0] != 0):
            raise ValueError("a tune index needs its text (starting with 0) and suffix array")
        self.size = len(text)
        # padded so that reading ``MAX_ORDER`` tokens past any suffix stays inside
        self._text = np.concatenate([text, np.zeros(MAX_ORDER + 1, np.uint8)])
        # Each suffix's position in two arrays, its low 16 bits and the rest: 3 bytes a suffix
        # where int32 took 4 (the shipped indexes' 842,000 positions need 20 bits; 3.4 MB
        # less for their four indexes), read back exactly (:meth:`_positions`).
        positions = np.asarray(suffixes)
        self._low = (positions & 0xFFFF).astype(np.uint16)
        self._high = (positions >> 16).astype(np.uint8 if self.size < 1 << 24 else np.uint32)
        del positions
        # element reads for the bisections (a Python int each, no numpy scalar)
        self._text_items = self._text.data
        self._low_items, self._high_items = self._low.data, self._high.data
        # suffixes starting with the token pair c: _starts[c] .. _starts[c + 1], made with
        # one scratch index updated in place (transient copies would stay in the server's RSS)
        at = self._positions(0, self.size)
        pair = self._text[at].astype(np.uint16)
        at += 1
        pair <<= _BITS
        pair |= self._text[at]
        del at
        self._starts = np.empty(1 + (1 << 2 * _BITS), np.int32)
        self._starts[:-1] = np.searchsorted(pair, np.arange(1 << 2 * _BITS, dtype=np.uint16))
        self._starts[-1] = self.size
        del pair
        self._memo: dict[tuple[int, int], np.ndarray] = {}
        self._count_short_spans()

    @classmethod
    def build(cls, melodies: Sequence[np.ndarray]) -> TuneIndex:
        """The index of melodies given as tokens (pitch ids, or :class:`TuneTokens`)."""
        parts = [np.zeros(1, np.uint8)]
        for tokens in melodies:
            tokens = np.asarray(tokens, np.int64)
            if len(tokens) and (tokens.min() < 0 or tokens.max() >= 1 << _BITS):
                raise ValueError("tokens must lie in 0..255")
            parts += [tokens[::-1].astype(np.uint8), np.zeros(1, np.uint8)]
        text = np.concatenate(parts)
        return cls(text, suffix_array(text))

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {
            prefix + "text": self._text[: self.size],
            prefix + "suffixes": self._positions(0, self.size),
        }

    def _positions(self, lo: int, hi: int) -> np.ndarray:
        """Where the suffixes ``lo..hi`` start in the text (int32, or int64 past 2**31)."""
        wide = np.int32 if self.size < 1 << 31 else np.int64
        at = self._high[lo:hi].astype(wide)
        at <<= 16
        at |= self._low[lo:hi]
        return at

    def save(self, path: str | os.PathLike[str]) -> None:
        save_arrays(Path(path), self.arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TuneIndex:
        with np.load(Path(path), allow_pickle=False) as data:
            return cls(data["text"], data["suffixes"])

    def _pair_range(self, query: np.ndarray, length: int) -> tuple[int, int]:
        """Suffixes whose first ``length`` (1 or 2) tokens are ``query[:length]``."""
        first = int(query[0]) << _BITS
        if length == 1:
            return int(self._starts[first]), int(self._starts[first + (1 << _BITS)])
        pair = first | int(query[1])
        return int(self._starts[pair]), int(self._starts[pair + 1])

    def _narrow(self, lo: int, hi: int, at: int, token: int) -> tuple[int, int]:
        """The run of suffixes ``lo..hi`` (which agree on their first ``at`` tokens) whose
        token ``at`` is ``token``: two bisections reading one token per step, where a
        sorted key of the next tokens would hold 2 bytes a suffix (6.7 MB for the shipped
        index) and a column of the range would read every suffix of it."""
        text, low, high = self._text_items, self._low_items, self._high_items

        def token_at(i: int) -> int:
            return text[(high[i] << 16 | low[i]) + at]  # type: ignore[no-any-return]

        first = bisect.bisect_left(range(hi), token, lo, hi, key=token_at)
        return first, bisect.bisect_right(range(hi), token, first, hi, key=token_at)

    def levels(
        self, tokens: np.ndarray, count: int = LEVELS, max_order: int = MAX_ORDER
    ) -> list[tuple[int, np.ndarray]]:
        """``(length, counts)`` for the ``count`` longest matched lengths of the melody's last
        tokens that a training melody followed with a token, longest first: the counts over
        tokens of what followed. Empty for an empty melody or when nothing was followed."""
        # Not anchored at the melody's start: a voice that enters late, after rests, or in a
        # piece (not a folk tune) starts otherwise (anchored, the Sonic Pi voices lost 0.1
        # bits on rests; the validation melodies gained 0.013 bits more).
        query = np.asarray(tokens, np.int64)[::-1][:max_order]
        gaps = np.flatnonzero(query == 0)  # an event the view has no token for: no match
        if len(gaps):
            query = query[: gaps[0]]
        spans: list[tuple[int, int]] = []
        lo, hi = 0, self.size
        for k in range(1, len(query) + 1):
            if k <= 2:
                lo, hi = self._pair_range(query, k)
            elif hi - lo <= _FEW:
                spans += self._rest(query, k, lo, hi)
                break
            else:
                lo, hi = self._narrow(lo, hi, k - 1, int(query[k - 1]))
            if hi <= lo:
                break
            spans.append((lo, hi))
        found: list[tuple[int, np.ndarray]] = []
        for k in range(len(spans), 0, -1):
            counts = self._followers(*spans[k - 1])
            if counts.any():
                found.append((k, counts))
                if len(found) == count:
                    break
        return found

    def _followers(self, lo: int, hi: int) -> np.ndarray:
        """Counts over tokens of what followed the suffixes ``lo..hi`` (read-only when kept)."""
        big = hi - lo > _MEMO_SPAN
        if big and (kept := self._memo.get((lo, hi))) is not None:
            return kept
        # the token after each match, in the melody's own order, is the one before the
        # suffix (0: the melody ended; the padding's 0 before the first suffix)
        counts = np.zeros(1 << _BITS, np.int64)
        for start in range(lo, hi, _COUNT_CHUNK):
            at = self._positions(start, min(hi, start + _COUNT_CHUNK))
            at -= 1
            counts += np.bincount(self._text[at], minlength=1 << _BITS)
        counts[0] = 0
        if big and len(self._memo) < _MEMO_SIZE:  # a plain dict: safe from any thread
            counts = counts.astype(np.int32)  # (at most one per suffix: 1 kB, not 2)
            counts.setflags(write=False)
            self._memo[(lo, hi)] = counts
        return counts

    def _count_short_spans(self) -> None:
        """Keep the follower counts of every big span of one token or a pair now.

        Every short match reads one (a melody of few repeats matches only 1-4 tokens), and
        counting them is most of what a fresh cursor's experts cost: a gather at ~100,000
        scattered positions each, ~1 ms warm and ~4 ms with cold caches (the server's first
        completion after a pause). The shipped indexes have 59-81 such spans each (~0.3 MB
        kept for the four); counting them adds ~25 ms to the model's load."""
        starts = self._starts
        # (token 0 ends a melody: a query stops before it, so no match reads its spans)
        ranges = [
            (int(starts[t << _BITS]), int(starts[(t + 1) << _BITS])) for t in range(1, 1 << _BITS)
        ]
        pairs = np.flatnonzero(np.diff(starts) > _MEMO_SPAN)
        pairs = pairs[(pairs >> _BITS != 0) & (pairs & ((1 << _BITS) - 1) != 0)]
        ranges += [(int(starts[p]), int(starts[p + 1])) for p in pairs]
        for lo, hi in ranges:
            if hi - lo > _MEMO_SPAN:
                self._followers(lo, hi)

    def _rest(self, query: np.ndarray, k: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """The spans of lengths ``k..`` inside a few suffixes at once: how far each goes on
        agreeing with the query (the suffixes are sorted, so each length's span is a run)."""
        block = self._text[self._positions(lo, hi)[:, None] + np.arange(k - 1, len(query))]
        agree = np.cumprod(block == query[k - 1 :], axis=1).sum(axis=1)
        spans = []
        for extra in range(1, int(agree.max(initial=0)) + 1):
            inside = np.flatnonzero(agree >= extra)
            spans.append((lo + int(inside[0]), lo + int(inside[-1]) + 1))
        return spans

    def query(self, tokens: np.ndarray, max_order: int = MAX_ORDER) -> tuple[int, np.ndarray]:
        """``(length, counts)`` of the longest matched length (:meth:`levels`); ``(0, [])``
        for an empty melody or when not even its last token was ever followed."""
        found = self.levels(tokens, 1, max_order)
        return found[0] if found else (0, np.zeros(0, np.int64))

    def marginal(self, pitch_ids: np.ndarray, n_pitch: int) -> tuple[int, np.ndarray | None]:
        """As :meth:`query` on pitch ids, the counts as a distribution over a pitch vocabulary
        of ``n_pitch`` ids (``None`` when nothing matched)."""
        length, counts = self.query(pitch_ids)
        if length == 0:
            return 0, None
        q = counts[:n_pitch].astype(np.float64)
        total = q.sum()
        if total <= 0:
            return 0, None
        return length, q / total


def blend(found: Sequence[tuple[int, np.ndarray]]) -> np.ndarray | None:
    """The followers of several matched lengths as one distribution over tokens, from the
    shortest up: ``p = (n · counts / n + t · p_shorter) / (n + t)`` with ``n`` followers of
    ``t`` kinds at the longer length (Witten–Bell: a long match seen once or with followers
    all different keeps more of the shorter lengths' distribution)."""
    if not found:
        return None
    shortest = found[-1][1]
    # a longer match's followers are some of a shorter one's: work on those of the shortest
    support = np.flatnonzero(shortest)
    p: np.ndarray | None = None
    for _, counts in reversed(found):
        c = counts[support].astype(np.float64)
        n = float(c.sum())
        if p is None:
            p = c / n
            continue
        t = float(np.count_nonzero(c))
        p = (c + t * p) / (n + t)
    out = np.zeros(len(shortest))
    out[support] = p
    return out


def own_levels(tokens: np.ndarray, max_order: int = MAX_ORDER) -> list[tuple[int, np.ndarray]]:
    """``[(length, counts)]`` of the longest earlier stretch of ``tokens`` itself (``≤
    max_order``) that agrees with its last tokens and has a token after it, and the counts of
    what followed each such stretch; empty when even the last token never came before."""
    z = np.asarray(tokens, np.int64)
    n = len(z)
    if n < 2:
        return []
    ends = np.arange(1, n)  # z[:j] against z[:n]; what followed: z[j]
    back = np.arange(min(max_order, n - 1))[:, None]
    at = ends[None, :] - 1 - back
    same = (at >= 0) & (z[np.maximum(at, 0)] == z[n - 1 - back]) & (z[n - 1 - back] != 0)
    agree = np.cumprod(same, axis=0).sum(axis=0)
    length = int(agree.max())
    if length == 0:
        return []
    counts = np.bincount(z[ends[agree == length]], minlength=1 << _BITS)
    counts[0] = 0
    return [(length, counts)] if counts.any() else []


@dataclass(frozen=True, eq=False)
class TuneTokens:
    """How one view (:data:`KINDS`) turns a melody's pitch and duration ids into an index's
    tokens, and the tokens that followed back into pitch ids. The ``*_duration`` views number
    the (pitch or interval, duration id) pairs the training melodies played (``pairs``, token
    ``i + 1`` is ``pairs[i]``); a pair they never played has no token (0)."""

    kind: str
    pairs: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown tune index kind {self.kind!r}")
        if self.kind.endswith("_duration"):
            pairs = np.asarray(self.pairs, np.int64).reshape(-1, 2)
            if len(pairs) >= 1 << _BITS or (len(pairs) and pairs.min() < 0):
                raise ValueError(f"{self.kind}: at most 255 (token, duration id) pairs")
            d = int(pairs[:, 1].max()) + 1 if len(pairs) else 1
            table = np.zeros((64, d), np.uint8)
            table[pairs[:, 0], pairs[:, 1]] = np.arange(1, len(pairs) + 1)
            # the pitch or interval token of each token (0 for the separator)
            head = np.zeros(1 << _BITS, np.int64)
            head[1 : len(pairs) + 1] = pairs[:, 0]
            object.__setattr__(self, "_table", table)
            object.__setattr__(self, "_head", head)

    @property
    def intervals(self) -> bool:
        return "interval" in self.kind

    def base(self, pitch_ids: np.ndarray, before: int = 0) -> np.ndarray:
        """Pitch ids, or interval tokens (rest 1, first note 2, ``i`` semitones ``i + 28``)
        where ``before`` is the pitch id of the note before ``pitch_ids`` (0: none)."""
        pids = np.asarray(pitch_ids, np.int64)
        if not self.intervals:
            return pids
        notes = pids > _REST
        # the pitch id of the last note before each event (0: none yet)
        at = np.where(notes, np.arange(len(pids)), -1)
        last = np.maximum.accumulate(np.concatenate([[-1], at[:-1]])) if len(pids) else at
        prev = np.where(last >= 0, pids[np.maximum(last, 0)], before)
        out = np.clip(pids - prev, -_SPAN, _SPAN) + _OFFSET
        out[prev == 0] = _FIRST
        out[~notes] = _REST
        return out

    def tokens(
        self,
        pitch_ids: np.ndarray,
        dur_ids: np.ndarray,
        before: int = 0,
        base: np.ndarray | None = None,
    ) -> np.ndarray:
        """The tokens of events with these ids (``before``: as :meth:`base`; ``base``: what
        :meth:`base` gives, when known)."""
        base = self.base(pitch_ids, before) if base is None else base
        if not self.kind.endswith("_duration"):
            return base
        table: np.ndarray = self._table  # type: ignore[attr-defined]
        d = np.asarray(dur_ids, np.int64)
        inside = (d >= 0) & (d < table.shape[1]) & (base < 64)
        out = np.zeros(len(base), np.int64)
        out[inside] = table[base[inside], d[inside]]
        return out

    def tail(self, pitch_ids: np.ndarray, dur_ids: np.ndarray, max_order: int) -> np.ndarray:
        """The tokens of the last ``max_order`` events only (a long melody costs no more)."""
        pids = np.asarray(pitch_ids, np.int64)
        start = max(0, len(pids) - max_order)
        return self.tokens(pids[start:], np.asarray(dur_ids)[start:], last_note(pids, start))

    def to_pitch(self, p: np.ndarray, last: int, n_pitch: int) -> np.ndarray | None:
        """A distribution over tokens as one over ``n_pitch`` pitch ids after a melody whose
        last note has pitch id ``last`` (0: none); ``None`` when no pitch is left."""
        if self.kind.endswith("_duration"):
            head: np.ndarray = self._head  # type: ignore[attr-defined]
            p = np.bincount(head, weights=p, minlength=64)
        if not self.intervals:
            q = np.zeros(n_pitch)
            q[1:n_pitch] = p[1:n_pitch]
        else:
            q = np.zeros(n_pitch)
            q[_REST] = p[_REST]
            if last > _REST:
                steps = np.arange(-_SPAN, _SPAN + 1)
                target = last + steps
                ok = (target > _REST) & (target < n_pitch)
                q[target[ok]] = p[steps[ok] + _OFFSET]
        total = q.sum()
        return q / total if total > 0 else None

    @classmethod
    def fit(cls, kind: str, melodies: Sequence[tuple[np.ndarray, np.ndarray]]) -> TuneTokens:
        """The view of ``kind`` for training melodies given as (pitch ids, duration ids): the
        ``*_duration`` views keep the 255 most played pairs."""
        if not kind.endswith("_duration"):
            return cls(kind)
        plain = cls(kind.removesuffix("_duration"))
        codes = np.concatenate(
            [np.zeros(0, np.int64)]
            + [plain.base(p) * 4096 + np.asarray(d, np.int64) for p, d in melodies]
        )
        values, counts = np.unique(codes, return_counts=True)
        keep = values[np.argsort(-counts, kind="stable")[: (1 << _BITS) - 1]]
        keep.sort()
        return cls(kind, np.stack([keep // 4096, keep % 4096], axis=1))


def last_note(pitch_ids: np.ndarray, end: int) -> int:
    """The pitch id of the last note among ``pitch_ids[:end]`` (0: none)."""
    pids = np.asarray(pitch_ids, np.int64)
    stop = end
    while stop > 0:
        start = max(0, stop - 64)
        notes = np.flatnonzero(pids[start:stop] > _REST)
        if len(notes):
            return int(pids[start + notes[-1]])
        stop = start
    return 0


Weights = tuple[tuple[float, ...], tuple[float, ...]]
"""One weight per matched-length bucket, for copy model silent (row 0) and matched (row 1)."""


@dataclass(frozen=True)
class TuneExpert:
    """One view's index with its weights per (copy model matched?, matched-length bucket):
    ``alone`` for a melody heard alone (fitted on validation melodies), ``heard`` for a voice
    heard with other voices (fitted on validation chorale voices: the network hears the
    harmony there and needs the folk tunes less)."""

    tokens: TuneTokens
    alone: Weights
    heard: Weights
    index: TuneIndex | None = None

    def weight(self, length: int, copied: bool, heard: bool = False) -> float:
        return (self.heard if heard else self.alone)[int(copied)][length_bucket(length)]

    def distribution(
        self, tokens: np.ndarray, last: int, n_pitch: int
    ) -> tuple[int, np.ndarray | None]:
        """``(longest matched length, distribution over pitch ids)`` after a melody with
        these tokens (``last``: its last note's pitch id); ``(0, None)`` when nothing matched."""
        if self.tokens.kind == MELODY:
            found = own_levels(tokens)
        elif self.index is None:
            return 0, None
        else:
            found = self.index.levels(tokens)
        if not found:
            return 0, None
        p = blend(found)
        q = None if p is None else self.tokens.to_pitch(p, last, n_pitch)
        return (found[0][0], q) if q is not None else (0, None)


@dataclass(frozen=True)
class TuneMixture:
    """The training tunes' experts, mixed into the served pitches in this order."""

    experts: tuple[TuneExpert, ...]
    file: str = ""

    @property
    def index(self) -> TuneIndex | None:
        """The first expert's index (``None`` when the experts carry none)."""
        return self.experts[0].index if self.experts else None

    @classmethod
    def from_card(cls, card: dict[str, Any], directory: Path) -> TuneMixture | None:
        """The mixture a card describes under ``"tune_mixture"`` with its index file (beside
        the card), or ``None``. A missing or unreadable file raises ``OSError``/``ValueError``."""
        spec = card.get("tune_mixture")
        if not spec:
            return None
        file = str(spec["file"])
        # cards before the views: one pitch index, its arrays unprefixed
        specs = spec.get("experts") or [{"kind": "pitch", "weights": spec["weights"]}]
        experts = []
        with np.load(directory / file, allow_pickle=False) as data:
            for one in specs:
                kind = str(one["kind"])
                prefix = "" if "experts" not in spec else kind + "."
                pairs = data[prefix + "pairs"] if kind.endswith("_duration") else None
                index = None
                if kind != MELODY:
                    index = TuneIndex(data[prefix + "text"], data[prefix + "suffixes"])
                alone, heard = (_weights(one["weights"][key]) for key in ("alone", "with_voices"))
                experts.append(TuneExpert(TuneTokens(kind, pairs), alone, heard, index))
        return cls(tuple(experts), file)

    def save(self, path: str | os.PathLike[str]) -> None:
        """The experts' indexes (and pairs) in one ``.npz``, prefixed by their kind."""
        arrays: dict[str, np.ndarray] = {}
        for expert in self.experts:
            if expert.tokens.kind == MELODY:
                continue  # nothing stored: the melody is its own index
            if expert.index is None:
                raise ValueError("a tune mixture without its indexes cannot be saved")
            arrays.update(expert.index.arrays(expert.tokens.kind + "."))
            if expert.tokens.pairs is not None:
                arrays[expert.tokens.kind + ".pairs"] = np.asarray(expert.tokens.pairs, np.int64)
        save_arrays(Path(path), arrays)

    def mix(
        self,
        log_p: np.ndarray,
        pitch_ids: np.ndarray,
        dur_ids: np.ndarray,
        copied: bool,
        heard: bool = False,
    ) -> np.ndarray:
        """Served pitch log-probs after the events ``pitch_ids``/``dur_ids`` with each
        expert's next pitch mixed in."""
        return mix_opinions(
            log_p, self.opinions(pitch_ids, dur_ids, copied, heard, log_p.shape[-1])
        )

    def opinions(
        self,
        pitch_ids: np.ndarray,
        dur_ids: np.ndarray,
        copied: bool,
        heard: bool,
        n_pitch: int,
    ) -> list[tuple[float, np.ndarray]]:
        """Each expert's weight and next-pitch distribution after these events, in the order
        :func:`mix_opinions` folds them in (those that say nothing left out).

        Apart from the mixing, which needs the network's distribution: they read the events
        only, so a server makes them while the network reads the same events."""
        if not self.experts:
            return []
        pitch_ids = np.asarray(pitch_ids, np.int64)
        last = last_note(pitch_ids, len(pitch_ids))
        # only the last MAX_ORDER events are read (as TuneTokens.tail, once for all views)
        start = max(0, len(pitch_ids) - MAX_ORDER)
        before = last_note(pitch_ids, start)
        pids, dids = pitch_ids[start:], np.asarray(dur_ids)[start:]
        bases: dict[bool, np.ndarray] = {}
        said: list[tuple[float, np.ndarray]] = []
        for expert in self.experts:
            view = expert.tokens
            if view.kind == MELODY:
                tokens = view.tail(pitch_ids, dur_ids, MELODY_WINDOW)
            else:
                if view.intervals not in bases:
                    bases[view.intervals] = view.base(pids, before)
                tokens = view.tokens(pids, dids, before, bases[view.intervals])
            length, q = expert.distribution(tokens, last, n_pitch)
            if q is None:
                continue
            w = expert.weight(length, copied, heard)
            if w <= 0:
                continue
            said.append((w, q))
        return said

    def to_card(self) -> dict[str, Any]:
        def rows(w: Weights) -> list[list[float]]:
            return [[round(x, 6) for x in row] for row in w]

        return {
            "file": self.file,
            "max_order": MAX_ORDER,
            "levels": LEVELS,
            "length_edges": list(LENGTH_EDGES),
            "experts": [
                {
                    "kind": e.tokens.kind,
                    "weights": {"alone": rows(e.alone), "with_voices": rows(e.heard)},
                }
                for e in self.experts
            ],
        }


def mix_opinions(log_p: np.ndarray, said: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """``log_p`` with the experts' :meth:`TuneMixture.opinions` mixed in, one after another."""
    if not said:
        return log_p
    p = np.exp(log_p)
    for w, q in said:
        p = (1.0 - w) * p + w * q
    return np.log(np.maximum(p, _TINY))


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
