"""A melody's key: which tonic and mode its notes fit best, named as Sonic Pi names them.

Part of what the piece is (:class:`notegen.sonicpi.piece.Piece`'s key), and the default key
of generation's scale mask (:mod:`notegen.model.sampling`): vocabulary both sides share, as
:mod:`notegen.scales` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from notegen.melody import Event

__all__ = ["DetectedKey", "detect_key", "tonic_name"]


# Krumhansl–Kessler probe-tone profiles (C major, C minor).
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_NAMES = ("c", "cs", "d", "eb", "e", "f", "fs", "g", "ab", "a", "bb", "b")


def tonic_name(tonic: int) -> str:
    """Sonic Pi name of a pitch class, e.g. ``:eb`` for 3."""
    return ":" + _NAMES[tonic % 12]


@dataclass(frozen=True)
class DetectedKey:
    """A key found by :func:`detect_key`: tonic pitch class, scale (``major``, ``minor``,
    ``mixolydian`` or ``dorian``) and its profile correlation."""

    tonic: int
    scale: str
    score: float

    @property
    def name(self) -> str:
        """Sonic Pi spelling, e.g. ``:e, :minor``."""
        return f":{_NAMES[self.tonic]}, :{self.scale}"


_KEY_SCALES = {
    "major": frozenset({0, 2, 4, 5, 7, 9, 11}),
    "minor": frozenset({0, 2, 3, 5, 7, 8, 10, 11}),  # natural minor and its raised 7th
    "mixolydian": frozenset({0, 2, 4, 5, 7, 9, 10}),
    "dorian": frozenset({0, 2, 3, 5, 7, 9, 10}),
}


def _swapped(profile: np.ndarray, a: int, b: int) -> np.ndarray:
    out = profile.copy()
    out[a], out[b] = profile[b], profile[a]
    return out


_KEY_PROFILES = {
    "major": _KK_MAJOR,
    "minor": _KK_MINOR,
    "mixolydian": _swapped(_KK_MAJOR, 10, 11),  # the flat 7th weighs what the leading tone did
    "dorian": _swapped(_KK_MINOR, 8, 9),  # the raised 6th
}
_COVERAGE_WEIGHT = 2.0
_FINAL_BONUS = 0.1
_MODE_PENALTY = {"major": 0.0, "minor": 0.0, "mixolydian": 0.15, "dorian": 0.15}


def detect_key(events: Iterable[Event], default_duration: float = 1.0) -> DetectedKey | None:
    """The key of a melody, or ``None`` when it has no pitched notes.

    Each note adds its duration to its pitch class. Every tonic in major, minor, mixolydian
    and dorian is scored by three things: the Krumhansl–Schmuckler correlation of that
    profile with the key's (the modes' profiles move one degree of major/minor), how much of
    the weight the key's scale holds (×2), and whether the melody ends on the tonic (+0.1);
    the modes start 0.15 behind, so they win only on clear evidence. Each alone fails on real
    tunes: the scale's coverage alone chose F major for a C-major film theme with some B♭
    (C 345, B♭ 45, B 16) and C major for a G-mixolydian pipe tune; correlation alone chose
    B♭ major (no A♭) for ``:ef4,:f4,:g4,:af4,...`` and the key mask then forbade the user's A♭.
    """
    profile = np.zeros(12)
    final: int | None = None
    for ev in events:
        if ev.pitch is None:
            continue
        weight = ev.duration if ev.duration and ev.duration > 0 else default_duration
        try:
            pc = round(float(ev.pitch)) % 12
        except (TypeError, ValueError, OverflowError):
            continue
        profile[pc] += min(float(weight), 64.0)
        final = pc
    if not profile.any():
        return None
    total = profile.sum()
    best: DetectedKey | None = None
    best_score = -np.inf
    for tonic in range(12):
        for scale, ref in _KEY_PROFILES.items():
            inside = sum(profile[(tonic + pc) % 12] for pc in _KEY_SCALES[scale]) / total
            rotated = np.roll(ref, tonic)
            corr = 0.0 if profile.std() == 0 else float(np.corrcoef(profile, rotated)[0, 1])
            score = (
                corr
                + _COVERAGE_WEIGHT * inside
                + (_FINAL_BONUS if final == tonic else 0.0)
                - _MODE_PENALTY[scale]
            )
            if score > best_score + 1e-12:
                best, best_score = DetectedKey(tonic, scale, corr), score
    return best
