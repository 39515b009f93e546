"""Durations that hear the piece: three rhythm experts mixed into the served duration distribution.

The network predicts a duration from the melody and the harmony it hears, but a piece's rhythm
lives mostly in the piece itself: in a chorale or a dance the voices move together (the note
that starts with this one in another voice very often lasts as long), a fugue's subject comes
back in another voice with its rhythm, and a voice repeats its own rhythms with other pitches.
Measured on the Sonic Pi pieces in the voice form, the served distribution (network + the
within-melody copy model of :mod:`notegen.model.copying`, which matches whole events) paid 1.23 bits
per duration and was no better with the other voices than alone. So next to it we keep:

* ``same``: the durations of the other voices' notes that start at this onset;
* ``own``: what followed the longest earlier match of this voice's recent *durations* (pitches
  ignored: a rhythm comes back under new notes);
* ``cross``: what followed the longest match of those durations in the other voices (imitation).

They are mixed linearly with the served distribution, ``w_model * p + w_same * q_same + ...``;
the weights depend on which experts have something to say and how long the matches are
(``bucket``), and were fitted by EM on validation data (``notegen-train tune-rhythm``; an expert
with nothing to say gives its weight back to the model). One function, :func:`mix_durations`,
serves completions, generation and ``notegen-train evaluate``, so the card's figure is what the
editor gets. numpy only.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from notegen.model.conditioning import (
    ENSEMBLES,
    Setting,
    SortedOnsets,
    VoiceTimes,
    _PerVoices,
    sorted_onsets,
)
from notegen.model.copying import narrow_matches

__all__ = [
    "ExcludedMatches",
    "MatchIndex",
    "RhythmContext",
    "RhythmMixture",
    "expert_marginals",
    "longest_match",
    "mix_durations",
    "rhythm_context",
    "rhythm_sequence",
]

EXPERTS = ("model", "same", "own", "cross")
LENGTH_EDGES = (1, 3, 6, 10)
"""Match lengths are bucketed: none, 1-2, 3-5, 6-9, 10 or more."""
SAME_TOLERANCE = 0.03
"""A note of another voice counts as "this duration" within 3 % (Sonic Pi arithmetic)."""
_ONSET_EPS = 1e-4
_TINY = 1e-30


@dataclass(frozen=True)
class RhythmMixture:
    """Mixture weights ``weights[same][own bucket][cross bucket] = (model, same, own, cross)``."""

    max_order: int
    weights: np.ndarray  # [2, 5, 5, 4]

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> RhythmMixture | None:
        """The mixture a card describes under ``"rhythm_mixture"``, or ``None``."""
        spec = card.get("rhythm_mixture")
        if not spec:
            return None
        weights = np.asarray(spec["weights"], np.float64)
        if weights.shape != (2, len(LENGTH_EDGES) + 1, len(LENGTH_EDGES) + 1, len(EXPERTS)):
            raise ValueError(f"rhythm_mixture weights of shape {weights.shape}")
        return cls(int(spec["max_order"]), weights)

    def to_card(self) -> dict[str, Any]:
        return {
            "max_order": self.max_order,
            "experts": list(EXPERTS),
            "length_edges": list(LENGTH_EDGES),
            "weights": np.round(self.weights, 6).tolist(),
        }

    def for_sampling(self, scale: float) -> RhythmMixture:
        """The mixture generation samples from: the ``own`` expert's weight times ``scale``
        (the rest back to the model). It matches the melody's own output, and at full weight
        a sampled rhythm feeds on itself as the copy model's notes do
        (:meth:`notegen.model.copying.CopyMixture.for_sampling`); the other voices' experts do
        not."""
        weights = self.weights.copy()
        own = EXPERTS.index("own")
        weights[..., 0] += (1.0 - scale) * weights[..., own]
        weights[..., own] *= scale
        return RhythmMixture(self.max_order, weights)

    def weights_for(self, same: bool, own: int, cross: int) -> np.ndarray:
        return self.weights[int(same), bucket(own), bucket(cross)]


def bucket(length: int) -> int:
    """The weight bucket of a match length (0: no match): ``np.searchsorted(LENGTH_EDGES,
    length, side="right")``, without making an array of the edges twice per served step."""
    return bisect.bisect_right(LENGTH_EDGES, length)


@dataclass(frozen=True)
class RhythmContext:
    """The other voices as the rhythm experts read them (built once per tuple of voices)."""

    onsets: SortedOnsets
    """Onsets of every other voice's events, sorted (beats on the voice's time line)."""
    same_ids: np.ndarray
    """Duration index (0-based in the vocabulary's durations) of the event at each onset, -1
    where it is no vocabulary duration (within ``SAME_TOLERANCE``)."""
    text: np.ndarray
    """The other voices' duration indices one after another, -1 between voices."""
    matches: MatchIndex | ExcludedMatches = field(init=False, compare=False, repr=False)
    owners: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Whose each onset is (a view of a whole ensemble's context: :meth:`without`)."""
    skipped: int = -1
    """The voice in :attr:`owners` whose onsets are not this context's (-1: none)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches", MatchIndex(self.text))

    def same_at(self, lo: int, hi: int) -> np.ndarray:
        """The duration indices of the onsets ``lo:hi`` that are this context's."""
        ids = self.same_ids[lo:hi]
        if self.skipped >= 0 and self.owners is not None:
            ids = ids[self.owners[lo:hi] != self.skipped]
        return ids

    def without(self, owners: np.ndarray, voice: int, start: int, stop: int) -> RhythmContext:
        """This whole ensemble's context as a listening voice hears it: its onsets (voice
        ``voice`` in ``owners``, -1 if it has none) and its text ``start:stop`` left out."""
        whole = self.matches
        assert isinstance(whole, MatchIndex)  # (a view is never viewed again)
        view = RhythmContext(self.onsets, self.same_ids, self.text, owners, voice)
        object.__setattr__(view, "matches", whole.without(start, stop) if stop > start else whole)
        return view


def _duration_index(durations: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest vocabulary duration (log space) of each value, and whether it is within
    ``SAME_TOLERANCE``."""
    values = np.maximum(np.asarray(values, np.float64), 1e-9)
    # Each distinct value once (a voice holds a few dozen; a loop laid out pass after pass,
    # ~2,600 notes of ~25 values: its whole [notes, durations] table cost a play voice's
    # first completion ~1 ms), the same operations on each.
    distinct, inverse = np.unique(values, return_inverse=True)
    idx = np.abs(np.log(durations)[None, :] - np.log(distinct)[:, None]).argmin(axis=1)
    close = np.abs(durations[idx] - distinct) <= SAME_TOLERANCE * distinct
    return idx.astype(np.int64)[inverse], close[inverse]


def _build_context(others: tuple[VoiceTimes, ...], durations: np.ndarray) -> RhythmContext:
    split = ENSEMBLES.split(others)
    if split is not None:  # a view of the whole ensemble's context
        whole, missing = split
        context = _CONTEXTS.get(whole, lambda o: _build_context(o, durations))
        whole_order = sorted_onsets(whole)
        sizes = [len(v.onsets) for v in whole]
        start = sum(n + 1 for n in sizes[:missing] if n)  # (a voice of no events: no text)
        if not sizes[missing]:
            return context.without(whole_order.owners, -1, start, start)
        column = whole_order.voices.index(missing)
        return context.without(whole_order.owners, column, start, start + sizes[missing] + 1)
    onsets, same, text = [], [], []
    for voice in others:
        lengths = np.asarray(voice.ends, np.float64) - np.asarray(voice.onsets, np.float64)
        if not len(lengths):
            continue
        idx, close = _duration_index(durations, lengths)
        onsets.append(np.asarray(voice.onsets, np.float64))
        same.append(np.where(close, idx, -1))
        text.extend([idx, np.array([-1], np.int64)])
    if not onsets:
        empty = np.zeros(0, np.int64)
        return RhythmContext(SortedOnsets(()), empty, empty)
    all_onsets = np.concatenate(onsets)
    order = np.argsort(all_onsets, kind="stable")
    # Duration indices in 8 bits (a vocabulary of a few dozen durations; -1 between voices):
    # every listening voice keeps its own copy of the others', 200 MB at 64 bits in a
    # 200,000-note piece (37 kB a listener each at 16 bits in the 20-voice benchmark piece).
    # The experts count and compare them: the same answers in any width.
    small = _index_dtype(len(durations))
    return RhythmContext(
        sorted_onsets(others),  # all_onsets[order]: the consonance expert's too
        np.concatenate(same)[order].astype(small),
        np.concatenate(text).astype(small),
    )


def _index_dtype(size: int) -> type[np.signedinteger]:
    """The narrowest signed integer that holds ``-1 .. size`` (and the difference of any two
    of them: a text's tokens are told apart by their differences, :meth:`MatchIndex.longest`)."""
    for kind in (np.int8, np.int16):
        if size < np.iinfo(kind).max:
            return kind
    return np.int64


_CONTEXTS: _PerVoices[RhythmContext] = _PerVoices()


def rhythm_context(setting: Setting | None, durations: np.ndarray) -> RhythmContext | None:
    """The rhythm context of a setting's other voices (memoised per tuple of voices), or
    ``None`` for a voice alone."""
    if setting is None or not setting.others:
        return None
    return _CONTEXTS.get(setting.others, lambda o: _build_context(o, durations))


def longest_match(
    text: np.ndarray,
    pattern: np.ndarray,
    max_order: int,
    before: int | None = None,
    separator: int = -1,
) -> tuple[int, np.ndarray]:
    """Longest suffix of ``pattern`` (≤ ``max_order``) found in ``text`` with a token after it,
    and the tokens that followed each occurrence. ``before``: occurrences must end before this
    position (a text's own past: ``pattern`` is ``text``'s prefix of that length).
    ``separator`` (between the voices of a text) is never a token that follows."""
    n = len(pattern)
    limit = len(text) - 1 if before is None else min(before, len(text)) - 1
    if n == 0 or limit <= 0:
        return 0, text[:0]
    ends = (text[:limit] == pattern[-1]).nonzero()[0]  # text[j] matches pattern[-1]
    ends = ends[text[ends + 1] != separator]
    length, alive = narrow_matches(text, pattern, ends, max_order)
    if length == 0:
        return 0, text[:0]
    return length, text[alive + 1]


class MatchIndex:
    """:func:`longest_match` in one fixed text (the other voices), answered faster and the same.

    Each phrase step asks for the longest match of this voice's recent durations (or
    intervals) in the ~19,000 tokens of the other voices: the plain function scans the whole
    text for the last token every time (~55 µs per step in the 20-voice benchmark piece, two
    or three experts per step). Here the positions of each token that have a token after them
    are grouped once, in text order (what the scan finds, in the order it finds them), and
    the narrowing that follows is the plain function's own; answers with few followers are
    kept for the patterns that come back (the steps of a phrase are primed, ranked and
    sampled from the same context)."""

    MEMO = 512
    """Answers kept (each at most ``MEMO_NEXTS`` followers: a bounded few hundred kB)."""
    MEMO_NEXTS = 64

    __slots__ = ("_groups", "_memo", "separator", "text")

    def __init__(self, text: np.ndarray, separator: int = -1) -> None:
        self.text = text
        self.separator = separator
        self._groups: dict[int, np.ndarray] | None = None
        self._memo: dict[tuple[int, bytes], tuple[int, np.ndarray]] = {}

    def _positions(self, token: int) -> np.ndarray | None:
        if self._groups is None:
            text = self.text
            ends = np.flatnonzero(text[1:] != self.separator)  # text[j + 1] follows text[j]
            # positions in two bytes where they fit (76 kB a listening voice's rhythm text in
            # 32 bits in the benchmark piece), else four: the same answers
            # (:func:`notegen.model.copying.narrow_matches` reads before a position in signed ints)
            for kind in (np.uint16, np.int32):
                if len(text) < np.iinfo(kind).max:
                    ends = ends.astype(kind)
                    break
            if not len(ends):  # (one token per voice: nothing ever followed)
                self._groups = {}
                return None
            tokens = text[ends]
            order = np.argsort(tokens, kind="stable")  # each token's positions in text order
            ends, tokens = ends[order], tokens[order]
            cuts = np.flatnonzero(np.diff(tokens)) + 1
            starts = np.concatenate([[0], cuts]).astype(np.intp)
            self._groups = {
                int(tokens[a]): ends[a:b]
                for a, b in zip(starts.tolist(), [*cuts.tolist(), len(ends)], strict=True)
            }
        return self._groups.get(token)

    def longest(self, pattern: np.ndarray, max_order: int) -> tuple[int, np.ndarray]:
        """``longest_match(self.text, pattern, max_order, separator=self.separator)`` for an
        integer ``pattern``."""
        return self._longest(pattern, max_order, self._memo, None)

    def without(self, start: int, stop: int) -> ExcludedMatches:
        """This index with ``text[start:stop]`` left out (one voice and the separator after
        it): the same answers as an index of the text without them, from this one's groups."""
        return ExcludedMatches(self, start, stop)

    def _longest(
        self,
        pattern: np.ndarray,
        max_order: int,
        memo: dict[tuple[int, bytes], tuple[int, np.ndarray]],
        skipped: tuple[int, int] | None,
    ) -> tuple[int, np.ndarray]:
        text, n = self.text, len(pattern)
        if n == 0 or len(text) - 1 <= 0:
            return 0, text[:0]
        key = (max_order, np.asarray(pattern[-max_order:], np.int64).tobytes())
        found = memo.get(key)
        if found is not None:
            return found
        ends = self._positions(int(pattern[-1]))
        if ends is not None and skipped is not None:
            # A match ends on no token of the skipped stretch and never runs into it: the
            # separators on each side of it stop a match (no pattern holds one), as the
            # separator before and the one after it do in the text without it.
            ends = ends[(ends < skipped[0]) | (ends >= skipped[1])]
            if not len(ends):
                ends = None
        length, alive = (
            (0, None) if ends is None else narrow_matches(text, pattern, ends, max_order)
        )
        result = (0, text[:0]) if length == 0 or alive is None else (length, text[alive + 1])
        if len(result[1]) <= self.MEMO_NEXTS:
            if len(memo) >= self.MEMO:
                memo.clear()
            result[1].setflags(write=False)
            memo[key] = result
        return result


class ExcludedMatches:
    """:meth:`MatchIndex.longest` in a whole ensemble's text without one voice's stretch: a
    listening voice's view of the other voices (:class:`notegen.model.conditioning.Ensembles`),
    with answers of its own kept."""

    __slots__ = ("_memo", "index", "skipped")

    def __init__(self, index: MatchIndex, start: int, stop: int) -> None:
        self.index = index
        self.skipped = (start, stop)
        self._memo: dict[tuple[int, bytes], tuple[int, np.ndarray]] = {}

    def longest(self, pattern: np.ndarray, max_order: int) -> tuple[int, np.ndarray]:
        """What :meth:`MatchIndex.longest` answers in the text without the skipped stretch."""
        return self.index._longest(pattern, max_order, self._memo, self.skipped)


def expert_marginals(
    own: np.ndarray, onset: float, context: RhythmContext | None, size: int, max_order: int
) -> tuple[np.ndarray | None, tuple[int, np.ndarray | None], tuple[int, np.ndarray | None]]:
    """The three experts' distributions over duration indices (``size`` of them) for the event
    after ``own`` (this voice's duration indices so far) starting at ``onset``: ``same``,
    ``(own match length, own)``, ``(cross match length, cross)``; ``None`` where silent."""
    q_same = None
    q_cross: np.ndarray | None = None
    cross_len = 0
    length, nexts = longest_match(own, own, max_order, before=len(own))
    q_own = np.bincount(nexts, minlength=size) / len(nexts) if length else None
    if context is not None:
        lo = context.onsets.count_below(onset - _ONSET_EPS)
        hi = context.onsets.count_below(onset + _ONSET_EPS)
        ids = context.same_at(lo, hi)
        ids = ids[ids >= 0]
        if len(ids):
            q_same = np.bincount(ids, minlength=size) / len(ids)
        cross_len, found = context.matches.longest(own, max_order)
        if cross_len:
            q_cross = np.bincount(found, minlength=size) / len(found)
    return q_same, (length, q_own), (cross_len, q_cross)


def mix_durations(
    mixture: RhythmMixture,
    log_d: np.ndarray,
    own: np.ndarray,
    onset: float,
    context: RhythmContext | None,
) -> np.ndarray:
    """The served duration log-probabilities ``[Vd]`` (index 0 ``<bos>``) of the event after
    ``own`` (this voice's duration *ids*, ``<bos>`` excluded) that starts at ``onset`` beats on
    the setting's time line, with the rhythm experts mixed in."""
    own_idx = np.asarray(own, np.int64) - 1
    size = len(log_d) - 1
    q_same, (own_len, q_own), (cross_len, q_cross) = expert_marginals(
        own_idx, onset, context, size, mixture.max_order
    )
    if q_same is None and q_own is None and q_cross is None:
        return log_d
    w = mixture.weights_for(q_same is not None, own_len, cross_len)
    p = np.exp(log_d)
    mixed = w[0] * p
    for weight, q in zip(w[1:], (q_same, q_own, q_cross), strict=True):
        if q is None:
            mixed += weight * p
        elif weight > 0:
            mixed[1:] += weight * q
    out: np.ndarray = np.log(np.maximum(mixed, _TINY))
    out[0] = log_d[0]
    return out


def rhythm_sequence(
    mixture: RhythmMixture,
    log_d: np.ndarray,
    dur_ids: np.ndarray,
    setting: Setting | None,
    durations: np.ndarray,
) -> np.ndarray:
    """:func:`mix_durations` for every row of a melody read from ``<bos>``: row t is event t's
    distribution given ``dur_ids[:t]`` (there may be ``len(dur_ids) + 1`` rows)."""
    out = np.array(log_d, np.float64)
    dur_ids = np.asarray(dur_ids, np.int64)
    context = rhythm_context(setting, durations)
    start = setting.start if setting is not None else 0.0
    beats = durations[np.clip(dur_ids - 1, 0, None)]
    onsets = start + np.concatenate([[0.0], np.cumsum(beats)])
    for t in range(len(out)):
        out[t] = mix_durations(mixture, out[t], dur_ids[:t], float(onsets[t]), context)
    return out


def _components(model_probs: Sequence[float], expert_probs: np.ndarray) -> np.ndarray:
    """``[n, 4]``: each event's probability under the model and the experts (a silent expert:
    the model's)."""
    p = np.asarray(model_probs, np.float64)
    q = np.array(expert_probs, np.float64)
    silent = np.isnan(q)
    q[silent] = np.broadcast_to(p[:, None], q.shape)[silent]
    return np.column_stack([p, q])


def mixture_bits(
    weights: np.ndarray, model_probs: Sequence[float], expert_probs: np.ndarray, cells: np.ndarray
) -> np.ndarray:
    """Bits of each event under the mixture ``weights`` (as :func:`mix_durations` serves it)."""
    comps = _components(model_probs, expert_probs)
    c = np.asarray(cells, np.int64)
    w = weights[c[:, 0], c[:, 1], c[:, 2]]
    return np.asarray(-np.log2(np.maximum((comps * w).sum(axis=1), _TINY)))


def fit_weights(
    model_probs: Sequence[float],
    expert_probs: np.ndarray,
    cells: np.ndarray,
    prior: float = 20.0,
    iterations: int = 300,
) -> np.ndarray:
    """EM for the mixture weights of each cell (maximum likelihood, shrunk to the pooled fit).

    ``expert_probs[i]``: the probability each of ``same``/``own``/``cross`` gave event ``i``'s
    duration (NaN where silent: its weight then goes to the model); ``cells[i]``: its
    ``(same, own bucket, cross bucket)``. A cell's weights are its own EM fit blended with the
    pooled fit in proportion ``n : prior`` (few events, mostly pooled).
    """
    comps = _components(model_probs, expert_probs)

    def em(c: np.ndarray) -> np.ndarray:
        w = np.full(c.shape[1], 1.0 / c.shape[1])
        for _ in range(iterations):
            m = c * w
            w = (m / np.maximum(m.sum(axis=1, keepdims=True), _TINY)).mean(axis=0)
        return w

    pooled = em(comps)
    b = len(LENGTH_EDGES) + 1
    weights = np.tile(pooled, (2, b, b, 1))
    cells = np.asarray(cells, np.int64)
    for cell in {tuple(c) for c in cells.tolist()}:
        sel = np.all(cells == np.asarray(cell), axis=1)
        n = int(sel.sum())
        weights[cell] = (n * em(comps[sel]) + prior * pooled) / (n + prior)
    return weights
