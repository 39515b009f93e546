"""How often a note's melodic shape recurs in the piece: imitation and repeats as evidence.

Part writing repeats itself: a fugue subject comes back in every voice, a dance repeats its
strains, a motet's voices imitate one another at the fifth. A slip breaks such a shape where
it occurs and nowhere else. The table counts every run of intervals (transposition-invariant)
around each note of every voice; the checker asks how often the shape around a note, with the
written pitch or with an alternative, occurs elsewhere in the piece.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from notegen.model.harmony import Part

__all__ = ["MotifTable"]

SPAN = 2
"""Notes on each side of the note: the shape is 2·SPAN intervals."""
PASSAGE_SPAN = 6
"""Notes on each side for the long shape (12 intervals): a repeated strain or a subject's
entry in another voice, at any transposition, where short shapes match by chance."""


def _pitched(part: Part) -> tuple[np.ndarray, np.ndarray]:
    """The part's pitched events (rests skipped: a shape runs through them) and their indices."""
    keep = np.nonzero(np.isfinite(part.pitches))[0]
    return np.rint(part.pitches[keep]).astype(np.int64), keep


class MotifTable:
    """Counts, over a piece, of the passages (``2·SPAN + 1`` pitches as written), the interval
    shapes (``2·SPAN`` intervals), the short shapes (the 2 intervals around a note) and the
    long shapes (``2·PASSAGE_SPAN`` intervals)."""

    def __init__(self, parts: Iterable[Part]) -> None:
        self.exact: Counter[tuple[int, ...]] = Counter()
        self.long: Counter[tuple[int, ...]] = Counter()
        self.short: Counter[tuple[int, ...]] = Counter()
        self.passage: Counter[tuple[int, ...]] = Counter()
        for part in parts:
            pitches, _ = _pitched(part)
            notes = pitches.tolist()
            for i in range(len(notes) - 2 * SPAN):
                self.exact[tuple(notes[i : i + 2 * SPAN + 1])] += 1
            steps = np.diff(pitches).tolist()
            for i in range(len(steps) - 2 * SPAN + 1):
                self.long[tuple(steps[i : i + 2 * SPAN])] += 1
            for i in range(len(steps) - 1):
                self.short[tuple(steps[i : i + 2])] += 1
            for i in range(len(steps) - 2 * PASSAGE_SPAN + 1):
                self.passage[tuple(steps[i : i + 2 * PASSAGE_SPAN])] += 1

    def support(self, part: Part, t: int, candidates: np.ndarray) -> np.ndarray:
        """``[4, len(candidates)]``: log(1 + occurrences elsewhere) of the long and the short
        shape, of the exact passage and of the long shape (:data:`PASSAGE_SPAN`) around event
        ``t``, each candidate in place of the written pitch.

        The written shape's own occurrence is not counted. Zeros where the note has too few
        pitched neighbours in its part.
        """
        out = np.zeros((4, len(candidates)))
        pitches, keep = _pitched(part)
        where = np.searchsorted(keep, t)
        if where >= len(keep) or keep[where] != t:
            return out
        written = pitches[where]
        cands = np.rint(candidates).astype(np.int64)
        if 1 <= where < len(pitches) - 1:
            prev, nxt = pitches[where - 1], pitches[where + 1]
            for j, c in enumerate(cands.tolist()):
                n = self.short[(c - prev, nxt - c)] - (c == written)
                out[1, j] = np.log1p(max(n, 0))
        if SPAN <= where < len(pitches) - SPAN:
            before = np.diff(pitches[where - SPAN : where]).tolist()
            after = np.diff(pitches[where + 1 : where + SPAN + 1]).tolist()
            prev, nxt = pitches[where - 1], pitches[where + 1]
            for j, c in enumerate(cands.tolist()):
                key = (*before, c - prev, nxt - c, *after)
                n = self.long[key] - (c == written)
                out[0, j] = np.log1p(max(n, 0))
            around = pitches[where - SPAN : where + SPAN + 1].tolist()
            for j, c in enumerate(cands.tolist()):
                around[SPAN] = c
                n = self.exact[tuple(around)] - (c == written)
                out[2, j] = np.log1p(max(n, 0))
        out[3] = self._passage(pitches, int(where), cands, int(written))
        return out

    def _passage(
        self, pitches: np.ndarray, where: int, cands: np.ndarray, written: int
    ) -> np.ndarray:
        """log(1 + occurrences elsewhere) of the long shape around ``where``, per candidate."""
        out = np.zeros(len(cands))
        if not PASSAGE_SPAN <= where < len(pitches) - PASSAGE_SPAN:
            return out
        before = np.diff(pitches[where - PASSAGE_SPAN : where]).tolist()
        after = np.diff(pitches[where + 1 : where + PASSAGE_SPAN + 1]).tolist()
        prev, nxt = pitches[where - 1], pitches[where + 1]
        for j, c in enumerate(cands.tolist()):
            key = (*before, c - prev, nxt - c, *after)
            n = self.passage[key] - (c == written)
            out[j] = np.log1p(max(n, 0))
        return out
