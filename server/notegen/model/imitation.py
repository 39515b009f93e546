"""Imitation: a voice's next pitch from the other voices that played its recent intervals.

Counterpoint passes a subject from voice to voice, usually at another pitch (a fugue answers at
the fifth), so matching pitches across voices finds little; matching *intervals* finds it. The
expert takes the longest suffix (≤ ``max_order``) of this voice's intervals (each pitched note
against the previous pitched note; a rest is its own token) that occurs in another voice, and
proposes what followed there, moved onto this voice's last note. It is mixed into the served
pitch distribution after the copy model, with a weight per matched length fitted by EM on
validation voices (``notegen-train tune-imitation``). The same function serves completions and
``notegen-train evaluate``; generation samples without it after its first note (as it damps the
copy model: a sampled melody should not be dragged onto another voice's line note for note).
numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from notegen.model.conditioning import ENSEMBLES, Setting, VoiceTimes, _PerVoices
from notegen.model.rhythm import LENGTH_EDGES, ExcludedMatches, MatchIndex, bucket

__all__ = ["ImitationMixture", "imitation_marginal", "intervals", "mix_pitches"]

REST = 10_000
"""Interval token of a rest."""
FIRST = 5_000
"""Interval token of a voice's first pitched note (nothing to move from)."""
_SEPARATOR = -99_999
_TINY = 1e-30


@dataclass(frozen=True)
class ImitationMixture:
    """The imitation expert's weight per matched-length bucket (none, 1-2, 3-5, 6-9, 10+)."""

    max_order: int
    weights: tuple[float, ...]

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> ImitationMixture | None:
        spec = card.get("imitation_mixture")
        if not spec:
            return None
        weights = tuple(float(x) for x in spec["weights"])
        if len(weights) != len(LENGTH_EDGES) + 1:
            raise ValueError(f"imitation_mixture has {len(weights)} weights")
        return cls(int(spec["max_order"]), weights)

    def to_card(self) -> dict[str, Any]:
        return {
            "max_order": self.max_order,
            "length_edges": list(LENGTH_EDGES),
            "weights": [round(x, 6) for x in self.weights],
        }


def intervals(midi: np.ndarray) -> np.ndarray:
    """Interval tokens of a voice (MIDI, NaN = rest): each pitched note minus the previous
    pitched note, ``REST`` for a rest, ``FIRST`` for the first pitched note."""
    midi = np.asarray(midi, np.float64)
    out = np.full(len(midi), REST, np.int64)
    pitched = np.flatnonzero(np.isfinite(midi))
    if len(pitched):
        values = np.round(midi[pitched]).astype(np.int64)
        steps = np.diff(values, prepend=values[0])
        steps[0] = FIRST
        out[pitched] = steps
    return out


def _text(others: tuple[VoiceTimes, ...]) -> MatchIndex | ExcludedMatches:
    split = ENSEMBLES.split(others, pitches=True)
    if split is not None:  # a view of the whole ensemble's text (made of pitches alone)
        whole, missing = split
        index = _TEXTS.get(whole, _text)
        assert isinstance(index, MatchIndex)
        start = sum(len(v.pitches) + 1 for v in whole[:missing])
        return index.without(start, start + len(whole[missing].pitches) + 1)
    parts: list[np.ndarray] = []
    for voice in others:
        parts += [intervals(voice.pitches), np.array([_SEPARATOR], np.int64)]
    text = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    # 32 bits hold every token (intervals, REST, FIRST, the separator): half the memory of
    # each listening voice's copy of the others' intervals, and the same matches.
    return MatchIndex(text.astype(np.int32), _SEPARATOR)


_TEXTS: _PerVoices[MatchIndex | ExcludedMatches] = _PerVoices()


def prepare(others: tuple[VoiceTimes, ...]) -> None:
    """Make the other voices' interval text now, not at the first note served against them
    (:meth:`notegen.model.network.MelodyModel.prepare_setting`)."""
    if others:
        _TEXTS.get(others, _text)


def imitation_marginal(
    own_midi: np.ndarray, setting: Setting | None, pitch_vocab: Sequence[Any], max_order: int
) -> tuple[int, np.ndarray | None]:
    """Matched length and the expert's distribution over pitch ids (index 1 = rest) for the
    note after ``own_midi`` (this voice so far, NaN = rest); ``(0, None)`` when silent."""
    if setting is None or not setting.others:
        return 0, None
    own = intervals(own_midi)
    length, nexts = _TEXTS.get(setting.others, _text).longest(own, max_order)
    nexts = nexts[nexts != FIRST]
    if not length or not len(nexts):
        return 0, None
    pitched = np.flatnonzero(np.isfinite(own_midi))
    q = np.zeros(len(pitch_vocab))
    q[1] = float((nexts == REST).sum())
    moves = nexts[nexts != REST]
    if len(pitched) and len(moves):
        notes = _notes(pitch_vocab)  # ascending MIDI
        target = round(float(own_midi[pitched[-1]])) + moves
        at = np.minimum(notes.searchsorted(target), len(notes) - 1)
        # (whole counts: the same sums as adding 1.0 per move, np.add.at's way)
        q += np.bincount(at[notes[at] == target] + 2, minlength=len(q))
    total = np.add.reduce(q)
    if total <= 0:
        return 0, None
    return length, q / total


_NOTES: dict[int, tuple[Sequence[Any], np.ndarray]] = {}


def _notes(pitch_vocab: Sequence[Any]) -> np.ndarray:
    """The vocabulary's MIDI notes (after ``<bos>`` and rest) as an array, kept per
    vocabulary object (one per loaded model)."""
    found = _NOTES.get(id(pitch_vocab))
    if found is None or found[0] is not pitch_vocab:
        if len(_NOTES) > 8:
            _NOTES.clear()
        found = (pitch_vocab, np.asarray([int(x) for x in pitch_vocab[2:]], np.int64))
        _NOTES[id(pitch_vocab)] = found
    return found[1]


def mix_pitches(
    mixture: ImitationMixture,
    log_p: np.ndarray,
    own_midi: np.ndarray,
    setting: Setting | None,
    pitch_vocab: Sequence[Any],
) -> np.ndarray:
    """Served pitch log-probabilities ``[Vp]`` with the imitation expert mixed in."""
    length, q = imitation_marginal(own_midi, setting, pitch_vocab, mixture.max_order)
    if q is None:
        return log_p
    w = mixture.weights[bucket(length)]
    if w <= 0:
        return log_p
    out: np.ndarray = np.log(np.maximum((1.0 - w) * np.exp(log_p) + w * q, _TINY))
    out[0] = log_p[0]
    return out


def fit_imitation(
    model_probs: Sequence[float], expert_probs: Sequence[float], lengths: Sequence[int]
) -> tuple[float, ...]:
    """EM for the weight of each matched-length bucket (bucket 0, no match, stays 0)."""
    from notegen.model.copying import fit_lambdas

    buckets = np.array([bucket(n) for n in lengths], np.int64)
    lam = fit_lambdas(
        np.asarray(model_probs, np.float64),
        np.nan_to_num(np.asarray(expert_probs, np.float64)),
        buckets,
        len(LENGTH_EDGES) + 1,
    )
    return lam
