"""The model's state after recently read contexts, so a completion asked again in the same
array (or one note further on) reads only the new notes.

:class:`ContextCache` is what a completion, the warm-up and a generation's start read a
context through: it keys each context by its ids and setting, keeps the network's state and
the served next-event distribution (:class:`Primed`) at the cursor and at checkpoints on the
way, and reads many contexts in one batched call when asked to (:meth:`ContextCache.prime_many`,
:meth:`ContextCache.prime_steps`). Generation itself is :mod:`notegen.model.generate`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from notegen.melody import Event
from notegen.model.conditioning import Setting, heard_with_others
from notegen.model.network import BOS, MelodyModel, State, VoiceExperts

__all__ = ["ContextCache", "Primed", "trim_context"]

ROWS_PER_YIELD = 4
"""Contexts a background read (:meth:`ContextCache.prime_steps`) takes through the quantized
network between two yields. A warm-up round's 16 rows were one step: each row a call of its
own (~0.3-0.5 ms for 8 events with its conditioning rows), ~7 ms in all and up to ~10 ms on
a busy machine, which a completion asked meanwhile waited for (measured)."""


@dataclass(frozen=True)
class Primed:
    """The model after reading a context: its state and the served next-event distribution.

    ``pitch_logits``/``dur_logits`` are log-probabilities (valid logits for the sampler) of the
    network mixed with the within-melody copy model; ``history`` holds the context's joint ids,
    which that copy model reads.
    """

    state: State
    pitch_logits: np.ndarray  # [Vp]
    dur_logits: np.ndarray  # [Vd]
    length: int
    history: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    time: float = 0.0
    """Beats from the melody's first onset to where the next event starts."""
    network: np.ndarray | None = None
    """Mid-generation: the network's own next-pitch logits (without the copy model), whose
    repeat share the sampler keeps (:meth:`_PitchChooser.share`)."""
    plain_dur: np.ndarray | None = None
    """The duration log-probs before the rhythm experts (:mod:`notegen.model.rhythm`). Those read
    the other voices' rhythm, which a cache key does not cover: a cached context redoes them
    (:meth:`ContextCache.served`)."""
    plain_pitch: np.ndarray | None = None
    """The pitch log-probs before the imitation expert (:mod:`notegen.model.imitation`), which reads
    the other voices' whole lines: redone on a cache hit too."""
    raw: bool = False
    """``pitch_logits``/``dur_logits`` are the network's own: a state kept on the way to a
    cursor, served (:meth:`ContextCache.served`) only if a context ends exactly there."""


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


_Passed = tuple[int, State, np.ndarray, np.ndarray]
"""A checkpoint a read passed on the way: its length, the state and the logits there."""


class ContextCache:
    """LRU of model states keyed by the token ids of a context (thread-safe).

    Keys are digests of the combined ids (``pitch_id * |durations| + duration_id``) of a
    context. :meth:`prime_ids` starts from the longest cached prefix among the
    given checkpoints (for the server: where each section of the voice starts) and the last
    few lengths, steps the model over the rest only, and stores the state at every checkpoint
    it passes, so the next cursor in a later section starts from there.

    States at checkpoints (section starts) and the ends of contexts (cursors) are kept
    apart, each in its own LRU: a cursor's state is reused by the next keystroke or two, a
    section start's by every cursor after it. In one LRU the cursors of a long session
    pushed out the section starts the warm-up had read (the 20,000-note benchmark piece:
    1,524 of 2,048 entries after the warm-up, full after ~500 completions), and a cursor in
    such a section read its whole context again (up to 111 events, ~25 ms).

    The cursors' LRU keeps 64 (it kept 256): typing steps on from the last cursor or two, and
    a jump lands on a section start. ~7 kB a state: the soak's server ~1.3 MB smaller once
    idle, and the latency benchmark's the same within the VM's drift (three runs each,
    taking turns: all p99 7.29 / 7.62 / 7.27 ms against 7.45 / 9.72 / 6.40 ms at 256).
    """

    LOOKBACK = 16
    CAPACITY = 2048
    """States kept at checkpoints by default (a server makes room for its documents' section
    starts beyond it)."""
    EVENT_IDS = 4096
    """Notes whose ids :meth:`ids` keeps (distinct pitch and duration pairs: a few hundred)."""

    def __init__(
        self, model: MelodyModel, capacity: int = CAPACITY, tail_capacity: int = 64
    ) -> None:
        self.model = model
        self.capacity = capacity
        self.tail_capacity = tail_capacity
        self.vd = len(model.duration_vocab)
        self._entries: OrderedDict[bytes, Primed] = OrderedDict()
        self._tails: OrderedDict[bytes, Primed] = OrderedDict()
        """The states at the ends of contexts that are not checkpoints (cursors)."""
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._last_rows: tuple[Setting, np.ndarray, np.ndarray] | None = None
        self._last_keys: tuple[tuple[bytes, bytes], dict[int, bytes]] | None = None
        self._last_again: tuple[Primed, Setting | None, bytes, Primed] | None = None
        self._last_after: tuple[Primed, Setting | None, bytes, Primed] | None = None
        self._event_ids: dict[tuple[Any, Any], int] = {}
        self._network: ThreadPoolExecutor | None = None
        self._helping = threading.Lock()
        """Held while a read is on the helper (a second caller reads on its own thread)."""
        self._root = self.root(None)

    def root(self, setting: Setting | None, raw: bool = False) -> Primed:
        """The model after ``<bos>`` alone (in ``setting``: what sounds at the first onset);
        ``raw``: as the network left it, not served (a read goes on from it: serving it made
        every short read's start ~1 ms dearer, for a distribution no one asked for)."""
        start = self.model.initial_state(1)
        empty = np.zeros(0, np.int64)
        cond = self.model.condition(empty, 0, 1, setting)
        pl, dl, st = self.model.step(
            np.array([BOS]), np.array([BOS]), start, None if cond is None else cond[None]
        )
        if raw:
            return Primed(st, pl[0], dl[0], 0, empty, 0.0, raw=True)
        return self.served(pl[0], dl[0], empty, setting, st, 0.0)

    def keep_start(self, setting: Setting | None) -> None:
        """Make and keep ``setting``'s start state (:meth:`root`), unless it is kept: a read
        from ``<bos>`` in that setting goes on from it. Kept as the network left it: served
        (the experts after an empty history, and their setting's again when found), a
        warm-up's section start took p50 4.5 ms in the server (typing at a 400 ms pace in
        the 20,000-note benchmark piece), kept so 0.07 ms; the served distribution is made
        when a context that empty asks for it (:meth:`_hit`)."""
        if not _salt(setting):
            return  # (a lone melody's: made once, ``_root``)
        (key,) = self._keys(np.zeros(0, np.int64), [0], setting)
        with self._lock:
            if self._entries.get(key) is not None:
                return
        self._store(key, self.root(setting, raw=True))

    def served(
        self,
        pitch_logits: np.ndarray,
        dur_logits: np.ndarray,
        history: np.ndarray,
        setting: Setting | None,
        state: State,
        time: float,
        experts: VoiceExperts | None = None,
    ) -> Primed:
        """The context's :class:`Primed`: the served distribution after the network's logits
        (``experts``: the model's :meth:`~MelodyModel.voice_experts` of ``history``, when made
        beforehand)."""
        heard = heard_with_others(setting)
        plain_p, plain_d = self.model.copy_log_probs(
            pitch_logits, dur_logits, history, heard, experts
        )
        log_p = self.model.mix_imitation(plain_p, history // self.vd, setting)
        log_d = self.model.mix_rhythm(plain_d, history % self.vd, setting)
        return Primed(
            state, log_p, log_d, len(history), history, time, plain_dur=plain_d, plain_pitch=plain_p
        )

    def _hit(self, base: Primed, ids: np.ndarray, setting: Setting | None) -> Primed:
        """The context ``ids`` found cached as ``base``: a state kept on the way to another
        cursor is served now (and kept served), any other has its setting's experts redone."""
        if not base.raw:
            return self._again(base, ids, setting)
        primed = self.served(
            base.pitch_logits, base.dur_logits, ids, setting, base.state, base.time
        )
        (key,) = self._keys(ids, [len(ids)], setting)
        stored = self._store(key, primed)
        self._last_again = (stored, setting, ids.tobytes(), primed)
        return primed

    def _again(self, base: Primed, ids: np.ndarray, setting: Setting | None) -> Primed:
        """A cached context for ``ids``: its rhythm and imitation experts redone in
        ``setting`` (the other voices may have changed where the cache key cannot see)."""
        out = dataclasses.replace(base, history=ids)
        if self.model.rhythm is None and self.model.imitation is None:
            return out
        memo = self._last_again  # a completion primes the same context more than once
        if memo is not None and memo[0] is base and memo[1] is setting and memo[2] == ids.tobytes():
            return dataclasses.replace(memo[3], history=ids)
        if self.model.rhythm is not None and base.plain_dur is not None:
            log_d = self.model.mix_rhythm(base.plain_dur, ids % self.vd, setting)
            out = dataclasses.replace(out, dur_logits=log_d)
        if self.model.imitation is not None and base.plain_pitch is not None:
            log_p = self.model.mix_imitation(base.plain_pitch, ids // self.vd, setting)
            out = dataclasses.replace(out, pitch_logits=log_p)
        self._last_again = (base, setting, ids.tobytes(), out)
        return out

    def ids(self, events: Sequence[Event]) -> np.ndarray:
        """Combined token ids of ``events`` (int64), the unit keys are made of.

        The notes before a cursor are encoded on every request (~0.1 ms of array work for a
        few notes, in the server): the id of each ``(pitch, duration)`` met is kept, and a
        request whose notes are all known is answered from them. The vectorised encoding
        treats every note on its own, so a kept id is the one it would give again."""
        events = list(events)
        known = self._event_ids
        try:
            return np.array([known[(ev.pitch, ev.duration)] for ev in events], np.int64)
        except (KeyError, TypeError):  # a new note (or an unhashable value)
            pass
        try:  # (MelodyModel.encode's arrays; its per-note fallback for odd values is its own)
            pitches = np.array([np.nan if e.pitch is None else float(e.pitch) for e in events])
            durations = np.array(
                [np.nan if e.duration is None else float(e.duration) for e in events]
            )
        except (TypeError, ValueError, OverflowError):
            pids, dids = self.model.encode(events)
            return pids * self.vd + dids
        pids, dids = self.model.encode_values(pitches, durations)
        ids = pids * self.vd + dids
        if len(known) > self.EVENT_IDS:
            known.clear()
        for ev, token in zip(events, ids.tolist(), strict=True):
            try:
                known[(ev.pitch, ev.duration)] = token
            except TypeError:
                break
        return ids

    def key(self, events: Sequence[Event]) -> bytes:
        return _digest(self.ids(events))

    def prime(
        self,
        events: Sequence[Event],
        checkpoints: Sequence[int] = (),
        setting: Setting | None = None,
    ) -> Primed:
        """The model after ``<bos>`` + ``events``, reusing the longest cached prefix.

        ``setting`` (other voices, metre: :mod:`notegen.model.conditioning`) is part of the key: the
        same notes against other voices are another context."""
        return self.prime_ids(self.ids(events), checkpoints, setting)

    def cached(self, ids: np.ndarray, setting: Setting | None = None) -> bool:
        if len(ids) == 0:
            return True
        ids = np.asarray(ids, dtype=np.int64)
        (key,) = self._keys(ids, [len(ids)], setting)
        with self._lock:
            return key in self._entries or key in self._tails

    def reach(
        self, ids: np.ndarray, marks: Sequence[int] = (), setting: Setting | None = None
    ) -> int:
        """How much of ``ids`` a kept state covers: the longest prefix among ``marks`` and
        the last few lengths that :meth:`prime_ids` would start from (0: none, it reads all
        of ``ids``). A look only: nothing is kept or moved."""
        ids = np.asarray(ids, dtype=np.int64)
        lengths = self._lengths(len(ids), [m for m in marks if 0 < m < len(ids)])
        if not lengths:
            return 0
        # (the same keys as the priming's lookup asks next: it finds them remembered)
        keys = self._keys(ids, lengths if not _salt(setting) else [*lengths, 0], setting)
        with self._lock:
            for length, key in zip(lengths, keys[: len(lengths)], strict=True):
                if key in self._entries or key in self._tails:
                    return length
        return 0

    def _lengths(self, n: int, marks: Sequence[int]) -> list[int]:
        """The prefixes of an ``n``-long context :meth:`_lookup` looks for, the longest first:
        ``marks`` and the last :data:`LOOKBACK` lengths."""
        lookback = range(n - 1, max(0, n - self.LOOKBACK) - 1, -1)
        return sorted({n, *marks, *lookback} - {0}, reverse=True)

    def _keys(
        self, ids: np.ndarray, lengths: Sequence[int], setting: Setting | None, space: bytes = b""
    ) -> list[bytes]:
        """Cache keys of the prefixes ``ids[:length]``: the ids and what else the model read.

        For a model that hears a setting that is the conditioning rows of those steps (row
        ``s`` for the step that predicts event ``s``: ``length + 1`` rows), not the setting
        itself: another reading of the piece whose other voices changed elsewhere (after an
        edit in another voice, or in this one's later sections) leaves these rows, and so the
        cached states, as they were. (Keyed by the whole setting, every reading after an edit
        anywhere made every cached state of the other voices unreachable.)
        """
        if not self.model.cond_dim or setting is None or setting.plain:
            salt = _salt(setting) + space
            return [_digest(ids[:n], salt) for n in lengths]
        # A completion asks three times for the same context (its lookup, the priming, the
        # phrase's lookup): the keys of the last context asked are remembered.
        ident = (ids.tobytes(), setting.key() + space)
        memo = self._last_keys
        known: dict[int, bytes] = memo[1] if memo is not None and memo[0] == ident else {}
        if all(n in known for n in lengths):
            return [known[n] for n in lengths]
        rows = self._rows(ids, max(lengths, default=0), setting)
        by_ids, by_rows = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
        found: dict[int, bytes] = {}
        done = 0  # ids hashed so far (and rows: done + 1, once any)
        for n in sorted(set(lengths)):
            by_ids.update(ids[done:n].tobytes())
            by_rows.update(rows[done + 1 if found else 0 : n + 1].tobytes())
            done = n
            # heard with other voices or not: the training tunes' weight differs (rows alone
            # cannot tell a voice whose others are silent so far from a voice alone)
            heard = b"h" if setting.others else b"r"
            found[n] = heard + space + by_ids.digest() + by_rows.digest()
        self._last_keys = (ident, {**known, **found})
        return [found[n] for n in lengths]

    def _cond(self, ids: np.ndarray, done: int, span: int, setting: Setting | None):  # type: ignore[no-untyped-def]
        """Rows ``[1, span, C]`` for reading ``ids[done:done+span]`` (steps ``done+1..``):
        those :meth:`_rows` made for the context's keys where they cover it (the same rows:
        row ``s`` reads the durations before event ``s`` only), else made here. Made again
        they cost each model call ~0.09 ms (a two-voice piece; kept: 0.004 ms, measured)."""
        end = done + span
        kept = self._kept_rows(ids, end, setting)
        if kept is not None:
            return kept[done + 1 :][None]
        cond = self.model.condition(ids[:end] % self.vd, done + 1, span, setting)
        return None if cond is None else cond[None]

    def _kept_rows(self, ids: np.ndarray, top: int, setting: Setting | None) -> np.ndarray | None:
        """Rows of steps ``0..top`` from :meth:`_rows`' memo, where it holds this context."""
        memo = self._last_rows
        if (
            memo is not None
            and memo[0] is setting
            and len(memo[1]) >= top
            and np.array_equal(memo[1][:top], ids[:top])
        ):
            return memo[2][: top + 1]
        return None

    def _rows(self, ids: np.ndarray, top: int, setting: Setting) -> np.ndarray:
        """Conditioning rows of steps ``0..top`` (remembered for the last context asked: a
        lookup, the priming after it and the warm-up's check all ask for the same one)."""
        kept = self._kept_rows(ids, top, setting)
        if kept is not None:
            return kept
        rows = self.model.condition(ids[:top] % self.vd, 0, top + 1, setting)
        assert rows is not None
        rows = np.ascontiguousarray(rows, np.float32)
        self._last_rows = (setting, ids[:top].copy(), rows)
        return rows

    def prime_ids(
        self,
        ids: np.ndarray,
        checkpoints: Sequence[int] = (),
        setting: Setting | None = None,
        meanwhile: Callable[[], object] | None = None,
        network_from: int = 0,
    ) -> Primed:
        """As :meth:`prime` for combined ids; states at ``checkpoints`` (lengths) are kept
        (the end's among the cursors' unless ``n`` is a checkpoint too). ``meanwhile``: the
        caller's own work, done here while the helper reads a long context (else not
        called: the caller does it when it needs it).

        ``network_from``: where in ``ids`` the network starts reading, from ``<bos>``; the
        experts read all of ``ids`` (the served ``history``). Those network states are kept
        apart from the others, as the network left them (:data:`_AFTER`). A lone melody's
        served ``time`` is the beats of what the network read (its time line). In a setting
        the network reads the setting of a melody that starts where it starts (its rows, and
        so its keys, those of the same onsets), and the served ``time`` is the history's, as
        a whole read would serve it: what follows is heard at the same onsets either way."""
        history = ids = np.asarray(ids, dtype=np.int64)
        served_in = setting  # (the experts' setting: the history's time line)
        ids, checkpoints, setting, space, shift = self._network_part(
            ids, checkpoints, setting, network_from
        )
        n = len(ids)
        marks = sorted({c for c in checkpoints if 0 < c < n}, reverse=True)
        end_kept = n in checkpoints
        # (a short read asked to keep no checkpoint keeps its end only, not its start)
        base = self._lookup(ids, marks, setting, space, keep_start=bool(checkpoints) or not space)
        with self._lock:
            if base.length == n:
                self.hits += 1
                hit = True
            else:
                self.misses += 1
                hit = False
        if hit:
            if space:
                return self._served_after(base, history, served_in, shift=shift)
            return self._hit(base, ids, setting)
        points = [*sorted(c for c in marks if c > base.length), n]
        keys = dict(zip(points, self._keys(ids, points, setting, space), strict=True))
        experts = None
        rows = self._read_rows(ids, base.length, setting)
        helped: tuple[np.ndarray, np.ndarray, State, list[_Passed]] | None = None
        if n - base.length >= self.OVERLAP_EVENTS and self._helping.acquire(blocking=False):
            try:  # (the helper is free: another caller's read would not queue this one)
                reading = self._helper().submit(self._read, ids, base, points, rows)
                try:
                    experts = self.model.voice_experts(history, heard_with_others(served_in))
                    if meanwhile is not None:
                        meanwhile()
                finally:
                    # Not started yet (its thread not woken yet, or kept from the CPU or
                    # Python's lock by background work): taken back and read here.
                    if not reading.cancel():
                        helped = reading.result()
            finally:
                self._helping.release()
        pl, dl, st, passed = self._read(ids, base, points, rows) if helped is None else helped
        for point, state, point_pl, point_dl in passed:  # (stored here, not between reads)
            read = ids[:point]
            at = self.model.beats_of(read % self.vd)
            self._store(keys[point], Primed(state, point_pl, point_dl, point, read, at, raw=True))
        time = self.model.beats_of(ids % self.vd)
        if space:  # (kept as the network left it: each caller's experts read their own)
            raw = Primed(st, pl, dl, n, ids, time, raw=True)
            stored = self._store(keys[n], raw, tail=not end_kept)
            return self._served_after(stored, history, served_in, experts, shift)
        primed = self.served(pl, dl, ids, setting, st, time, experts)
        stored = self._store(keys[n], primed, tail=not end_kept)
        # What ``_again`` would redo for this context in this setting is what was just served:
        # priming it again (a completion ranks, then samples its phrase) finds it.
        self._last_again = (stored, setting, ids.tobytes(), primed)
        return primed

    def _served_after(
        self,
        base: Primed,
        history: np.ndarray,
        setting: Setting | None,
        experts: VoiceExperts | None = None,
        shift: float = 0.0,
    ) -> Primed:
        """A state of :meth:`prime_ids`' ``network_from`` served after ``history`` (kept for
        the last one asked: a completion primes the same context more than once); ``shift``:
        the beats before the network's start added to its time line.

        Asked again in another setting object (a ``play`` completion's re-ranking makes its
        own), only the experts that read the other voices are redone, as :meth:`_again` does
        for a whole read: serving it whole again took each keystroke of the 400-loop
        benchmark document 2.6-3.3 ms more than b9a7487's whole read did (in turns)."""
        assert base.raw
        memo = self._last_after
        asked = history.tobytes()
        if memo is not None and memo[0] is base and memo[2] == asked:
            if memo[1] is setting:
                return memo[3]
            if heard_with_others(memo[1]) == heard_with_others(setting):
                again = self._again(memo[3], history, setting)
                self._last_after = (base, setting, asked, again)
                return again
        time = base.time + shift
        primed = self.served(
            base.pitch_logits, base.dur_logits, history, setting, base.state, time, experts
        )
        self._last_after = (base, setting, asked, primed)
        return primed

    def _network_part(
        self,
        ids: np.ndarray,
        checkpoints: Sequence[int],
        setting: Setting | None,
        network_from: int,
    ) -> tuple[np.ndarray, Sequence[int], Setting | None, bytes, float]:
        """What the network reads of ``ids`` from ``network_from`` (:meth:`prime_ids`): those
        ids, the checkpoints counted from there, the setting of a melody that starts there,
        the key space (:data:`_AFTER`, or none for a whole read) and the beats left out."""
        if not 0 < network_from < len(ids):
            return ids, checkpoints, setting, b"", 0.0
        shift = 0.0
        if _salt(setting):
            assert setting is not None
            shift = self.model.beats_of(ids[:network_from] % self.vd)
            setting = setting.later(shift)
        marks = [c - network_from for c in checkpoints]
        return ids[network_from:], marks, setting, _AFTER, shift

    OVERLAP_EVENTS = 16
    """Events to read from which :meth:`prime_ids` has the network read them on a helper
    thread while it makes the voice's experts here (the network's call lets go of Python's
    lock): a jump to a fresh cursor after ~80 notes read them in ~3.5 ms and then made the
    experts in ~1-2 ms (cold tables), which now hide under the reading. Fewer events are read
    too quickly to be worth the handover. A read the helper has not started by the time the
    experts are made is taken back and read by the caller: in a 200,000-note document still
    being read and warmed up, a completion's read started on the helper 5 ms after its experts
    were made, the caller idle meanwhile (traced)."""

    def _read_rows(self, ids: np.ndarray, done: int, setting: Setting | None) -> np.ndarray | None:
        """Conditioning rows ``[1, len(ids) - done, C]`` for reading ``ids[done:]`` (steps
        ``done+1..``), made once before the read: :meth:`_cond` for each stretch between
        checkpoints gives their slices (row ``s`` reads the durations before event ``s``
        only). Made on the helper between its calls, they waited for Python's lock behind
        the caller's experts (seen in a timing trace of a fresh document's first completion
        on a 2-CPU VM)."""
        if not self.model.cond_dim or done >= len(ids):
            return None
        return self._cond(ids, done, len(ids) - done, setting)

    def _read(
        self, ids: np.ndarray, base: Primed, points: Sequence[int], rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, State, list[_Passed]]:
        """The network from ``base`` through ``ids``: the logits and state after the last
        of ``points``, and the state and logits at each of the others (the caller keeps them:
        storing them here would take Python's lock between the network's calls). ``rows``:
        :meth:`_read_rows`. Only slices and the network's calls, so that a read on the helper
        thread holds Python's lock as little as it can."""
        done, state = base.length, base.state
        passed: list[_Passed] = []
        for point in points:
            seg = ids[done:point]
            cond = None if rows is None else rows[:, done - base.length : point - base.length]
            pl, dl, state = self.model.step(
                (seg // self.vd)[None, :], (seg % self.vd)[None, :], state, cond
            )
            if point == points[-1]:
                return pl[0], dl[0], state, passed
            passed.append((point, state, pl[0], dl[0]))
            done = point
        raise ValueError("no point to read to")

    def _helper(self) -> ThreadPoolExecutor:
        """The thread :meth:`prime_ids` reads long contexts on (made at the first; named apart
        from the server's whole-file reader, notegen-read)."""
        with self._lock:
            if self._network is None:
                self._network = ThreadPoolExecutor(1, thread_name_prefix="notegen-network")
            return self._network

    def pitches_after_each(
        self,
        ids: np.ndarray,
        extras: Sequence[int] | np.ndarray,
        setting: Setting | None = None,
        network_from: int = 0,
        tunes_rows: int | None = None,
    ) -> np.ndarray:
        """Served next-pitch log-probabilities ``[len(extras), Vp]`` after ``ids`` followed by
        each of the joint ids ``extras``: alternatives scored together, as a check's are (one
        joint model step from ``ids``' state, :meth:`MelodyModel.step`'s ``joint``), each with
        the pitch experts its own context has (the copy model, the training tunes, the
        imitation expert); past the first ``tunes_rows`` rows, without the training tunes
        (the dearest expert: ~0.4 ms a row). Nothing is kept. What re-ranking a cursor's
        notes by the note written after them needs: as :meth:`prime_many` contexts they cost
        a model call and a kept state each, and their durations served too (~6 ms of ~17 for
        ten notes)."""
        ids = np.asarray(ids, np.int64)
        extra = np.asarray(extras, np.int64)
        base = self.prime_ids(ids, (), setting, network_from=network_from)
        h, c = base.state
        state = (np.repeat(h, len(extra), axis=1), np.repeat(c, len(extra), axis=1))
        cond = None
        if self.model.cond_dim:
            rows = {}  # (row s reads the durations before event s: one per duration)
            for d in np.unique(extra % self.vd).tolist():
                rows[d] = self._cond(np.append(ids, d), len(ids), 1, setting)[0, 0]
            cond = np.stack([rows[d] for d in (extra % self.vd).tolist()])
        pl, dl, _ = self.model.step(extra // self.vd, extra % self.vd, state, cond, joint=True)
        heard = heard_with_others(setting)
        out = []
        for row, joint_id in enumerate(extra.tolist()):
            history = np.append(ids, joint_id)
            experts = None
            if tunes_rows is not None and row >= tunes_rows:
                experts = self.model.voice_experts(history, tunes=False)
            log_p, _ = self.model.copy_log_probs(pl[row], dl[row], history, heard, experts)
            out.append(self.model.mix_imitation(log_p, history // self.vd, setting))
        return np.stack(out)

    def prime_many(
        self,
        requests: Sequence[tuple[Any, ...]],
        setting: Setting | None = None,
    ) -> list[Primed]:
        """:meth:`prime_ids` for several independent contexts, read as batch rows.

        Each context starts from its longest cached prefix; the uncached stretches of all of
        them go through the model together, one call per stretch of common length, which
        costs a fraction of reading them one after another on a float graph (a batch-8 step
        ~2x a batch-1 step); the int8 graph reads each row in a call of its own
        (:attr:`~notegen.model.network.MelodyModel.quantized`), :data:`ROWS_PER_YIELD` rows
        a turn. States at every checkpoint are stored as ``prime_ids`` stores them. Contexts
        that share an uncached prefix should be primed in turn, not together: each would
        read that prefix itself.
        """
        steps = self.prime_steps(requests, setting=setting)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return list(done.value)

    def prime_steps(
        self,
        requests: Sequence[tuple[Any, ...]],
        max_span: int = 0,
        setting: Setting | None = None,
    ) -> Generator[None, None, list[Primed]]:
        """:meth:`prime_many` a few rows at a time: yields after each context looked up, each
        model call (of at most ``max_span`` events when given, and of :meth:`_rows_per_call`
        rows) and each context served, and returns the primed contexts, so a background
        caller can let other work run between calls. A request may carry its own setting as a
        third item (else ``setting``), and as a fourth where the network starts reading, as
        :meth:`prime_ids`' ``network_from``: such a row keeps its states as the network left
        them, and not the start state of its later setting."""
        rows: list[_Row] = []
        out: list[Primed | None] = []
        for ids, checkpoints, *own in requests:
            place: Setting | None = own[0] if own else setting
            ids, checkpoints, place, space, _ = self._network_part(
                np.asarray(ids, dtype=np.int64), checkpoints, place, own[1] if len(own) > 1 else 0
            )
            n = len(ids)
            marks = sorted({c for c in checkpoints if 0 < c < n}, reverse=True)
            base = self._lookup(ids, marks, place, space, keep_start=not space)
            if base.length == n:
                out.append(base if space else self._hit(base, ids, place))
                continue
            points = [*sorted(c for c in marks if c > base.length), n]
            keys = dict(zip(points, self._keys(ids, points, place, space), strict=True))
            kept = n in checkpoints
            rows.append(
                _Row(len(out), ids, points, base.state, base.length, place, keys, kept, space)
            )
            out.append(None)
            # Each context's lookup and keys (its conditioning rows) in a step of its own: a
            # warm-up's round of eight sections, all looked up before the first model call,
            # was one step of ~5 ms (p99, in process), the longest a completion waited for.
            yield
        while rows:
            span = min(row.points[0] - row.done for row in rows)
            if max_span > 0:
                span = min(span, max_span)
            still: list[_Row] = []
            size = self._rows_per_call(len(rows))
            for first in range(0, len(rows), size):
                part = rows[first : first + size]
                pl, dl = self._read_rows_on(part, span)
                ended: list[tuple[int, _Row]] = []
                for r, row in enumerate(part):
                    if row.done == row.points[0]:
                        if len(row.points) > 1:  # passed on the way: as in prime_ids
                            self._store(row.keys[row.done], self._raw(row, pl[r], dl[r]))
                            row.points.pop(0)
                            still.append(row)
                            continue
                        ended.append((r, row))
                        continue
                    still.append(row)
                for r, row in ended:
                    # Each ended row's experts (~0.8 ms, up to ~8 on a busy machine) after a
                    # yield of its own: a warm-up's 16 rows that end together were one
                    # 15-35 ms step, and a completion asked meanwhile waited for all of it.
                    yield
                    if row.space:  # (as the network left it: each cursor serves its own)
                        primed = self._raw(row, pl[r], dl[r])
                    else:
                        history = row.ids[: row.done]
                        time = self.model.beats_of(history % self.vd)
                        primed = self.served(pl[r], dl[r], history, row.setting, row.state, time)
                    self._store(row.keys[row.done], primed, tail=not row.end_kept)
                    out[row.slot] = primed
                yield
            rows = still
        return [p for p in out if p is not None]

    def _raw(self, row: _Row, pitch_logits: np.ndarray, dur_logits: np.ndarray) -> Primed:
        """``row``'s state where it is now, as the network left it (not served)."""
        history = row.ids[: row.done]
        time = self.model.beats_of(history % self.vd)
        return Primed(row.state, pitch_logits, dur_logits, row.done, history, time, raw=True)

    def _rows_per_call(self, rows: int) -> int:
        """How many of ``rows`` contexts :meth:`prime_steps` reads between two yields: all of
        them where the graph reads a batch in one call, :data:`ROWS_PER_YIELD` where a
        quantized graph reads each row in a call of its own anyway (no batch to lose)."""
        if self.model.stateful and self.model.quantized:
            return ROWS_PER_YIELD
        return max(rows, 1)

    def _read_rows_on(self, rows: Sequence[_Row], span: int) -> tuple[np.ndarray, np.ndarray]:
        """``span`` more events of each of ``rows`` through the network, their states and
        ``done`` moved on; the logits after them (a row each)."""
        pids = np.stack([row.ids[row.done : row.done + span] // self.vd for row in rows])
        dids = np.stack([row.ids[row.done : row.done + span] % self.vd for row in rows])
        h = np.concatenate([row.state[0] for row in rows], axis=1)
        c = np.concatenate([row.state[1] for row in rows], axis=1)
        cond = None
        if self.model.cond_dim:
            cond = np.concatenate(
                [self._cond(row.ids, row.done, span, row.setting) for row in rows]
            )
        pl, dl, (h2, c2) = self.model.step(pids, dids, (h, c), cond)
        for r, row in enumerate(rows):
            row.done += span
            row.state = (h2[:, r : r + 1, :].copy(), c2[:, r : r + 1, :].copy())
        return pl, dl

    def _lookup(
        self,
        ids: np.ndarray,
        marks: Sequence[int],
        setting: Setting | None = None,
        space: bytes = b"",
        keep_start: bool = True,
    ) -> Primed:
        """The longest cached prefix of ``ids`` among ``marks`` and the last few lengths
        (``space``: among the entries kept under it, :meth:`prime_ids`' ``network_from``);
        ``keep_start``: keep the setting's start state when it is made here (one model call
        for each place a cold cursor reads short, ~7 kB kept each)."""
        lengths = self._lengths(len(ids), marks)  # the longest kept first
        plain = not _salt(setting)
        keys = self._keys(ids, lengths if plain else [*lengths, 0], setting, space)
        with self._lock:
            for key in keys[: len(lengths)]:
                for entries in (self._entries, self._tails):
                    hit = entries.get(key)
                    if hit is not None:
                        entries.move_to_end(key)
                        return hit
        if plain:
            return self._root
        key = keys[-1]
        with self._lock:
            hit = self._entries.get(key)
        if hit is None:
            # (a short read's start: the network reads on from it, and no context ends there)
            hit = self.root(setting, raw=bool(space) and len(ids) > 0)
            if keep_start:
                self._store(key, hit)
        return hit

    def _store(self, key: bytes, primed: Primed, tail: bool = False) -> Primed:
        """Keep ``primed`` under ``key`` (``tail``: among the cursors' states); the entry
        kept (the one a hit gives back)."""
        # Without its history: that is the caller's ids, given back on a hit. Kept, it would
        # pin a copy of every context's ids (~2 KB each) for as long as the entry lives.
        primed = dataclasses.replace(primed, history=_EMPTY)
        entries, capacity = (
            (self._tails, self.tail_capacity) if tail else (self._entries, self.capacity)
        )
        with self._lock:
            entries[key] = primed
            entries.move_to_end(key)
            for _ in range(min(len(entries) - capacity, self.EVICT_PER_STORE)):
                entries.popitem(last=False)
        return primed

    EVICT_PER_STORE = 4
    """Oldest states a store drops at most (one in a full cache). When the capacity shrank (a
    big document closed: ~7,000 states over it) the rest go in :meth:`shrink`'s rounds: all
    at once, the next completion's store took ~17 ms freeing them (measured)."""

    def shrink(self, count: int) -> bool:
        """Drop up to ``count`` of the oldest states beyond the capacity; whether more remain."""
        with self._lock:
            for _ in range(min(len(self._entries) - self.capacity, count)):
                self._entries.popitem(last=False)
            return len(self._entries) > self.capacity

    def clear(self) -> None:
        """Drop every state, and the last setting's memos: they hold that setting's voices,
        whose harmony tables, rhythm contexts and sounding memos live as long as they do
        (the benchmark piece, closed, kept 1.8 MB that way: tracemalloc, in-process)."""
        with self._lock:
            self._entries.clear()
            self._tails.clear()
            self._last_rows = None
            self._last_keys = None
            self._last_again = None
            self._last_after = None


_AFTER = b"\x00after"
"""What keys the network's states of :meth:`ContextCache.prime_ids`' ``network_from`` apart: the
same ids read from ``<bos>`` are the same state, but the distribution kept with it is the
network's own, not one mixed with a history's experts."""

_EMPTY = np.zeros(0, np.int64)


def _digest(ids: np.ndarray, salt: bytes = b"") -> bytes:
    """A context's cache key: 16 bytes of BLAKE2b over its ids (a 256-event context's raw
    bytes would be 2 KB per entry) and its setting's salt."""
    return hashlib.blake2b(ids.tobytes() + salt, digest_size=16).digest()


def _salt(setting: Setting | None) -> bytes:
    """What makes a setting's cache entries its own (empty for a lone melody)."""
    if setting is None or setting.plain:
        return b""
    return setting.key()


@dataclass
class _Row:
    """One context being read by :meth:`ContextCache.prime_many`."""

    slot: int
    ids: np.ndarray
    points: list[int]  # checkpoints still to reach, ascending; the last is len(ids)
    state: State
    done: int  # events read so far
    setting: Setting | None = None
    keys: dict[int, bytes] = field(default_factory=dict)  # cache key at each point
    end_kept: bool = False  # the end is a checkpoint too (else its state is a cursor's)
    space: bytes = b""  # the keys' space: a network's read from a later start (_AFTER)
