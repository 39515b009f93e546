"""Step-wise melody generation and next-note ranking on top of
:class:`~notegen.model.network.MelodyModel`.

The model is stateful, so a context is read once (through
:class:`~notegen.model.context_cache.ContextCache`, which keeps the state after recently seen
contexts) and every generated note costs one batch-1 step: N notes = N steps.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from notegen.melody import Event
from notegen.model.conditioning import Setting
from notegen.model.context_cache import ContextCache, Primed, trim_context
from notegen.model.copying import CopyIndex, CopyMixture, log_softmax, mix_indexed, mix_step
from notegen.model.generate_options import GenerateOptions
from notegen.model.network import BOS, MelodyModel, State
from notegen.model.repeats import RepeatCounter
from notegen.model.rhythm import rhythm_context
from notegen.model.sampling import (
    Sampler,
    fold_masked,
    parse_scale,
    pitch_class_mask,
    softmax,
)
from notegen.scales import SCALES

R = TypeVar("R")

_TINY = 1e-30  # as notegen.model.copying: the floor of a mixed probability

__all__ = [
    "Candidate",
    "generate",
    "generate_long",
    "generate_rows",
    "next_note_candidates",
    "parallel_rows",
    "row_distributions",
]


@dataclass(frozen=True)
class Candidate:
    """One possible next note: MIDI (``None`` = rest), probability, suggested duration."""

    pitch: int | None
    probability: float
    duration: float


def _pitch_mask(model: MelodyModel, tonic: int | None, scale: str | None) -> np.ndarray:
    """Allowed pitch ids: never ``<bos>``; with a key, only the notes of that scale (and rest)."""
    if tonic is None or scale is None:
        mask = np.ones(len(model.pitch_vocab), dtype=bool)
    else:
        entries = [None, None, *model.pitch_vocab[2:]]
        mask = pitch_class_mask(entries, tonic, scale)
    mask[BOS] = False
    return mask


def next_note_ranking(model: MelodyModel, primed: Primed) -> tuple[np.ndarray, np.ndarray, float]:
    """Every next pitch id's probability, the ids most likely first (ties in id order, no
    ``<bos>``), and the most likely next duration."""
    probs = softmax(primed.pitch_logits)
    probs[BOS] = 0.0
    order = np.argsort(-probs, kind="stable")
    order = order[order != BOS]
    dur_probs = softmax(primed.dur_logits)
    dur_probs[BOS] = 0.0
    return probs, order, model.duration_of(int(np.argmax(dur_probs)))


def next_note_candidates(model: MelodyModel, primed: Primed, limit: int) -> list[Candidate]:
    """The ``limit`` most likely next events (notes and rest), most likely first."""
    probs, order, duration = next_note_ranking(model, primed)
    return [
        Candidate(model.pitch_of(int(i)), float(probs[i]), duration) for i in order[: max(0, limit)]
    ]


SHORT_GENERATION = 32
"""Up to this many events (phrases, ghost text) the copy model is queried without an index."""
RHYTHM_WINDOW = 2048
"""The last events of a generation's history its rhythm experts read at each note (all of
them up to this many). Their search of the voice's own durations takes time in proportion
to what it reads: read whole, a 100,000-note continueMelody took ~3 minutes, each note
slower than the last (36,000 notes: ~0.8 ms a note, ~0.6 at 3,000, measured)."""


def generate(
    model: MelodyModel,
    context: Sequence[Event],
    count: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    tonic: int | None = None,
    scale: str | None = None,
    max_context: int = 256,
    cache: ContextCache | None = None,
    primed: Primed | None = None,
    setting: Setting | None = None,
    ending: bool = False,
) -> list[Event]:
    """Continue ``context`` with ``count`` sampled events (pitch and duration): all of
    :func:`generate_steps` at once."""
    return finish_steps(
        generate_steps(
            model,
            context,
            count,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            tonic=tonic,
            scale=scale,
            max_context=max_context,
            cache=cache,
            primed=primed,
            setting=setting,
            ending=ending,
        )
    )


def finish_steps(steps: Generator[None, None, R]) -> R:
    """Run stepwise work (:func:`generate_steps`) to its end; its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def generate_steps(
    model: MelodyModel,
    context: Sequence[Event],
    count: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    tonic: int | None = None,
    scale: str | None = None,
    max_context: int = 256,
    cache: ContextCache | None = None,
    primed: Primed | None = None,
    setting: Setting | None = None,
    ending: bool = False,
) -> Generator[None, None, list[Event]]:
    """:func:`generate` one model step at a time: it yields after each step and returns the
    events, so a phrase nobody waits for yet can be computed between requests
    (:meth:`notegen.lsp.engine.Engine.later`) and finished by the first that needs it.

    Continue ``context`` with ``count`` sampled events (pitch and duration).

    The first event is drawn from the served next-event distribution (what completion
    ranks); later ones from the model's ``sampling_mixture``, whose copy weights are damped so
    the melody cannot feed on its own output. Reproducible: the same model, context and
    arguments give the same events. ``primed``
    (the model already past the context) skips reading ``context``. With ``tonic``
    and ``scale`` every pitch is drawn from that Sonic Pi scale (the mass of notes outside it
    moves to the nearest scale note in the same direction:
    :func:`notegen.model.sampling.fold_masked`);
    rests stay possible. A conditioned model hears ``setting`` (other voices, metre); with
    ``ending`` it is told how many notes are left, so the last of them ends the melody, and
    with a ``tonic`` too its last notes are a cadence chosen by :func:`_cadence` among
    endings sampled from the model, weighted by the model's chance of a long tonic.
    """
    if count <= 0:
        return []
    if primed is None:
        primed, setting = _prime_context(model, context, max_context, cache, setting)
    sampler = Sampler(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    pmask = _pitch_mask(model, tonic, scale)
    chooser = _PitchChooser(model, pmask, primed.history, setting)
    ahead = _Ahead(model, primed, count if ending else 0, setting)
    dmask = np.ones(len(model.duration_vocab), dtype=bool)
    dmask[BOS] = False
    state = primed.state
    pl, dl = primed.pitch_logits, primed.dur_logits
    mixture = model.sampling_mixture
    vd = len(model.duration_vocab)
    rhythm = model.sampling_rhythm
    heard = setting  # the rhythm experts' time line starts where the history does (a hidden
    if rhythm is not None and setting is not None:  # prelude is heard, not in the history)
        heard = setting.later(primed.time - model.beats_of(primed.history % vd))
    voices = rhythm_context(heard, model.durations) if rhythm is not None else None
    # The copy model's matches: a phrase of a few notes asks one vectorised query per step of
    # the history; a long generation keeps an incremental index (its build costs ~4 µs per
    # context event, more than a phrase's queries). Both give the same matches.
    short = count <= SHORT_GENERATION
    copies = CopyIndex(mixture.max_order, primed.history) if mixture and not short else None
    history = np.empty(len(primed.history) + count, dtype=np.int64)
    history[: len(primed.history)] = primed.history
    known = len(primed.history)
    p_in = np.empty((1, 1), dtype=np.int64)
    d_in = np.empty((1, 1), dtype=np.int64)
    out: list[Event] = []
    network: np.ndarray | None = None  # the first event comes from the served distribution
    network_log: np.ndarray | None = None  # its log_softmax, where the copy mix made it
    beats: float | None = None  # (the history's beats, kept once past RHYTHM_WINDOW)
    tail = cadence_notes(count, ending, tonic)
    for i in range(count - tail):
        pid = chooser.sample(sampler, pl, network, ahead.onset(0), network_log)
        did = sampler.sample(dl, dmask)
        out.append(Event(model.pitch_of(pid), model.duration_of(did)))
        if i + 1 < count:
            p_in[0, 0] = pid
            d_in[0, 0] = did
            cond = ahead.rows(np.array([model.duration_of(did)]))
            pls, dls, state = model.step(p_in, d_in, state, cond)
            yield
            network = pls[0]
            history[known] = pid * vd + did
            known += 1
            if mixture is None:
                pl, dl = pls[0], dls[0]
            elif copies is not None:
                copies.append(pid * vd + did)
                pl, dl = mix_indexed(mixture, pls[0], dls[0], copies)
            else:  # (the network's log-probs serve the copy mix and the repeat's share)
                network_log = log_softmax(network)
                logs = (network_log, log_softmax(dls[0]))
                pl, dl = mix_step(mixture, *logs, history[:known], normalized=True)
            if rhythm is not None:
                if known <= RHYTHM_WINDOW:
                    dl = model.mix_rhythm(dl, history[:known] % vd, heard, rhythm, voices)
                else:
                    if beats is None:
                        beats = model.beats_of(history[: known - 1] % vd)
                    beats += float(model.durations[did - 1])
                    own = history[known - RHYTHM_WINDOW : known] % vd
                    dl = model.mix_rhythm(dl, own, heard, rhythm, voices, beats=beats)
    if tail:
        here = Primed(state, pl, dl, known, history[:known], float(ahead.times[0]), network)
        assert tonic is not None
        out += _cadence(model, here, tail, tonic, pmask, sampler, sampler.rng, setting)
    return out


def _prime_context(
    model: MelodyModel,
    context: Sequence[Event],
    max_context: int,
    cache: ContextCache | None,
    setting: Setting | None,
) -> tuple[Primed, Setting | None]:
    """The model after the last ``max_context`` events of ``context`` (from ``cache`` when
    given), and ``setting`` moved to where those events start."""
    cut = trim_context(len(context), max_context)
    if setting is not None and cut:
        setting = setting.later(model.beats_of(model.encode(list(context)[:cut])[1]))
    context = list(context)[cut:]
    if cache is not None:
        return cache.prime(context, setting=setting), setting
    return _prime(model, context, setting=setting), setting


def generate_long(
    model: MelodyModel,
    context: Sequence[Event],
    count: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    max_context: int = 256,
    cache: ContextCache | None = None,
    setting: Setting | None = None,
) -> list[Event]:
    """:func:`generate` for a continuation of any length: from ``2 * PARALLEL_MIN_NOTES``
    notes on it is sampled as the parallel rows a long block is (:func:`generate_rows`), one
    after the other in the melody, each continuing ``context``.

    Why: one row is one model step per note (~0.66 ms with sampling, on a 2-CPU VM), so
    continueMelody's 100,000 notes took 69 s in one row, longer than a client waits; in 16
    rows a step serves 16 notes. The price is the block's: a fresh start from ``context``
    every ``count / rows`` notes, and the rows do not hear the rhythm experts."""
    rows = parallel_rows(count)
    if rows == 1:
        return generate(
            model,
            context,
            count,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            max_context=max_context,
            cache=cache,
            setting=setting,
        )
    primed, setting = _prime_context(model, context, max_context, cache, setting)
    sizes = [count * (r + 1) // rows - count * r // rows for r in range(rows)]
    made = generate_rows(
        model,
        (),
        sizes,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        primed=primed,
        setting=setting,
    )
    return [event for row in made for event in row]


PARALLEL_MIN_NOTES = 320
"""A block gets one parallel row per this many notes (a shorter block is one continuous row)."""
MAX_ROWS = 16
"""Batch rows per model call: past ~16 a step costs about as much per row as batch 1 does."""


def parallel_rows(count: int) -> int:
    """How many rows to sample ``count`` notes in: 1 below ``2 * PARALLEL_MIN_NOTES``.

    A batch-1 step of the 2 x 384 LSTM costs ~110 µs of CPU, a batch-16 step ~350 µs: 16 rows
    make a 5,000-note block ~5x cheaper, at the price of a fresh start every few hundred notes.
    """
    return max(1, min(MAX_ROWS, count // PARALLEL_MIN_NOTES))


def generate_rows(
    model: MelodyModel,
    context: Sequence[Event],
    sizes: Sequence[int],
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    tonic: int | None = None,
    scale: str | None = None,
    max_context: int = 256,
    primed: Primed | None = None,
    setting: Setting | None = None,
    ending: bool = False,
) -> list[list[Event]]:
    """Several continuations of ``context`` at once, row ``r`` of ``sizes[r]`` events.

    ``primed`` (the model already past ``context``) skips reading it, as in :func:`generate`.

    The rows are batch rows of one model call per step (``max(sizes)`` calls in all), each
    with its own LSTM state and within-melody copy index; they are sampled from one seeded
    generator, so the same arguments give the same rows. Each row is sampled from exactly the
    distribution :func:`generate` samples from (same mask, temperature, top-k, top-p and copy
    mixture); only the random draws differ.
    """
    sizes = [max(0, int(n)) for n in sizes]
    steps = max(sizes, default=0)
    if steps == 0:
        return [[] for _ in sizes]
    if len(sizes) == 1:
        one = generate(
            model,
            context,
            sizes[0],
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            tonic=tonic,
            scale=scale,
            max_context=max_context,
            primed=primed,
            setting=setting,
            ending=ending,
        )
        return [one]
    if primed is None:
        context = list(context)[trim_context(len(context), max_context) :]
        primed = _prime(model, context, setting=setting)
    check = Sampler(temperature=temperature, top_k=top_k, top_p=top_p)  # validates arguments
    rng = np.random.default_rng(seed)
    pmask = _pitch_mask(model, tonic, scale)
    # Only the last row ends the block; the others are continued by the next row.
    left = [0] * len(sizes)
    left[-1] = sizes[-1] if ending else 0
    tail = cadence_notes(sizes[-1], ending, tonic)
    made, here = _batch(
        model,
        primed,
        sizes,
        check,
        rng,
        pmask,
        setting,
        left,
        sizes[-1] - tail if tail else -1,
        starts=_row_starts(model, primed, sizes),
    )
    if tail and here is not None and tonic is not None:
        body = made[-1][: sizes[-1] - tail]
        made[-1] = body + _cadence(model, here, tail, tonic, pmask, check, rng, setting)
    return made


def _row_starts(model: MelodyModel, primed: Primed, sizes: Sequence[int]) -> np.ndarray:
    """Where each of consecutive rows of ``sizes`` events is expected to start, in beats
    after ``primed``: the events before it at the context's mean length (the model's default
    length without a context). A row hears the other voices from there, not from where the
    first row does (a 5,000-note block's last row heard the piece's opening)."""
    vd = len(model.duration_vocab)
    played = primed.history % vd
    mean = model.beats_of(played) / len(played) if len(played) else 0.0
    if mean <= 0:
        mean = float(model.default_duration)
    before = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return before * mean


def _batch(
    model: MelodyModel,
    primed: Primed,
    sizes: Sequence[int],
    check: Sampler,
    rng: np.random.Generator,
    pmask: np.ndarray,
    setting: Setting | None,
    left: Sequence[int],
    snap_at: int = -1,
    close: _Close | None = None,
    scores: np.ndarray | None = None,
    starts: np.ndarray | None = None,
) -> tuple[list[list[Event]], Primed | None]:
    """Rows of ``sizes`` events sampled together from ``primed`` (:func:`generate_rows`);
    ``left``: the notes-left count each row starts from (0: unknown). With ``snap_at`` ≥ 0
    also the last row's model after its first ``snap_at`` events, where an ending starts.
    ``close`` draws the last step's events instead of the plain sampler (:func:`_cadence`);
    its rows hear the rhythm experts as :func:`generate` does (the parallel rows of a long
    block do not: per row and step they would cost several model steps). ``scores``: each
    row's log-probability of its events before the last under the model (temperature 1, as
    generation samples it) is added there. ``starts``: each row's start in beats after
    ``primed`` on the other voices' time line (all 0: alternatives of one place)."""
    rows, steps = len(sizes), max(sizes)
    choosers = [_PitchChooser(model, pmask, primed.history, setting) for _ in range(rows)]
    ahead = _Ahead(model, primed, 0, setting, rows=rows, left=left, starts=starts)
    dmask = np.ones(len(model.duration_vocab), dtype=bool)
    dmask[BOS] = False
    h, c = primed.state
    state: State = (np.repeat(h, rows, axis=1), np.repeat(c, rows, axis=1))
    lp = np.repeat(primed.pitch_logits[None, :], rows, axis=0)
    ld = np.repeat(primed.dur_logits[None, :], rows, axis=0)
    mixture = model.sampling_mixture
    copies = [CopyIndex(mixture.max_order, primed.history)] if mixture else []
    for _ in range(1, rows if mixture else 0):
        copies.append(_copy_index(copies[0]))
    vd = len(model.duration_vocab)
    rhythm = model.sampling_rhythm if close is not None else None
    heard = setting
    if rhythm is not None and setting is not None:  # its time line starts where history does
        heard = setting.later(primed.time - model.beats_of(primed.history % vd))
    pids = np.empty((rows, steps), dtype=np.int64)
    dids = np.empty((rows, steps), dtype=np.int64)
    network: np.ndarray | None = None
    if primed.network is not None:
        network = np.repeat(primed.network[None, :], rows, axis=0)
    here = primed if snap_at == 0 else None
    for t in range(steps):
        tilts = [ch.tilt(ahead.onset(r)) for r, ch in enumerate(choosers)]
        folded = np.stack(
            [ch.fold(row, tilts[r]) for r, (ch, row) in enumerate(zip(choosers, lp, strict=True))]
        )
        keep = np.array([ch.keep for ch in choosers])
        row_shares = [
            ch.share(None if network is None else network[r], tilts[r])
            for r, ch in enumerate(choosers)
        ]
        shares = None if all(s is None for s in row_shares) else row_shares
        if close is not None and t + 1 == steps:
            pid, did = close(folded, ld, keep, shares)
        else:
            pid = _sample_rows(folded, pmask, check, rng, keep, shares)
            did = _sample_rows(ld, dmask, check, rng)
            if scores is not None:
                at = np.arange(rows)
                own_p = row_distributions(folded, pmask, _OWN, keep, shares)[at, pid]
                own_d = row_distributions(ld, dmask, _OWN)[at, did]
                scores += np.log(np.maximum(own_p * own_d, 1e-300))
        for ch, p_id in zip(choosers, pid.tolist(), strict=True):
            ch.played(p_id)
        pids[:, t], dids[:, t] = pid, did
        if t + 1 == steps:
            break
        played = np.array([model.duration_of(int(d)) for d in did])
        pl, dl, state = model.step(pid, did, state, ahead.rows(played), joint=True)
        network = pl
        if mixture is not None:
            joint = (pid * vd + did).tolist()
            for r, index in enumerate(copies):
                index.append(joint[r])
            lp, ld = _mix_rows(mixture, log_softmax(pl), log_softmax(dl), copies)
        else:
            lp, ld = pl, dl
        if rhythm is not None:
            ld = log_softmax(ld)
            for r in range(rows):
                played_ids = np.concatenate([primed.history % vd, dids[r, : t + 1]])
                ld[r] = model.mix_rhythm(ld[r], played_ids, heard, rhythm)
        if t + 1 == snap_at:
            made = pids[-1, :snap_at] * vd + dids[-1, :snap_at]
            here = Primed(
                (state[0][:, -1:, :].copy(), state[1][:, -1:, :].copy()),
                lp[-1].copy(),
                ld[-1].copy(),
                len(primed.history) + snap_at,
                np.concatenate([primed.history, made]),
                float(ahead.times[-1]),
                pl[-1].copy(),
            )
    for index in copies:
        _dismantle(index)
    pitches = [None, None, *(int(p) for p in model.pitch_vocab[2:])]  # <bos> is never drawn
    beats = [0.0, *(float(d) for d in model.duration_vocab[1:])]
    out: list[list[Event]] = []
    for r, n in enumerate(sizes):
        pairs = zip(pids[r, :n].tolist(), dids[r, :n].tolist(), strict=True)
        out.append([Event(pitches[p], beats[d]) for p, d in pairs])
    return out, here


CADENCE_NOTES = 4
"""Notes at the end of a block that :func:`_cadence` chooses: the approach and the goal."""
CADENCE_PARTICLES = 16
"""Candidate endings sampled per block (one batch-16 model call per note of the ending)."""
CADENCE_FLOOR = 0.02
"""Below this chance of a long tonic after every candidate approach, the model is left its own
ending: the melody is not forced onto a note its model all but rules out."""
CADENCE_SEARCH_BELOW = 0.7
"""Below this temperature :func:`_cadence` draws its candidate approaches at temperature 1."""


def cadence_notes(count: int, ending: bool, tonic: int | None) -> int:
    """How many of ``count`` notes :func:`_cadence` chooses (none without an ending or a key)."""
    if not ending or tonic is None:
        return 0
    return min(CADENCE_NOTES, count)


def ends_on_tonic(events: Sequence[Event], tonic: int) -> bool:
    """Whether the last event is a note on the ``tonic`` pitch class lasting ≥ 1 beat."""
    last = events[-1] if events else None
    return (
        last is not None
        and last.pitch is not None
        and round(last.pitch) % 12 == tonic % 12
        and (last.duration or 0.0) >= 1.0
    )


_Close = Callable[
    [np.ndarray, np.ndarray, np.ndarray, "Sequence[float | None] | None"],
    tuple[np.ndarray, np.ndarray],
]


def _cadence(
    model: MelodyModel,
    here: Primed,
    count: int,
    tonic: int,
    pmask: np.ndarray,
    sampler: Sampler,
    rng: np.random.Generator,
    setting: Setting | None,
    plain_search: bool = False,
) -> list[Event]:
    """The last ``count`` notes of a block, closing on a long tonic the way the model would.

    A small particle search (importance resampling): :data:`CADENCE_PARTICLES` candidate
    approaches are sampled from the model after ``here`` exactly as the block's own notes are
    (mask, temperature, top-k/p, copy model, notes-left rows). Each is weighted by the model's
    own probability (temperature 1, after the scale fold, the repeat at the network's share, as
    generation samples it) that the next note is a tonic of at least one beat, and its last
    note is drawn at the block's temperature from those notes (top-k/p not applied: they
    could remove every one). One candidate is kept with probability ∝ weight^(1/temperature)
    (greedy: the likeliest). At temperature 1 this samples the model's distribution given
    that the melody ends on a long tonic; no note is overwritten. If no approach gives a long
    tonic :data:`CADENCE_FLOOR` the first candidate keeps its own, unconstrained last note.

    Below :data:`CADENCE_SEARCH_BELOW` tempered candidates would all be one path (greedy: the
    same 16 times), so the search is diverse instead: the approaches are drawn from the model
    at temperature 1 (the block's top-k/p) and one is kept with probability ∝ (the model's
    probability of the approach × its chance of a long tonic)^(1/temperature) among those
    whose chance reaches the floor (temperature 0: the likeliest such ending, drawn with a
    fixed generator so greedy stays one melody whatever the seed). If none does, the tempered
    search above runs (``plain_search``).
    """
    k = CADENCE_PARTICLES
    midi = np.array([-1, -1, *model.pitch_vocab[2:]], np.int64)
    on_tonic = pmask & (midi >= 0) & (midi % 12 == tonic % 12)
    beats = np.array([0.0, *model.duration_vocab[1:]], np.float64)
    dmask = np.ones(len(beats), dtype=bool)
    dmask[BOS] = False
    held = dmask & (beats >= 1.0)
    weights = np.zeros(k)
    plain: list[tuple[int, int]] = []

    def close(
        folded: np.ndarray,
        dur: np.ndarray,
        keep: np.ndarray,
        shares: Sequence[float | None] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        # the model as generation samples it (the repeat at the network's own share)...
        own_p = row_distributions(folded, pmask, _OWN, keep, shares)
        own_d = row_distributions(dur, dmask, _OWN)
        weights[:] = own_p[:, on_tonic].sum(axis=1) * own_d[:, held].sum(axis=1)
        p0 = _sample_rows(folded[:1], pmask, sampler, rng, keep[:1], shares[:1] if shares else None)
        plain.append((int(p0[0]), int(_sample_rows(dur[:1], dmask, sampler, rng)[0])))
        # ...and at the block's temperature, given a long tonic (top-k/p could cut every one)
        tempered = Sampler(temperature=sampler.temperature)
        at_p = _given(row_distributions(folded, pmask, tempered, keep, shares), own_p, on_tonic)
        at_d = _given(row_distributions(dur, dmask, tempered), own_d, held)
        return _draw(at_p, rng, sampler.temperature), _draw(at_d, rng, sampler.temperature)

    search = sampler.temperature < CADENCE_SEARCH_BELOW and not plain_search
    scores = np.zeros(k) if search else None
    proposal = Sampler(temperature=1.0, top_k=sampler.top_k, top_p=sampler.top_p)
    if search and sampler.temperature == 0:  # greedy stays one melody whatever the seed
        rng = np.random.default_rng(0)
    endings, _ = _batch(
        model,
        here,
        [count] * k,
        proposal if search else sampler,
        rng,
        pmask,
        setting,
        [count] * k,
        close=close,
        scores=scores,
    )
    if weights.max() < CADENCE_FLOOR:
        if search:  # no likely approach to a long tonic: the model's own tempered ending
            return _cadence(model, here, count, tonic, pmask, sampler, rng, setting, True)
        pid, did = plain[0]
        return [*endings[0][:-1], Event(model.pitch_of(pid), model.duration_of(did))]
    total = np.log(np.maximum(weights, 1e-300))
    if scores is not None:
        total = np.where(weights >= CADENCE_FLOOR, total + scores, -np.inf)
    if sampler.temperature == 0:
        return endings[int(np.argmax(total))]
    chance = np.exp((total - total.max()) / sampler.temperature)
    return endings[int(rng.choice(k, p=chance / chance.sum()))]


def _dismantle(index: CopyIndex) -> None:
    """Free a copy index entry by entry. Dropped at once, the ~10^5 entries of a long row are
    freed in one deallocation holding the GIL (~0.4 s for 100,000 notes in 16 rows, measured):
    in the language server every completion of every document stalled that long."""
    table = index._table
    while table:
        table.popitem()


def _copy_index(source: CopyIndex) -> CopyIndex:
    """An independent copy of ``source`` (cheaper than re-reading its history)."""
    out = CopyIndex(source.max_order)
    out.history = list(source.history)
    out._table = {k: dict(v) for k, v in source._table.items()}
    return out


def _given(p: np.ndarray, own: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Rows of ``p`` restricted to ``allowed``; a row with nothing left (sharpened away: at
    temperature 0 only the argmax is left) takes ``own``'s instead, whose argmax is the
    likeliest allowed entry."""
    out = p * allowed
    empty = out.sum(axis=1) <= 0
    out[empty] = own[empty] * allowed
    return out


_OWN = Sampler()
"""Temperature 1, no top-k/p: the probabilities a cadence is weighted by."""


def _draw(p: np.ndarray, rng: np.random.Generator, temperature: float) -> np.ndarray:
    """One index per row of unnormalised probabilities ``p`` (greedy at temperature 0)."""
    if temperature == 0:
        return np.argmax(p, axis=1)
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), p.shape[1] - 1)


def _sample_rows(
    logits: np.ndarray,
    mask: np.ndarray,
    sampler: Sampler,
    rng: np.random.Generator,
    keep: np.ndarray | None = None,
    shares: Sequence[float | None] | None = None,
) -> np.ndarray:
    """One index per row, drawn from :func:`row_distributions`."""
    return _draw(row_distributions(logits, mask, sampler, keep, shares), rng, sampler.temperature)


def row_distributions(
    logits: np.ndarray,
    mask: np.ndarray,
    sampler: Sampler,
    keep: np.ndarray | None = None,
    shares: Sequence[float | None] | None = None,
) -> np.ndarray:
    """:meth:`Sampler.distribution` of every row of ``logits`` ``[R, V]`` at once (``keep``:
    each row's index whose temperature-1 share is kept, -1 for none; ``shares``: that
    share given per row)."""
    x = np.array(logits, dtype=np.float64)
    if mask.any():
        usable = np.isfinite(x[:, mask]).any(axis=1)
        x[np.ix_(usable, ~mask)] = -np.inf
    if keep is not None and (sampler.temperature != 1.0 or shares) and (keep >= 0).any():
        return _finish_rows(_keep_rows(x, keep, sampler.temperature, shares), sampler)
    if sampler.temperature == 0:
        p = np.zeros_like(x)
        p[np.arange(len(x)), np.argmax(x, axis=1)] = 1.0
        return p
    x /= sampler.temperature
    x -= x.max(axis=1, keepdims=True)
    return _finish_rows(np.exp(x), sampler)


def _keep_rows(
    x: np.ndarray,
    keep: np.ndarray,
    temperature: float,
    shares: Sequence[float | None] | None = None,
) -> np.ndarray:
    """:func:`notegen.model.sampling._keep_share` row by row (rows with ``keep < 0``: plain)."""
    from notegen.model.sampling import _keep_share

    out = np.empty_like(x)
    for r, k in enumerate(keep.tolist()):
        if k >= 0:
            out[r] = _keep_share(x[r], int(k), temperature, shares[r] if shares else None)
        elif temperature == 0:
            out[r] = 0.0
            out[r, int(np.argmax(x[r]))] = 1.0
        else:
            z = x[r] / temperature
            out[r] = np.exp(z - z.max())
    return out


def _finish_rows(p: np.ndarray, sampler: Sampler) -> np.ndarray:
    """Top-k and top-p of unnormalised row probabilities, normalised."""
    size = p.shape[1]
    if sampler.top_k and sampler.top_k < size:
        kth = np.partition(p, -sampler.top_k, axis=1)[:, -sampler.top_k]
        p[p < kth[:, None]] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    if sampler.top_p < 1.0:
        order = np.argsort(-p, axis=1, kind="stable")
        ranked = np.take_along_axis(p, order, axis=1)
        cumulative = np.cumsum(ranked, axis=1)
        cut = (cumulative < sampler.top_p - 1e-12).sum(axis=1) + 1
        ranked[np.arange(size)[None, :] >= cut[:, None]] = 0.0
        p = np.zeros_like(p)
        np.put_along_axis(p, order, ranked, axis=1)
        p /= p.sum(axis=1, keepdims=True)
    return p


def _mix_rows(
    mixture: CopyMixture, log_p: np.ndarray, log_d: np.ndarray, copies: list[CopyIndex]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`notegen.model.copying.mix_indexed` for every row at once (one log/exp per table)."""
    vd = log_d.shape[1]
    rows: list[int] = []
    lam_p: list[float] = []
    lam_d: list[float] = []
    qp = np.zeros_like(log_p)
    qd = np.zeros_like(log_d)
    for r, index in enumerate(copies):
        length, follow = index.query()
        if follow is None:
            continue
        rows.append(r)
        lam_p.append(mixture.pitch[min(length, len(mixture.pitch) - 1)])
        lam_d.append(mixture.duration[min(length, len(mixture.duration) - 1)])
        for token, count in follow.items():
            qp[r, token // vd] += count
            qd[r, token % vd] += count
    if not rows:
        return log_p, log_d
    log_p = log_p.copy()
    log_d = log_d.copy()
    for out, q, lams in ((log_p, qp, lam_p), (log_d, qd, lam_d)):
        lam = np.asarray(lams)
        sel = np.asarray(rows)[lam > 0]
        if not len(sel):
            continue
        lam = lam[lam > 0][:, None]
        qs = q[sel]
        qs /= qs.sum(axis=1, keepdims=True)
        out[sel] = np.log(np.maximum((1.0 - lam) * np.exp(out[sel]) + lam * qs, _TINY))
    return log_p, log_d


def _prime(
    model: MelodyModel, context: Sequence[Event], hidden: int = 0, setting: Setting | None = None
) -> Primed:
    """The model after ``context``; its first ``hidden`` events shape the network's state but
    are not in the copy model's history (nothing of them is meant to be repeated)."""
    pl, dl, state = model.run(context, setting=setting)
    pids, dids = model.encode(context)
    history = model.joint_ids(pids[hidden:], dids[hidden:])
    if setting is not None and hidden:
        setting = setting.later(model.beats_of(dids[:hidden]))
    log_p, log_d = model.next_log_probs(pl[-1], dl[-1], history, setting)
    return Primed(state, log_p, log_d, len(context), history, model.beats_of(dids))


class _PitchChooser:
    """Draws the next pitch of one melody: scale mask by folding, the repeat's share kept,
    the notes consonant with the other voices weighted (:mod:`notegen.model.consonance`).

    Remembers the last note played (from the context, then its own choices), which both the
    fold (:func:`notegen.model.sampling.fold_masked`) and the sampler's ``keep`` need."""

    def __init__(
        self,
        model: MelodyModel,
        mask: np.ndarray,
        history: np.ndarray,
        setting: Setting | None = None,
    ) -> None:
        self.mask = mask
        self.midi = np.array([np.nan, np.nan, *model.pitch_vocab[2:]], np.float64)
        self.restricts = bool((~mask[2:]).any())
        self.keep = -1
        self.last: float | None = None
        self.consonance = model.consonance
        self.others = setting.others if setting is not None else ()
        self._weigh: Callable[[float], np.ndarray | None] | None = None
        self.control = model.repeats
        vd = len(model.duration_vocab)
        pitched = [int(t) // vd for t in np.asarray(history) if int(t) // vd >= 2]
        self.count = RepeatCounter(pitched)
        if pitched:
            self.keep = pitched[-1] if self.mask[pitched[-1]] else -1
            self.last = float(self.midi[pitched[-1]])

    def played(self, pid: int) -> None:
        if pid >= 2:
            self.keep = pid if self.mask[pid] else -1
            self.last = float(self.midi[pid])
            self.count.played(pid)

    def tilt(self, onset: float) -> np.ndarray | None:
        """Log-weights of the notes consonant with what the other voices sound at ``onset``
        (``None``: no weight in the card, or nothing sounds there)."""
        if self.consonance is None or not self.others:
            return None
        if self._weigh is None:
            self._weigh = self.consonance.weigher(self.midi, self.others)
        return self._weigh(onset)

    def fold(self, logits: np.ndarray, tilt: np.ndarray | None = None) -> np.ndarray:
        """Log-probabilities with the masked notes' mass folded onto scale notes, then the
        consonant notes weighted by ``tilt`` (unnormalised: the sampler normalises)."""
        if self.restricts:
            probs = np.exp(log_softmax(np.asarray(logits, np.float64)))
            folded = fold_masked(probs, self.mask, self.midi, self.last)
            with np.errstate(divide="ignore"):
                logits = np.log(folded)
        return logits if tilt is None else logits + tilt

    def share(
        self,
        network_logits: np.ndarray | None,
        tilt: np.ndarray | None = None,
        network_log: np.ndarray | None = None,
    ) -> float | None:
        """The repeat's probability by the network alone (after the fold and the consonance
        weight), moved towards the training melodies' rate of repeats
        (:class:`notegen.model.repeats.RepeatControl`), or ``None`` (the sampler's own share).
        ``network_log``: ``log_softmax(network_logits)`` if the caller has it.

        The copy model, matching the melody's own output, would otherwise feed a repeated note
        back to itself: sampled from the mixture, runs of 19-21 equal notes appeared."""
        if self.keep < 0:
            return None
        control = self.control
        if network_logits is None:  # (the first note: only the longest run is enforced)
            if control is not None and control.max_run and self.count.run >= control.max_run:
                return 0.0
            return None
        if network_log is None:
            network_log = log_softmax(np.asarray(network_logits, np.float64))
        probs = np.exp(network_log)
        if self.restricts:
            probs = fold_masked(probs, self.mask, self.midi, self.last)
        if tilt is not None:
            probs = probs * np.exp(tilt)
            probs /= probs.sum()
        share = float(probs[self.keep])
        return share if control is None else control.adjust(share, self.count)

    def sample(
        self,
        sampler: Sampler,
        logits: np.ndarray,
        network: np.ndarray | None = None,
        onset: float | None = None,
        network_log: np.ndarray | None = None,
    ) -> int:
        """A pitch id for a note starting at ``onset`` (beats on the other voices' line)."""
        tilt = None if onset is None else self.tilt(onset)
        keep = self.keep if self.keep >= 0 else None
        share = self.share(network, tilt, network_log)
        pid = sampler.sample(self.fold(logits, tilt), self.mask, keep, share)
        self.played(pid)
        return pid


class _Ahead:
    """Conditioning rows for generated steps: the time line goes on from the context and,
    for the row that ends the block, the notes left count down to 1."""

    def __init__(
        self,
        model: MelodyModel,
        primed: Primed,
        count: int,
        setting: Setting | None,
        rows: int = 1,
        left: Sequence[int] | None = None,
        starts: np.ndarray | None = None,
    ) -> None:
        self.on = bool(model.cond_dim)
        self.setting = setting or Setting()
        self.times = np.full(rows, primed.time)
        if starts is not None:
            self.times = self.times + starts
        self.left = np.zeros(rows, np.int64)
        self.left[-1] = count  # what primed predicts: the first generated event
        if left is not None:
            self.left[:] = left
        self.rows_n = rows

    def onset(self, row: int) -> float:
        """Where row ``row``'s next event starts on the other voices' time line (beats)."""
        return self.setting.start + float(self.times[row])

    def rows(self, beats: np.ndarray) -> np.ndarray | None:
        """Rows ``[R, 1, C]`` for the steps after events of ``beats`` were generated."""
        self.times = self.times + beats
        self.left = np.maximum(self.left - 1, 0)  # (never below 0)
        if not self.on:
            return None
        from notegen.model.conditioning import condition_row, condition_rows

        s = self.setting
        if self.rows_n == 1:  # (condition_rows' own path for one time, without the arrays)
            left = int(self.left[0])
            row = condition_row(s.start + float(self.times[0]), s.others, s.metre, left, s.end)
            return row[None, None, :]
        rows = condition_rows(s.start + self.times, s.others, s.metre, self.left, s.end)
        return rows[:, None, :]


# -- a generated block: the voice as Sonic Pi text (generateMelody, `notegen-melody generate`) --
# -- a generated block: a new voice as Sonic Pi text ------------------------------------------

SECTION_NOTES = 16
"""Notes per section (``aN[k]``) in a generated block: short enough to read, long enough to
hold a phrase."""


@dataclass(frozen=True)
class Block:
    """A generated, playable Sonic Pi block and what it was made with."""

    text: str
    voice: int
    events: list[Event]
    tonic: int | None
    scale: str | None
    bpm: float = 60.0
    key_detected: bool = False
    """The key came from the piece (``False``: given, or none)."""

    @property
    def key_text(self) -> str | None:
        """``:g, :mixolydian (detected from the piece)``; ``None`` without a key."""
        if self.tonic is None or self.scale is None:
            return None
        from notegen.keys import tonic_name

        why = "detected from the piece" if self.key_detected else "as asked"
        return f"{tonic_name(self.tonic)}, :{self.scale} ({why})"


def resolve_key(
    options: GenerateOptions, document_events: Sequence[Event]
) -> tuple[int | None, str | None]:
    """Tonic pitch class and scale: as given, else detected from the document and seed."""
    from notegen.keys import detect_key
    from notegen.model.sampling import parse_key

    tonic = parse_key(options.key) if options.key is not None else None
    scale = options.scale
    if tonic is not None and scale is None:
        scale = "major"
    if tonic is None:
        evidence = list(document_events) + [Event(p, None) for p in options.seed_notes]
        found = detect_key(evidence)
        if found is None:
            return (0, scale) if scale is not None else (None, None)
        tonic = found.tonic
        if scale is None:
            scale = found.scale
    return tonic, scale


def block_row_sizes(length: int, seeded: int) -> list[int]:
    """Notes per parallel row for a block of ``length`` notes opening with ``seeded`` given ones.

    Rows hold whole sections (:data:`SECTION_NOTES`), so each later row starts a section
    ``aN[k]`` of its own; the first row follows the seed notes. A block shorter than
    ``2 * PARALLEL_MIN_NOTES`` is one continuous row.
    """
    count = max(0, length - seeded)
    rows = parallel_rows(count)
    if rows == 1:
        return [count]
    cuts = [seeded]
    for r in range(1, rows):
        at = seeded + r * count // rows
        cuts.append(min(length, -(-at // SECTION_NOTES) * SECTION_NOTES))
    cuts.append(length)
    return [b - a for a, b in itertools.pairwise(cuts)]


def key_prelude(tonic: int, scale: str) -> list[Event]:
    """Tonic, third, fifth, octave and back down in ``scale`` on ``tonic``, around middle C.

    Read by the model (never written) before a melody that has no notes of its own: left to
    start from nothing, the network drifts into a key of its own, the key mask strips that mass
    at every step and what is left piles onto repeating the last note (measured with the
    shipped model, 16 × 200 notes in C major, top-p 1: 24.7 % repeated notes, runs up to 17;
    after this prelude 16.7 % and ≤ 7, as in real tunes: 16.4 %, ≤ 13).
    """
    offsets, position = {0}, 0.0
    for step in SCALES[parse_scale(scale)]:
        position += step
        offsets.add(round(position) % 12)
    third = min(offsets, key=lambda o: (abs(o - 3.5), o))
    fifth = min(offsets, key=lambda o: abs(o - 7))
    root = 60 + tonic % 12
    if root > 66:
        root -= 12
    steps = (0, third, fifth, 12, fifth, third, 0)
    return [Event(root + o, d) for o, d in zip(steps, _PRELUDE_BEATS, strict=True)]


_PRELUDE_BEATS = (0.5, 0.5, 1.0, 0.5, 0.5, 1.0, 2.0)
"""A short phrase ending on a long note: the network carries the prelude's rhythm on (seven
1-beat notes gave 76 % 1-beat notes, this phrase 32 %; real tunes have 19 %, 0.5 commonest)."""


def phrase_sections(events: Sequence[Event], size: int = SECTION_NOTES) -> list[list[Event]]:
    """Cut a melody into sections of about ``size`` notes, each ending where a phrase does.

    A cut goes after the longest note (a rest counts as the end of what precedes it) among the
    last quarter of each stretch of ``size`` notes up to a quarter past it, the later one on
    ties, so sections read as phrases (``a1[0]`` ends on a held note, not mid-run).
    """
    out: list[list[Event]] = []
    start, n = 0, len(events)
    slack = max(1, size // 4)
    while n - start > size + slack:
        lo, hi = start + size - slack, min(n - 1, start + size + slack)
        best = max(range(lo, hi + 1), key=lambda i: (_phrase_end_weight(events, i), i))
        out.append(list(events[start : best + 1]))
        start = best + 1
    if start < n:
        out.append(list(events[start:]))
    return out


def _phrase_end_weight(events: Sequence[Event], i: int) -> float:
    """How strongly a phrase ends after event ``i``: its length, more before a rest."""
    beats = events[i].duration or 0.0
    following = events[i + 1] if i + 1 < len(events) else None
    if following is not None and following.pitch is None:
        beats += 1.0
    return beats


def generate_block(
    model: MelodyModel,
    options: GenerateOptions,
    *,
    voice: int = 1,
    document_events: Sequence[Event] = (),
    document_bpm: float | None = None,
    style=None,
    setting: Setting | None = None,
    form: str = "indexed",
    register: float | None = None,
) -> Block:
    """A complete voice (notes, durations, bpm, ``in_thread`` loop) of ``options.length`` notes.

    Seed notes open the melody and the model continues them; without seed notes, a melody in
    a key starts after a silent :func:`key_prelude`. Same options, same block. The block is
    written in the piece's ``form`` and ``style`` (spelled by the key where the piece spells
    nothing), moved by octaves to ``register`` (a median MIDI pitch) when given, and opens
    with a comment naming its key and tempo. ``setting``: the other voices of the piece the
    block joins (:func:`notegen.model.ensemble.setting_for`), which a conditioned model hears.
    """
    from notegen.notes import DEFAULT_STYLE, style_for_key
    from notegen.sonicpi import render_block

    tonic, scale = resolve_key(options, document_events)
    seed = [Event(p, model.default_duration) for p in options.seed_notes]
    prelude = key_prelude(tonic, scale) if tonic is not None and scale and not seed else []
    # The melody the model reads is the prelude, the seed notes and the block: it knows how
    # many notes are left, so the block ends the way melodies end.
    if model.cond_dim:
        setting = (setting or Setting()).with_end(len(prelude) + options.length)
        if prelude:
            # the prelude is heard before the block's first onset
            setting = setting.later(-sum(e.duration or 0.0 for e in prelude))
    else:
        setting = None
    primed = _prime(model, prelude, hidden=len(prelude), setting=setting) if prelude else None
    rows = generate_rows(
        model,
        prelude + seed,
        block_row_sizes(options.length, len(seed)),
        **options.sampling(),
        tonic=tonic,
        scale=scale,
        primed=primed,
        setting=setting,
        ending=True,
    )
    events = seed + [ev for row in rows for ev in row]
    if register is not None and not seed:
        events = in_register(events, register)
    sections = phrase_sections(events)
    bpm = options.bpm or document_bpm or 60.0
    block = Block("", voice, events, tonic, scale, bpm, options.key is None and tonic is not None)
    comment = f"notegen: voice {voice}"
    if block.key_text is not None:
        comment += f" in {block.key_text}"
    comment += f", {bpm:g} bpm"
    text = render_block(
        voice,
        sections,
        bpm,
        style_for_key(style or DEFAULT_STYLE, tonic, scale),
        default_duration=model.default_duration,
        form="plain" if form == "plain" else "indexed",
        comment=comment,
    )
    return dataclasses.replace(block, text=text)


def in_register(events: list[Event], median: float) -> list[Event]:
    """``events`` moved by whole octaves so their median pitch is nearest ``median``."""
    pitches = sorted(float(ev.pitch) for ev in events if ev.pitch is not None)
    if not pitches:
        return events
    shift = 12 * round((median - pitches[len(pitches) // 2]) / 12)
    shift = max(-(int(pitches[0]) // 12) * 12, min(shift, (127 - int(pitches[-1])) // 12 * 12))
    if shift == 0:
        return events
    return [ev if ev.pitch is None else Event(ev.pitch + shift, ev.duration) for ev in events]
