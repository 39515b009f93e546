"""Step-wise melody generation and next-note ranking on top of :class:`~notegen.model.MelodyModel`.

The model is stateful, so a context is read once and every generated note costs one batch-1
step: N notes = N steps. :class:`ContextCache` keeps the state after recently seen contexts, so
a completion asked again in the same array (or one note further on) reads only the new notes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from notegen.melody import Event
from notegen.model import BOS, MelodyModel, State
from notegen.sampling import Sampler, pitch_class_mask, softmax

__all__ = [
    "Candidate",
    "ContextCache",
    "Primed",
    "generate",
    "next_note_candidates",
    "trim_context",
]


@dataclass(frozen=True)
class Primed:
    """The model after reading a context: its state and the next event's logits."""

    state: State
    pitch_logits: np.ndarray  # [Vp]
    dur_logits: np.ndarray  # [Vd]
    length: int


def trim_context(n: int, max_context: int) -> int:
    """Index where the model's context starts in a history of ``n`` events.

    Keeps between ``max_context // 2`` and ``max_context`` events and moves the start in steps
    of half the window, so the prefix (and with it the cache) stays the same while the user
    types up to half a window of notes.
    """
    if max_context <= 0 or n <= max_context:
        return 0
    half = max(1, max_context // 2)
    return ((n - max_context) // half + 1) * half


class ContextCache:
    """LRU of model states keyed by the token ids of a context (thread-safe).

    ``prime(events)`` looks for the longest cached prefix among the last few lengths and steps
    the model over the remaining events only.
    """

    LOOKBACK = 16

    def __init__(self, model: MelodyModel, capacity: int = 128) -> None:
        self.model = model
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, ...], Primed] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        start = model.initial_state(1)
        pl, dl, st = model.step(np.array([BOS]), np.array([BOS]), start)
        self._root = Primed(st, pl[0], dl[0], 0)

    def key(self, events: Sequence[Event]) -> tuple[int, ...]:
        pids, dids = self.model.encode(events)
        return tuple((pids * len(self.model.duration_vocab) + dids).tolist())

    def prime(self, events: Sequence[Event]) -> Primed:
        """The model after ``<bos>`` + ``events``, reusing the longest cached prefix."""
        key = self.key(events)
        n = len(key)
        base: Primed = self._root
        with self._lock:
            for length in range(n, max(0, n - self.LOOKBACK) - 1, -1):
                hit = self._entries.get(key[:length]) if length else None
                if hit is not None:
                    self._entries.move_to_end(key[:length])
                    base = hit
                    break
            if base.length == n:
                self.hits += 1
                return base
            self.misses += 1
        primed = base
        if n > base.length:
            rest = events[base.length :]
            pids, dids = self.model.encode(rest)
            pl, dl, st = self.model.step(pids[None, :], dids[None, :], base.state)
            primed = Primed(st, pl[0], dl[0], n)
            self._store(key, primed)
        return primed

    def _store(self, key: tuple[int, ...], primed: Primed) -> None:
        with self._lock:
            self._entries[key] = primed
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


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


def next_note_candidates(model: MelodyModel, primed: Primed, limit: int) -> list[Candidate]:
    """The ``limit`` most likely next events (notes and rest), most likely first."""
    probs = softmax(primed.pitch_logits)
    probs[BOS] = 0.0
    order = np.argsort(-probs, kind="stable")[: max(0, limit)]
    dur_probs = softmax(primed.dur_logits)
    dur_probs[BOS] = 0.0
    duration = model.duration_of(int(np.argmax(dur_probs)))
    return [Candidate(model.pitch_of(int(i)), float(probs[i]), duration) for i in order]


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
) -> list[Event]:
    """Continue ``context`` with ``count`` sampled events (pitch and duration).

    Reproducible: the same model, context and arguments give the same events. With ``tonic``
    and ``scale`` every pitch is drawn from that Sonic Pi scale; rests stay possible.
    """
    if count <= 0:
        return []
    context = list(context)[trim_context(len(context), max_context) :]
    primed = cache.prime(context) if cache is not None else _prime(model, context)
    sampler = Sampler(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    pmask = _pitch_mask(model, tonic, scale)
    dmask = np.ones(len(model.duration_vocab), dtype=bool)
    dmask[BOS] = False
    state = primed.state
    pl, dl = primed.pitch_logits, primed.dur_logits
    p_in = np.empty((1, 1), dtype=np.int64)
    d_in = np.empty((1, 1), dtype=np.int64)
    out: list[Event] = []
    for i in range(count):
        pid = sampler.sample(pl, pmask)
        did = sampler.sample(dl, dmask)
        out.append(Event(model.pitch_of(pid), model.duration_of(did)))
        if i + 1 < count:
            p_in[0, 0] = pid
            d_in[0, 0] = did
            pls, dls, state = model.step(p_in, d_in, state)
            pl, dl = pls[0], dls[0]
    return out


def _prime(model: MelodyModel, context: Sequence[Event]) -> Primed:
    pl, dl, state = model.run(context)
    return Primed(state, pl[-1], dl[-1], len(context))
