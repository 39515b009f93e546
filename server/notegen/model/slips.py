"""Transcription slips: notes the model finds implausible next to a close alternative.

A hand-transcribed piece plays a slip (``:Ef5`` for ``:E5``, a wrong octave) without complaint.
For each note of a multi-voice piece the checker weighs the written pitch against its close
alternatives (a semitone, a whole tone — the neighbouring scale steps — and an octave) by these
pieces of evidence, mostly log-probabilities:

* the melody before it: the served model's distribution (LSTM + copy mixture) at that note;
  a conditioned model hears the other voices sounding at each onset (:func:`conditioning_rows`);
* the melody after it: the network's probability of the next *two* written notes given each
  alternative (a slip usually makes the following intervals implausible too);
* how many alternatives the model prefers to the written note (an ambiguous place);
* the harmony: the interval classes it forms with what the other voices sound at its onset,
  weighed by how often the section uses each (:class:`notegen.model.harmony.IntervalStats`);
* the key: how often the section uses its pitch class;
* repetition: how often the melodic shape around the note, with each pitch in place, recurs
  elsewhere in the piece, in any voice and at any transposition (:class:`MotifTable`: short
  shapes, the exact passage, and 13-note passages — a repeated strain, a subject's entries).

A note is reported when the best alternative beats the written note by more than a threshold
(the sensitivity setting moves it). Everything is computed per section from that section's
text and the tail of each voice's previous section, so a result can be cached per section.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Generator, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from notegen.model.conditioning import Setting, VoiceTimes
from notegen.model.copying import log_softmax, mix_sequence
from notegen.model.duration_slips import DurationSlip, duration_slips, in_step
from notegen.model.harmony import (
    IntervalStats,
    Part,
    Sounding,
    entering,
    on_beat,
    parts_by_section,
    pitch_class_name,
    sounding,
)
from notegen.model.motifs import MotifTable
from notegen.model.network import BOS, MelodyModel
from notegen.notes import DEFAULT_STYLE, NoteStyle, infer_style, spell
from notegen.sonicpi.lexer import tokenize
from notegen.sonicpi.reader import read
from notegen.sonicpi.types import NoteArray, Span

__all__ = [
    "DELTAS",
    "WEIGHTS",
    "Features",
    "Slip",
    "Weights",
    "conditioning_rows",
    "decide",
    "run_to_end",
    "section_features",
    "threshold_for",
]

DELTAS = np.array([-12, -2, -1, 1, 2, 12], dtype=np.int64)
"""Pitch alternatives in semitones: octave, whole tone and semitone both ways."""
CONTEXT_EVENTS = 32
"""Events of a voice's previous section read before its section (the model's left context)."""
MIN_VOICES = 2
"""Voices a section needs before its notes are checked: without other voices there is no
harmony to weigh, and the melody alone flags too many real notes."""
MIN_EVENTS = 8
"""Events a voice's section needs before its notes are checked (thin evidence below)."""

T = TypeVar("T")
YIELD_STEPS = 8
"""Model steps between two points where the background check lets other work run."""
ALT_BATCH = 448
"""Rows per model call when scoring what follows each alternative."""


@dataclass(frozen=True)
class Weights:
    """How the evidence is combined into one log-odds per alternative (a logistic model).

    For each alternative, the difference alternative − written of each piece of evidence is
    weighted and summed, with a bias per kind of alternative (:data:`DELTAS`); ``written_repeated``
    is added when the written passage occurs elsewhere exactly (then it is rarely a slip), and
    ``preferred`` times the number of alternatives the model ranks above the written note. A
    note is reported when the best alternative's sum exceeds ``threshold``.
    """

    left: float
    right: float
    right2: float
    preferred: float
    harmony: float
    key: float
    motif_long: float
    motif_short: float
    held: float
    motif_exact: float
    motif_passage: float
    written_repeated: float
    bias: tuple[float, ...]
    threshold: float


WEIGHTS = Weights(
    left=0.72,
    right=0.71,
    right2=0.86,
    preferred=-0.2,
    harmony=0.79,
    key=0.01,
    motif_long=0.24,
    motif_short=0.66,
    held=0.34,
    motif_exact=0.91,
    motif_passage=5.73,
    written_repeated=-0.98,
    bias=(-2.75, -2.79, -2.1, -2.15, -2.72, -3.34),
    threshold=4.1,
)
"""The shipped default: weights fitted (logistic regression) on slips planted in the nine
multi-voice pieces of the project's data (seeds 0-3); the threshold gives about one hint per
1,100 notes on those pieces unmodified (fewer on a piece left out of the fit).
``benchmarks/slips.py`` measures it (figures in the README)."""

EVIDENCE = (
    "left",
    "right",
    "right2",
    "preferred",
    "harmony",
    "key",
    "motif_long",
    "motif_short",
    "held",
    "motif_exact",
    "motif_passage",
    "written_repeated",
)
"""The weighed pieces of evidence, in the order of :meth:`Features.evidence`."""

SENSITIVITY_SHIFT = {"low": 1.0, "default": 0.0, "high": -1.0}
"""Threshold offsets of the ``notegen.slips.sensitivity`` setting."""


def threshold_for(sensitivity: str, weights: Weights = WEIGHTS) -> float:
    """The reporting threshold of a sensitivity level."""
    return weights.threshold + SENSITIVITY_SHIFT.get(sensitivity, 0.0)


@dataclass
class Features:
    """The evidence for every pitched note of one section, one row per note.

    Columns: the written pitch (0), then each of :data:`DELTAS`. ``valid`` is false for an
    alternative outside the model's range. ``parts``/``index`` locate the row's note.
    """

    left: np.ndarray
    right: np.ndarray
    right2: np.ndarray
    harmony: np.ndarray
    held: np.ndarray
    key: np.ndarray
    motif_long: np.ndarray
    motif_short: np.ndarray
    motif_exact: np.ndarray
    motif_passage: np.ndarray
    valid: np.ndarray
    written: np.ndarray
    parts: list[Part]
    part_of: np.ndarray
    index: np.ndarray
    sounding: list[Sounding]
    piece_key: bytes = b""
    """:func:`piece_key` of the piece whose motif table gave the motif columns."""

    def __len__(self) -> int:
        return len(self.written)

    def evidence(self) -> np.ndarray:
        """``[N, |DELTAS|, len(EVIDENCE)]``: each piece of evidence, alternative − written."""

        def diff(x: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore"):  # -inf - -inf: out of range, masked anyway
                d = np.nan_to_num(x[:, 1:] - x[:, :1], neginf=-30.0, posinf=30.0)
            return np.clip(d, -30.0, 30.0)

        voices = np.array([max(1, len(s.pitches)) for s in self.sounding], np.float64)
        shape = (len(self), len(DELTAS))
        repeated = np.broadcast_to(self.motif_exact[:, :1] > 0, shape)
        left = np.nan_to_num(self.left, neginf=-1e9)
        preferred = np.broadcast_to((left[:, 1:] > left[:, :1]).sum(axis=1)[:, None], shape)
        columns = {
            "left": diff(self.left),
            "right": diff(self.right),
            "right2": diff(self.right2),
            "preferred": preferred.astype(np.float64),
            "harmony": diff(self.harmony) / np.sqrt(voices)[:, None],
            "key": diff(self.key),
            "motif_long": diff(self.motif_long),
            "motif_short": diff(self.motif_short),
            "held": diff(self.held),
            "motif_exact": diff(self.motif_exact),
            "motif_passage": diff(self.motif_passage),
            "written_repeated": repeated.astype(np.float64),
        }
        return np.stack([columns[name] for name in EVIDENCE], axis=2)

    def usable(self) -> np.ndarray:
        """``[N, |DELTAS|]``: alternatives within the model's range (written note too)."""
        return self.valid[:, 1:] & self.valid[:, :1]

    def margins(self, weights: Weights = WEIGHTS) -> np.ndarray:
        """``[N, |DELTAS|]`` log-odds that each alternative, not the written note, was meant
        (``-inf`` where the alternative is out of range)."""
        coef = np.array([getattr(weights, name) for name in EVIDENCE])
        m = self.evidence() @ coef + np.asarray(weights.bias)[None, :]
        return np.where(self.usable(), m, -np.inf)


def _empty_features(parts: list[Part]) -> Features:
    z = np.zeros((0, len(DELTAS) + 1))
    return Features(
        z,
        z,
        z,
        z,
        z,
        z,
        z,
        z,
        z,
        z,
        z.astype(bool),
        np.zeros(0),
        parts,
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        [],
    )


def run_to_end(steps: Generator[None, None, T]) -> T:
    """The value of a step generator run without pausing: the same work as the steps an
    editor interleaves with its requests, for callers that have nothing to interleave."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def section_features(
    model: MelodyModel,
    parts: Sequence[Part],
    previous: dict[int, Part] | None = None,
    min_events: int = MIN_EVENTS,
    motifs: MotifTable | None = None,
) -> Features:
    """:func:`section_steps` run to the end."""
    steps = section_steps(model, parts, previous, min_events, motifs)
    return run_to_end(steps)


def section_steps(
    model: MelodyModel,
    parts: Sequence[Part],
    previous: dict[int, Part] | None = None,
    min_events: int = MIN_EVENTS,
    motifs: MotifTable | None = None,
) -> Generator[None, None, Features]:
    """The evidence for every pitched, non-chord note of one section's ``parts``; a generator
    that yields every :data:`YIELD_STEPS` model steps and returns the :class:`Features`.

    ``previous`` maps a voice to its previous section, whose last :data:`CONTEXT_EVENTS`
    events the model reads first. Parts with fewer than ``min_events`` events are heard (as
    harmony) but not checked. ``motifs`` is the whole piece's table (default: the section's).
    """
    parts = list(parts)
    if not parts:
        return _empty_features(parts)
    stats = IntervalStats(parts)
    motifs = motifs if motifs is not None else MotifTable(parts)
    yield
    rows_left: list[np.ndarray] = []
    rows_right: list[np.ndarray] = []
    rows_right2: list[np.ndarray] = []
    rows_harm: list[np.ndarray] = []
    rows_key: list[np.ndarray] = []
    rows_held: list[np.ndarray] = []
    rows_motif: list[np.ndarray] = []
    rows_valid: list[np.ndarray] = []
    written: list[float] = []
    part_of: list[int] = []
    index: list[int] = []
    sounds: list[Sounding] = []
    melodies = [_melody(part, (previous or {}).get(part.voice)) for part in parts]
    conds = conditioning_rows(model, parts, previous or {}) if model.cond_dim else None
    left_all, right_all, right2_all = yield from _model_scores(model, melodies, conds)
    for p, part in enumerate(parts):
        yield  # one part's evidence at a time
        if len(part) < min_events:
            continue
        others = [q for q in parts if q is not part]
        here, enter = sounding(part, others), entering(part, others)
        ctx = len(melodies[p][0]) - len(part)
        for t in range(len(part)):
            if t % 64 == 63:
                yield
            midi = part.pitches[t]
            if not math.isfinite(midi) or len(part.chords[t]) != 1 or not float(midi).is_integer():
                continue
            cands = midi + np.concatenate([[0], DELTAS]).astype(np.float64)
            valid = (cands >= model.lo) & (cands <= model.hi)
            rows_left.append(left_all[p][ctx + t])
            rows_right.append(right_all[p][ctx + t])
            rows_right2.append(right2_all[p][ctx + t])
            rows_harm.append(stats.harmony_score(cands, here[t], on_beat(part.onsets[t])))
            rows_motif.append(motifs.support(part, t, cands))
            rows_held.append(stats.held_score(cands, enter[t]))
            key = stats.pitch_class[np.rint(cands).astype(np.int64) % 12].copy()
            rows_key.append(key)
            rows_valid.append(valid)
            written.append(midi)
            part_of.append(p)
            index.append(t)
            sounds.append(here[t])
    if not written:
        return _empty_features(parts)
    return Features(
        np.array(rows_left),
        np.array(rows_right),
        np.array(rows_right2),
        np.array(rows_harm),
        np.array(rows_held),
        np.array(rows_key),
        np.array([m[0] for m in rows_motif]),
        np.array([m[1] for m in rows_motif]),
        np.array([m[2] for m in rows_motif]),
        np.array([m[3] for m in rows_motif]),
        np.array(rows_valid),
        np.array(written),
        parts,
        np.array(part_of, np.int64),
        np.array(index, np.int64),
        sounds,
    )


def _melody(part: Part, previous: Part | None) -> tuple[np.ndarray, np.ndarray]:
    """The pitches and durations the model reads for ``part``: context tail, then the part."""
    if previous is None:
        return part.pitches, part.durations
    pitches = np.concatenate([previous.pitches[-CONTEXT_EVENTS:], part.pitches])
    durations = np.concatenate([previous.durations[-CONTEXT_EVENTS:], part.durations])
    return pitches, durations


def _tail(part: Part, previous: Part | None) -> tuple[VoiceTimes, int]:
    """A voice on the section's time line (beat 0 = the section's start): its previous
    section's last :data:`CONTEXT_EVENTS` events ending at 0, then the part; and how many
    events come before the part."""
    pitches, durations = _melody(part, previous)
    ctx = len(pitches) - len(part)
    ends = np.cumsum(durations) - float(durations[:ctx].sum())
    return VoiceTimes(ends - durations, ends, np.asarray(pitches, np.float64)), ctx


def conditioning_rows(
    model: MelodyModel, parts: Sequence[Part], previous: dict[int, Part]
) -> list[np.ndarray]:
    """Per part, the conditioned model's rows ``[T + 1, C]`` for its melody (context tail, then
    the part; the last row for what follows): the other voices sounding at each onset, as the
    server gives them when completing (metre and distance to the end unknown)."""
    times = [_tail(part, previous.get(part.voice))[0] for part in parts]
    out = []
    for p, voice in enumerate(times):
        others = tuple(v for q, v in enumerate(times) if q != p)
        onsets = np.concatenate([voice.onsets, voice.ends[-1:]])
        out.append(Setting(others=others).rows_at(onsets, 0))
    return out


def _model_scores(
    model: MelodyModel,
    melodies: list[tuple[np.ndarray, np.ndarray]],
    conds: list[np.ndarray] | None = None,
) -> Generator[None, None, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]]:
    """Per melody, per event ``t``: the served log-probability of each candidate at ``t``
    (``[T, 1 + |DELTAS|]``) and the network's log-probability of event ``t+1``'s pitch after
    each candidate (zeros for the last event: nothing follows).

    All melodies are read together, one batch row each, one event per step; the state before
    each event is where every alternative of that event is fed from. ``conds``: each melody's
    conditioning rows (:func:`conditioning_rows`) for a model that has them.
    """
    offsets = np.concatenate([[0], DELTAS]).astype(np.float64)
    n = len(melodies)
    encoded = [model.encode_values(p, d) for p, d in melodies]
    lengths = [len(p) for p, _ in encoded]
    steps = max(lengths)
    pid = np.full((n, steps + 1), BOS, np.int64)
    did = np.full((n, steps + 1), BOS, np.int64)
    for r, (p, d) in enumerate(encoded):
        pid[r, 1 : len(p) + 1] = p
        did[r, 1 : len(d) + 1] = d
    vp, vd = len(model.pitch_vocab), len(model.duration_vocab)
    cond = None
    if conds is not None:
        cond = np.zeros((n, steps + 1, model.cond_dim), np.float32)
        for r, rows in enumerate(conds):
            cond[r, : len(rows)] = rows
    pitch_logits = np.zeros((n, steps + 1, vp), np.float32)
    dur_logits = np.zeros((n, steps + 1, vd), np.float32)
    cand_ids = []
    for pitches, _ in melodies:
        c = pitches[:, None] + offsets[None, :]
        ok = np.isfinite(c) & (c >= model.lo) & (c <= model.hi)
        ids, _ = model.encode_values(c.ravel(), np.ones(c.size))
        cand_ids.append(np.where(ok, ids.reshape(c.shape), 0))
    right = [np.zeros((length, len(offsets))) for length in lengths]
    right2 = [np.zeros((length, len(offsets))) for length in lengths]
    # alternatives waiting to be fed: (row, t, state h, state c) gathered per step
    pending: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    state = model.initial_state(n)
    for j in range(steps + 1):
        pl, dl, new_state = model.step(
            pid[:, j], did[:, j], state, None if cond is None else cond[:, j], joint=True
        )
        pitch_logits[:, j] = pl
        dur_logits[:, j] = dl
        # state after token j predicts event j (token j+1): feed the alternatives of event j
        for r in range(n):
            if j < lengths[r] - 1 and j >= 0:
                pending.append((r, j, new_state[0][:, r], new_state[1][:, r]))
        state = new_state
        if len(pending) * len(offsets) >= ALT_BATCH or (j == steps and pending):
            _feed_alternatives(
                model, pending, cand_ids, encoded, pid, did, right, right2, offsets, cond
            )
            pending = []
            yield  # a completion waiting for the inference thread goes first
        elif j % YIELD_STEPS == YIELD_STEPS - 1:
            yield
    left: list[np.ndarray] = []
    for r, (pids, dids) in enumerate(encoded):
        length = lengths[r]
        lp = log_softmax(pitch_logits[r, : length + 1])
        ld = log_softmax(dur_logits[r, : length + 1])
        if model.mixture is not None:
            lp, ld = mix_sequence(model.mixture, lp, ld, model.joint_ids(pids, dids))
        ids = cand_ids[r]
        rows = np.take_along_axis(lp[:length], ids, axis=1)
        left.append(np.where(ids > 0, rows, -np.inf))
        yield
    return left, right, right2


def _feed_alternatives(
    model: MelodyModel,
    pending: list[tuple[int, int, np.ndarray, np.ndarray]],
    cand_ids: list[np.ndarray],
    encoded: list[tuple[np.ndarray, np.ndarray]],
    pid: np.ndarray,
    did: np.ndarray,
    right: list[np.ndarray],
    right2: list[np.ndarray],
    offsets: np.ndarray,
    cond: np.ndarray | None = None,
) -> None:
    """Feed each pending event's candidates from the state before it; score the next pitch.

    ``state`` in ``pending`` is the state after the token before event ``t`` (so after ``<bos>``
    for ``t == 0``): feeding a candidate there gives the distribution of event ``t+1``.
    """
    k = len(offsets)
    h = np.stack([s[2] for s in pending], axis=1).repeat(k, axis=1)
    c = np.stack([s[3] for s in pending], axis=1).repeat(k, axis=1)
    feed_p = np.concatenate([cand_ids[r][t] for r, t, _, _ in pending])
    feed_d = np.concatenate([np.full(k, did[r, t + 1]) for r, t, _, _ in pending])
    feed_p = np.where(feed_p > 0, feed_p, 2)  # a rest's "candidates": any note, unused
    rows = None
    if cond is not None:  # the candidate for event t is read at step t + 1
        rows = np.concatenate(
            [np.repeat(cond[r, t + 1][None], k, axis=0) for r, t, _, _ in pending]
        )
    pl, _, after = model.step(feed_p, feed_d, (h, c), rows, joint=True)
    lp = log_softmax(pl)
    for n_row, (r, t, _, _) in enumerate(pending):
        target = encoded[r][0][t + 1]
        right[r][t] = lp[n_row * k : (n_row + 1) * k, target]
    # then the written event t + 1 after each candidate: how likely event t + 2 still is
    next_p = np.concatenate([np.full(k, pid[r, t + 2]) for r, t, _, _ in pending])
    next_d = np.concatenate([np.full(k, did[r, t + 2]) for r, t, _, _ in pending])
    if cond is not None:
        rows = np.concatenate(
            [np.repeat(cond[r, t + 2][None], k, axis=0) for r, t, _, _ in pending]
        )
    pl, _, _ = model.step(next_p, next_d, after, rows, joint=True)
    lp = log_softmax(pl)
    for n_row, (r, t, _, _) in enumerate(pending):
        if t + 2 < len(encoded[r][0]):
            right2[r][t] = lp[n_row * k : (n_row + 1) * k, encoded[r][0][t + 2]]


@dataclass(frozen=True)
class Fix:
    """One alternative: the MIDI number and how many times more likely it scored."""

    midi: int
    ratio: float


@dataclass(frozen=True)
class Slip:
    """A note the checker reports: where, what is written, the alternatives, and why."""

    span: Span
    voice: int
    section: int
    index: int
    written: int
    fixes: tuple[Fix, ...]
    message: str
    score: float


def decide(
    features: Features,
    weights: Weights = WEIGHTS,
    threshold: float | None = None,
    style: NoteStyle = DEFAULT_STYLE,
) -> list[Slip]:
    """The notes whose best alternative beats the written pitch by more than ``threshold``."""
    if not len(features):
        return []
    threshold = weights.threshold if threshold is None else threshold
    margin = features.margins(weights)
    best = margin.max(axis=1)
    out: list[Slip] = []
    for row in np.nonzero(best > threshold)[0].tolist():
        part = features.parts[features.part_of[row]]
        t = int(features.index[row])
        written = int(features.written[row])
        order = np.argsort(-margin[row])
        fixes = tuple(
            Fix(written + int(DELTAS[c]), float(math.exp(min(margin[row, c], 50.0))))
            for c in order.tolist()
            if margin[row, c] > threshold
        )
        message = _message(features, row, fixes[0], style)
        out.append(
            Slip(
                part.array.notes[t].span,
                part.voice,
                part.section,
                t,
                written,
                fixes,
                message,
                float(best[row]),
            )
        )
    return out


def _times(ratio: float) -> str:
    if ratio >= 1000:
        return "over 1000×"
    return f"{ratio:.0f}×"


def _note_name(midi: int, style: NoteStyle) -> str:
    """``E♭5``: the pitch class as the style spells it, with its octave."""
    flats = style.accidental == "flat"
    return f"{pitch_class_name(midi, flats)}{midi // 12 - 1}"


def _message(features: Features, row: int, fix: Fix, style: NoteStyle) -> str:
    """Why, in musical terms: against the other voices when the harmony decides it,
    otherwise in the melody (a leap of an octave, an unlikely step)."""
    written = int(features.written[row])
    flats = style.accidental == "flat"
    here = features.sounding[row]
    col = 1 + DELTAS.tolist().index(fix.midi - written)
    harmony_gain = features.harmony[row, col] - features.harmony[row, 0]
    name, alt = _note_name(written, style), _note_name(fix.midi, style)
    tail = f"{alt} is {_times(fix.ratio)} more likely here"
    if here.pitches and harmony_gain > 1.0:
        classes: list[int] = []
        for midi in sorted(here.pitches):
            pc = round(midi) % 12
            if pc not in classes:
                classes.append(pc)
        chord = "–".join(pitch_class_name(pc, flats) for pc in classes)
        return f"{name} against {chord} in the other voices; {tail}"
    if abs(fix.midi - written) == 12:
        return f"{name} is an octave away from the melody around it; {tail}"
    return f"{name} is unlikely in this melody; {tail}"


def spelled_fix(fix: Fix, style: NoteStyle) -> str:
    """The fix's replacement text in the piece's spelling (``:E5``, ``:ef5``, …)."""
    return spell(fix.midi, style)


def section_key(parts: Sequence[Part], previous: dict[int, Part]) -> tuple:
    """What a section's evidence depends on besides the piece's motif table: its parts'
    pitches, chords and durations, and the context tail of each voice's previous section."""
    key: list[object] = []
    for part in parts:
        before = previous.get(part.voice)
        tail = (
            (
                before.pitches[-CONTEXT_EVENTS:].tobytes(),
                before.durations[-CONTEXT_EVENTS:].tobytes(),
            )
            if before is not None
            else None
        )
        key.append(
            (part.voice, part.pitches.tobytes(), part.durations.tobytes(), tuple(part.chords), tail)
        )
    return tuple(key)


def piece_key(parts: dict[int, dict[int, Part]]) -> bytes:
    """A digest of every pitch of the piece: what its motif table depends on."""
    digest = hashlib.blake2b(digest_size=12)
    for number in sorted(parts):
        for voice in sorted(parts[number]):
            digest.update(f"{number}:{voice}:".encode())
            digest.update(np.ascontiguousarray(parts[number][voice].pitches, np.float64).tobytes())
    return digest.digest()


def with_motifs(
    features: Features, motifs: MotifTable, key: bytes
) -> Generator[None, None, Features]:
    """Cached evidence with its motif columns recomputed from the piece as it is now (an edit
    elsewhere in the piece changes which passages recur; the model's evidence stays)."""
    columns = np.zeros((4, len(features), len(DELTAS) + 1))
    for row, (p, t) in enumerate(
        zip(features.part_of.tolist(), features.index.tolist(), strict=True)
    ):
        if row % 256 == 255:
            yield
        cands = features.written[row] + np.concatenate([[0], DELTAS]).astype(np.float64)
        columns[:, row] = motifs.support(features.parts[p], t, cands)
    return replace(
        features,
        motif_long=columns[0],
        motif_short=columns[1],
        motif_exact=columns[2],
        motif_passage=columns[3],
        piece_key=key,
    )


def with_parts(features: Features, parts: Sequence[Part]) -> Features:
    """Cached evidence re-attached to the same section read from a newer text (same content,
    new offsets), so its hints land where the notes are now."""
    by_voice = {p.voice: p for p in parts}
    return replace(features, parts=[by_voice[p.voice] for p in features.parts])


@dataclass(frozen=True)
class CheckedSection:
    """One section as the checker sees it: the parts whose pitches are weighed, the previous
    part of each voice (model context), and the section's duration slips.

    Voices out of step (their section's length is not the one most voices share) are left out
    of the pitch check, as checked notes and as harmony
    (:func:`notegen.model.duration_slips.in_step`);
    a single such voice has its slipped duration looked for instead.
    """

    number: int
    parts: list[Part]
    previous: dict[int, Part]
    durations: list[DurationSlip]


def checked_sections(
    parts: dict[int, dict[int, Part]], every_piece: bool = False
) -> Iterator[CheckedSection]:
    """The sections to check, in section order (lazily: each costs a few milliseconds).

    Off for sections with fewer than :data:`MIN_VOICES` voices unless ``every_piece`` (the
    setting that turns the check on for every piece).
    """
    last: dict[int, Part] = {}
    for number in sorted(parts):
        section = list(parts[number].values())
        previous = dict(last)
        if every_piece or len(section) >= MIN_VOICES:
            pitched = in_step(section)
            if len(pitched) < MIN_VOICES and not every_piece:
                pitched = []
            yield CheckedSection(number, pitched, previous, duration_slips(section))
        for part in section:
            last[part.voice] = part


IGNORE_RE = re.compile(r"notegen:\s*ignore\b([\s0-9,]*)")
"""``# notegen: ignore`` (every note of the line) or ``# notegen: ignore 12, 37`` (those
elements, by their Ruby index in their array) in a comment on a note's line."""


def ignored_lines(text: str) -> dict[int, set[int] | None]:
    """Line number → element indices to leave alone there (``None``: all of them)."""
    out: dict[int, set[int] | None] = {}
    for tok in tokenize(text):
        if tok.kind != "comment":
            continue
        match = IGNORE_RE.search(tok.value)
        if match is None:
            continue
        line = text.count("\n", 0, tok.start)
        numbers = {int(n) for n in re.findall(r"[0-9]+", match.group(1))}
        if not numbers:
            out[line] = None
        elif line not in out or out[line] is not None:
            out[line] = (out.get(line) or set()) | numbers
    return out


def is_ignored(slip: Slip | DurationSlip, text: str, ignored: dict[int, set[int] | None]) -> bool:
    """Whether an ignore comment on the slip's line covers it."""
    line = text.count("\n", 0, slip.span.start)
    if line not in ignored:
        return False
    indices = ignored[line]
    return indices is None or slip.index in indices


def document_steps(
    model: MelodyModel,
    text: str,
    arrays: Sequence[NoteArray],
    *,
    threshold: float | None = None,
    every_piece: bool = False,
    cache: MutableMapping[tuple, Features] | None = None,
    style: NoteStyle = DEFAULT_STYLE,
) -> Generator[None, None, list[Slip | DurationSlip]]:
    """Every slip of a document, section by section; a generator (see :func:`section_steps`).

    ``cache`` maps :func:`section_key` to a section's evidence: an edit recomputes only the
    sections whose notes (or previous section's tail) it changed; the motif evidence of a cached
    section is recomputed (without the model) when the piece's pitches changed elsewhere.
    """
    parts = parts_by_section(arrays)
    key_now = piece_key(parts)
    motifs: MotifTable | None = None
    ignored = ignored_lines(text)
    out: list[Slip | DurationSlip] = []
    yield
    for checked in checked_sections(parts, every_piece):
        section, previous = checked.parts, checked.previous
        key = section_key(section, previous)
        features = cache.get(key) if cache is not None else None
        if features is None:
            if motifs is None:
                motifs = MotifTable(p for s in parts.values() for p in s.values())
                yield
            min_events = 1 if every_piece else MIN_EVENTS
            features = yield from section_steps(model, section, previous, min_events, motifs)
            features = replace(features, piece_key=key_now)
            if cache is not None:
                cache[key] = features
        else:
            features = with_parts(features, section)
            if features.piece_key != key_now and len(features):
                if motifs is None:
                    motifs = MotifTable(p for s in parts.values() for p in s.values())
                    yield
                features = yield from with_motifs(features, motifs, key_now)
                if cache is not None:
                    cache[key] = features
        found: list[Slip | DurationSlip] = [*decide(features, threshold=threshold, style=style)]
        found += checked.durations
        out.extend(s for s in found if not is_ignored(s, text, ignored))
    return out


def find_slips(
    model: MelodyModel,
    text: str,
    *,
    threshold: float | None = None,
    every_piece: bool = False,
    style: NoteStyle | None = None,
) -> list[Slip | DurationSlip]:
    """Every slip of a Sonic Pi text (:func:`document_steps` run to the end, no cache)."""
    steps = document_steps(
        model,
        text,
        read(text),
        threshold=threshold,
        every_piece=every_piece,
        style=style or infer_style(text),
    )
    return run_to_end(steps)
