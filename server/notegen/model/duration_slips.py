"""Duration slips: a voice whose section is longer or shorter than all the others'.

In the voice form every voice of a section lasts the same number of beats; a slipped duration
(``0.5`` for ``1.5``, a value doubled or halved) makes one voice's section longer or shorter by
exactly the slip. From the note where the slip is, that voice's onsets are shifted against the
other voices', so the place is where shifting the rest of the voice back lines its onsets up
with the others' again. Among the durations whose correction gives exactly the missing length
(halving, doubling, ±0.5), the checker picks the one that best restores that alignment, and
reports it only when no other candidate does as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from notegen.model.harmony import IntervalStats, Part, sounding
from notegen.sonicpi.types import Span

__all__ = ["DurationSlip", "duration_slips", "in_step", "odd_voice"]

_EPS = 1e-6


@dataclass(frozen=True)
class DurationSlip:
    """A duration to correct: where, what is written, the value that keeps the voice in step."""

    span: Span
    voice: int
    section: int
    index: int
    written: float
    fix: float
    message: str


def in_step(parts: Sequence[Part]) -> list[Part]:
    """The voices as far as they are in step with the others.

    A voice whose section lasts longer or shorter than most voices' (more than half, at least
    two) has a slipped duration somewhere, and from there on sounds against the wrong notes of
    the others: its harmony is no evidence, for itself or for them. It is kept up to where its
    notes stop fitting the in-step voices (the change point of its fit); without a clear
    majority, every voice is kept.
    """
    lengths = [round(p.length, 6) for p in parts]
    common, n = Counter(lengths).most_common(1)[0]
    if n < 2 or 2 * n <= len(parts):
        return list(parts)
    steady = [p for p, length in zip(parts, lengths, strict=True) if length == common]
    stats = IntervalStats(steady)
    out = list(steady)
    for part, length in zip(parts, lengths, strict=True):
        if length == common:
            continue
        fits = stats.fit(part, sounding(part, steady))
        ok = np.isfinite(fits)
        if ok.sum() < 2:
            continue
        centred = np.where(ok, fits - fits[ok].mean(), 0.0)
        stop = int(np.argmax(np.concatenate([[0.0], np.cumsum(centred)])))
        if stop > 0:
            out.append(part.head(stop))
    return out


def odd_voice(parts: Sequence[Part]) -> tuple[Part, float] | None:
    """The one voice whose length differs from all the others' (at least two, all equal), with
    its excess in beats; ``None`` when the lengths agree or no single voice stands out."""
    if len(parts) < 3:
        return None
    lengths = [round(p.length, 6) for p in parts]
    counts = Counter(lengths)
    if len(counts) != 2:
        return None
    (common, n_common), (odd, n_odd) = counts.most_common(2)
    if n_odd != 1 or n_common < 2:
        return None
    part = parts[lengths.index(odd)]
    return part, odd - common


def _originals(written: np.ndarray, excess: float) -> np.ndarray:
    """For each written duration, the value it was meant to be if it carries the excess (NaN
    when no slip of the benchmark's kinds — ×2, ×½, ±0.5 — explains it)."""
    original = written - excess
    ok = original > _EPS
    explained = (
        np.isclose(written, 2 * original)
        | np.isclose(written, original / 2)
        | np.isclose(np.abs(excess), 0.5)
    )
    return np.where(ok & explained, original, np.nan)


def duration_slips(parts: Sequence[Part]) -> list[DurationSlip]:
    """The slipped duration of a section's odd voice, when one place explains it best."""
    found = odd_voice(parts)
    if found is None:
        return []
    part, excess = found
    others = [p for p in parts if p is not part]
    grid = np.unique(np.concatenate([p.onsets for p in others]))

    def aligned(onsets: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(grid, onsets), 0, len(grid) - 1)
        near = np.minimum(np.abs(grid[idx] - onsets), np.abs(grid[idx - 1] - onsets))
        return (near < _EPS).astype(np.int64)

    before = np.cumsum(aligned(part.onsets))  # onsets up to and including note t
    after_fixed = aligned(part.onsets - excess)
    after = np.concatenate([np.cumsum(after_fixed[::-1])[::-1][1:], [0]])  # notes after t
    score = before + after
    originals = _originals(part.durations, excess)
    candidates = np.flatnonzero(np.isfinite(originals))
    if not len(candidates):
        return []
    usual = Counter(np.round(part.durations, 6).tolist())
    ranked = sorted(
        candidates.tolist(),
        key=lambda t: (-score[t], -usual[round(float(originals[t]), 6)]),
    )
    best = ranked[0]
    if len(ranked) > 1:
        second = ranked[1]
        tie = score[second] == score[best]
        if (
            tie
            and usual[round(float(originals[second]), 6)] >= usual[round(float(originals[best]), 6)]
        ):
            return []  # two places explain it equally: no hint rather than a guess
    durations = part.array.durations
    if durations is None or durations.scalar or best >= len(durations.values):
        return []
    written, fix = float(part.durations[best]), float(originals[best])
    longer = "longer" if excess > 0 else "shorter"
    message = (
        f"{_beats(written)} makes voice {part.voice} {_beats(abs(excess))} {longer} than the "
        f"other voices in this section; {_beats(fix)} keeps it in step with them"
    )
    return [
        DurationSlip(
            durations.values[best].span, part.voice, part.section, best, written, fix, message
        )
    ]


def _beats(value: float) -> str:
    text = f"{value:g}"
    return f"{text} beat" if text == "1" else f"{text} beats"
