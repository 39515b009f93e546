"""Turn next-event logits into choices: temperature, top-k / top-p, seeded RNG, key/scale masks.

Scales are Sonic Pi's own (:mod:`notegen.scales`), by the names a Sonic Pi user already types
(``:major``, ``:minor_pentatonic``, ``:dorian``...), so a key given to ``generateMelody`` means
what ``scale(:e3, :dorian)`` means in Sonic Pi. Turkish makams use fractions of a semitone; as the
model's vocabulary is whole MIDI numbers, their degrees are rounded to the nearest semitone.

The key a melody is in, when none is given, is :mod:`notegen.keys`'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from notegen.notes import NoteError, note_to_midi
from notegen.scales import SCALES

__all__ = [
    "Sampler",
    "ScaleError",
    "parse_key",
    "parse_scale",
    "pitch_class_mask",
    "scale_pitch_classes",
    "softmax",
]


class ScaleError(ValueError):
    """A key or scale name that cannot be used; the message says which and why."""


def parse_scale(name: str) -> str:
    """Normalise ``":minor_pentatonic"``/``"Minor_Pentatonic"`` to a :data:`SCALES` key."""
    if not isinstance(name, str):
        raise ScaleError(f"scale must be a Sonic Pi scale name such as :major, not {name!r}")
    key = name.strip().removeprefix(":").lower()
    if key not in SCALES:
        close = [n for n in SCALES if n.startswith(key[:3])][:5] if key else []
        hint = f" (did you mean {', '.join(':' + c for c in close)}?)" if close else ""
        raise ScaleError(f"unknown Sonic Pi scale :{key}{hint}")
    return key


def parse_key(key: str | int) -> int:
    """Pitch class 0–11 of a tonic given as ``:C``, ``"eb"``, ``"Fs3"`` or a MIDI number."""
    if isinstance(key, bool):
        raise ScaleError(f"key must be a note name such as :c or :eb, not {key!r}")
    if isinstance(key, (int, float)):
        if not math.isfinite(key):
            raise ScaleError(f"key {key!r} is not a finite MIDI number")
        return round(key) % 12
    if not isinstance(key, str):
        raise ScaleError(f"key must be a note name such as :c or :eb, not {key!r}")
    try:
        midi = note_to_midi(key.strip())
    except NoteError as exc:
        raise ScaleError(f"key {key!r} is not a note name ({exc})") from None
    if midi is None:
        raise ScaleError(f"key {key!r} is a rest, not a note")
    return round(midi) % 12


@lru_cache(maxsize=512)
def scale_pitch_classes(tonic: int, scale: str) -> frozenset[int]:
    """Pitch classes of ``scale`` on ``tonic``; makam degrees rounded to the nearest semitone."""
    intervals = SCALES[parse_scale(scale)]
    classes = {tonic % 12}
    position = 0.0
    for step in intervals:
        position += step
        classes.add((tonic + round(position)) % 12)
    return frozenset(classes)


def pitch_class_mask(pitches: Sequence[int | None], tonic: int, scale: str) -> np.ndarray:
    """Boolean mask over a vocabulary (``None`` = rest or ``<bos>``-like entries, kept allowed).

    ``pitches`` lists, for every vocabulary index, its MIDI number or ``None`` for entries that a
    key does not constrain (the rest). Callers mask ``<bos>`` separately.
    """
    classes = scale_pitch_classes(tonic, scale)
    return np.array([p is None or (p % 12) in classes for p in pitches], dtype=bool)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits at ``temperature`` (0 puts all mass on the maximum)."""
    x = np.asarray(logits, dtype=np.float64)
    if temperature <= 0:
        out = np.zeros_like(x)
        out[..., int(np.argmax(x))] = 1.0
        return out
    z = x / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Sampler:
    """Draws vocabulary indices from logits; reproducible for a given ``seed``.

    ``temperature`` 0 means greedy. ``top_k`` 0 turns top-k off; ``top_p`` 1.0 turns nucleus
    sampling off. ``mask`` (boolean over the vocabulary) removes choices before anything else;
    if it would remove every choice it is ignored rather than failing.
    """

    def __init__(
        self,
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if not (temperature >= 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be a finite number ≥ 0, not {temperature!r}")
        if not (0 < top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1], not {top_p!r}")
        if top_k < 0:
            raise ValueError(f"top_k must be ≥ 0 (0 = off), not {top_k!r}")
        self.temperature = float(temperature)
        self.top_k = int(top_k)
        self.top_p = float(top_p)
        self.rng = np.random.default_rng(seed)

    def distribution(
        self,
        logits: np.ndarray,
        mask: np.ndarray | None = None,
        keep: int | None = None,
        share: float | None = None,
    ) -> np.ndarray:
        """The probabilities this sampler draws from, after mask, temperature, top-k, top-p.

        ``keep`` (the previous note's index): temperature acts on two decisions apart — repeat
        the last note or move, then which move (:func:`_keep_share`). Sharpened as one
        distribution, the repeat — often the single likeliest next note while hardly ever
        likelier than all moves together — took 62-72 % of the notes at temperature 0 to 0.3
        and a 64-note block became one note. ``share`` sets the repeat's temperature-1
        probability (generation passes the network's own, without the copy model).
        """
        x = np.array(logits, dtype=np.float64)
        if mask is not None and _any(mask) and _any(np.isfinite(x[mask])):
            x[~mask] = -np.inf
        if keep is not None and 0 <= keep < x.size and (share is not None or self.temperature != 1):
            p = _keep_share(x, keep, self.temperature, share)
        elif self.temperature == 0:
            p = np.zeros_like(x)
            p[int(np.argmax(x))] = 1.0
            return p
        else:
            if self.temperature != 1:  # (x / 1 is x)
                x /= self.temperature
            x -= _max(x)
            p = np.exp(x)
        if self.top_k and self.top_k < p.size:
            kth = np.partition(p, -self.top_k)[-self.top_k]
            p[p < kth] = 0.0
        total = _sum(p)
        p /= total
        if self.top_p < 1.0:
            order = (-p).argsort(kind="stable")
            cumulative = p[order].cumsum()
            # Keep the smallest prefix whose mass reaches top_p (always at least one item).
            cut = int(cumulative.searchsorted(self.top_p - 1e-12)) + 1
            kept = order[:cut]
            q = np.zeros(len(p))  # (p: float64, one row)
            q[kept] = p[kept]
            p = q / _sum(q)
        return p

    def sample(
        self,
        logits: np.ndarray,
        mask: np.ndarray | None = None,
        keep: int | None = None,
        share: float | None = None,
    ) -> int:
        """One index drawn from :meth:`distribution` with this sampler's generator."""
        p = self.distribution(logits, mask, keep, share)
        if self.temperature == 0:
            return int(np.argmax(p))
        cdf = p.cumsum()
        u = self.rng.random() * cdf[-1]
        return int(min(cdf.searchsorted(u, side="right"), p.size - 1))


def _keep_share(
    x: np.ndarray, keep: int, temperature: float, given: float | None = None
) -> np.ndarray:
    """Probabilities in two levels: repeat ``keep`` or move, then which move.

    Temperature sharpens (or flattens) each decision on its own: the two-way choice between
    the repeat (temperature-1 share ``s``, or ``given``) and moving gets ``s^(1/T)`` against
    ``(1-s)^(1/T)``; the moves share the rest, sharpened among themselves. At 0 (greedy) the
    repeat wins only above one half, else the likeliest move."""
    finite = np.isfinite(x)
    if not _any(finite):
        return np.ones_like(x)
    z = np.where(finite, x - _max(x[finite]), -np.inf)
    if given is None:
        p1 = np.exp(z)
        p1 /= _sum(p1)
        share = min(max(float(p1[keep]), 0.0), 1.0)
    else:
        share = min(max(float(given), 0.0), 1.0)
    if 0 < temperature != 1 and 0 < share < 1:
        a, b = share ** (1 / temperature), (1 - share) ** (1 / temperature)
        # both terms underflow near T ~1e-4 and below: the limit there is greedy's choice
        limit = 1.0 if share > 0.5 else 0.0 if share < 0.5 else 0.5
        share = a / (a + b) if a + b > 0 else limit
    rest = z.copy()
    rest[keep] = -np.inf
    if not _any(np.isfinite(rest)):
        out = np.zeros_like(x)
        out[keep] = 1.0
        return out
    if temperature == 0:
        out = np.zeros_like(x)
        best = int(np.argmax(rest))
        out[keep if share > 0.5 else best] = 1.0
        return out
    if temperature != 1:  # (x / 1 is x)
        rest = rest / temperature
    rest -= _max(rest[np.isfinite(rest)])
    q = np.exp(rest)
    out = q / _sum(q) * (1.0 - share)
    out[keep] = share
    return out


# The reductions of a generated note's few arrays, called as ufuncs: ``ndarray.sum``/``max``/
# ``any`` reach the same ufunc through a Python function of numpy's each time (the same
# pairwise sums, the same answers).
_sum = np.add.reduce
_max = np.maximum.reduce
_any = np.logical_or.reduce


def fold_masked(probs: np.ndarray, allowed: np.ndarray, midi: np.ndarray, previous: float | None):
    """Probabilities with every masked-out note's mass moved to the nearest allowed note on the
    same side of ``previous`` (the last note): a step up stays a step up.

    Renormalising over the allowed notes instead scales up every kept note alike, the repeat
    of the last one included: in a six-note scale half the network's mass is removed, and the
    repeat's share doubled (blues_major: 59 % repeated notes, runs of 25). ``midi`` gives each
    index's MIDI number (NaN for entries the mask does not touch, such as the rest).
    """
    target = _fold_targets(allowed.tobytes(), midi.tobytes(), previous, len(allowed))
    return np.bincount(target, weights=probs, minlength=len(probs))


@lru_cache(maxsize=4096)
def _fold_targets(allowed_b: bytes, midi_b: bytes, previous: float | None, n: int) -> np.ndarray:
    allowed = np.frombuffer(allowed_b, dtype=bool, count=n)
    midi = np.frombuffer(midi_b, dtype=np.float64, count=n)
    target = np.arange(n)
    pitched = np.isfinite(midi)
    keep = np.nonzero(allowed & pitched)[0]
    if keep.size == 0:
        return target
    for i in np.nonzero(~allowed & pitched)[0]:
        candidates = keep
        if previous is not None and midi[i] > previous:
            above = keep[midi[keep] > previous]
            candidates = above if above.size else keep
        elif previous is not None and midi[i] < previous:
            below = keep[midi[keep] < previous]
            candidates = below if below.size else keep
        target[i] = candidates[int(np.argmin(np.abs(midi[candidates] - midi[i])))]
    return target
