"""Runs of ``play``/``sleep`` statements in the order Sonic Pi plays them, voice by voice.

A *voice* is one top-level block (a ``live_loop``, ``in_thread``, ``define``…) or the top level
itself: its runs play one after another, a run in ``N.times do … end`` N times, the ``sleep``s
before a run's first ``play`` lengthening the note before it, and a looping voice
(``live_loop``, ``loop``, a ``define`` called in one) comes round to its first run again.
Completion reads a cursor's melody this way (the notes heard before it), not run by run: a
live coder splits one phrase across ``2.times`` blocks and ``with_fx`` wrappers, and the
phrase is what the model knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from notegen.melody import Event, shared
from notegen.sonicpi.statements import DefineCall, PlayRun
from notegen.sonicpi.types import NoteArray

_LOOPING = frozenset(["live_loop", "loop", "times", "each", "while", "until"])


@dataclass(frozen=True, slots=True)
class VoiceRun:
    """One run of a voice: where it is, its events (one pass) and how often it plays."""

    start: int
    end: int
    events: tuple[Event, ...]
    lead: float = 0.0
    repeat: int = 1
    timed: tuple[Event, ...] = ()
    """``events`` with notes written as code kept as silences (the run's timing)."""
    tones: tuple[tuple[float, ...], ...] = ()
    """Each of ``timed``'s steps as the pitches it sounds, highest first (a chord's all)."""


@dataclass(frozen=True, slots=True)
class PlayVoice:
    """A top-level block's runs in document order (= play order), and whether it loops."""

    start: int
    end: int | None
    looped: bool
    runs: tuple[VoiceRun, ...]
    kind: str = "top"

    def one_pass(self) -> list[Event]:
        """The events of one pass through the voice, timed (code notes as silences)."""
        return _chain([(r.lead, r.timed * r.repeat) for r in self.runs])

    def layers(self) -> list[list[Event]]:
        """One pass as timed melodies: the top notes, then each chord's next tone down…"""
        durations = [e.duration for e in self.one_pass()]
        tones = [t for r in self.runs for t in r.tones * r.repeat]
        depth = max((len(t) for t in tones), default=0)
        return [
            [shared(t[k] if k < len(t) else None, d) for t, d in zip(tones, durations, strict=True)]
            for k in range(depth)
        ]

    def contains(self, offset: int) -> bool:
        return self.start <= offset and (self.end is None or offset < self.end)


def run_events(
    run: PlayRun, steps: Sequence[int] | None = None, timed: bool = False
) -> list[Event]:
    """The run's notes (or ``steps`` of them) with their sleeps; code and invalid notes out
    (``timed``: kept, without a pitch, so the events last as long as the run)."""
    out: list[Event] = []
    for i in range(len(run.notes)) if steps is None else steps:
        tok = run.notes[i]
        duration = run.durations.duration_for(i) if run.durations else None
        if tok.error is None and not tok.dynamic:
            out.append(shared(tok.midi, duration))
        elif timed:
            out.append(shared(None, duration))
    return out


def _tones(run: PlayRun) -> list[tuple[float, ...]]:
    """The pitches each step sounds, highest first (none for code and invalid notes)."""
    out: list[tuple[float, ...]] = []
    for tok in run.notes:
        pitches: tuple[int | float | None, ...] = ()
        if tok.error is None and not tok.dynamic:
            pitches = tok.chord if tok.chord is not None else (tok.midi,)
        out.append(tuple(sorted((float(p) for p in pitches if p is not None), reverse=True)))
    return out


def _repeat(run: PlayRun) -> int:
    """How often a run plays per pass of its voice (a voice that repeats as a whole: once;
    a run that ticks: once, as read: its next times round play other notes)."""
    block = run.block
    if (
        not run.ticks
        and block is not run.outer
        and block.kind == "times"
        and block.repeat is not None
        and 1 <= block.repeat <= 16
    ):
        return block.repeat
    return 1


def play_voices(arrays: Sequence[NoteArray]) -> list[PlayVoice]:
    """The voices of a document's runs (top level last when it has runs)."""
    grouped: dict[int, tuple[PlayRun, list[VoiceRun]]] = {}
    top: list[VoiceRun] = []
    for run in arrays:
        if not isinstance(run, PlayRun):
            continue
        item = VoiceRun(
            run.span.start,
            run.span.end,
            tuple(run_events(run)),
            run.lead,
            _repeat(run),
            tuple(run_events(run, timed=True)),
            tuple(_tones(run)),
        )
        if run.outer is None:
            top.append(item)
        else:
            grouped.setdefault(id(run.outer), (run, []))[1].append(item)
    defined: dict[str, list[VoiceRun]] = {}
    for first, runs in grouped.values():
        block = first.outer
        if block is not None and block.kind == "define" and block.name is not None:
            defined.setdefault(block.name, runs)
    voices = []
    for first, runs in grouped.values():
        block = first.outer
        assert block is not None
        if block.kind != "define":
            runs = sorted([*runs, *_called(block.calls, defined)], key=lambda r: r.start)
        voices.append(
            PlayVoice(
                block.start,
                block.end,
                block.kind in _LOOPING or (block.kind == "define" and block.looped),
                tuple(runs),
                block.kind,
            )
        )
    if top:
        voices.append(PlayVoice(0, None, False, tuple(top)))
    return voices


def _called(calls: Sequence[DefineCall], defined: dict[str, list[VoiceRun]]) -> list[VoiceRun]:
    """What a block's calls of ``define``s play, as runs where the calls are."""
    out: list[VoiceRun] = []
    for call in calls:
        body = defined.get(call.name)
        if not body:
            continue  # a define whose notes are code (`play note`): nothing known
        parts = [(r.lead, r.events * r.repeat) for r in body]
        timed = [(r.lead, r.timed * r.repeat) for r in body]
        events, steps = _chain([*parts, (call.tail, ())]), _chain([*timed, (call.tail, ())])
        tones = tuple(t for r in body for t in r.tones * r.repeat)
        at = call.offset
        out.append(VoiceRun(at, at, tuple(events), body[0].lead, 1, tuple(steps), tones))
    return out


def voice_at(voices: Sequence[PlayVoice], offset: int) -> PlayVoice | None:
    """The block voice around ``offset``, else the top level's."""
    for voice in voices:
        if voice.kind != "top" and voice.contains(offset):
            return voice
    return next((v for v in voices if v.kind == "top"), None)


def _chain(parts: Sequence[tuple[float, Sequence[Event]]]) -> list[Event]:
    """Events of consecutive parts; a part's ``lead`` (sleeps before its first play) extends
    the last event before it, as Sonic Pi waits that long before the next note."""
    out: list[Event] = []
    for lead, events in parts:
        if lead > 0 and out:
            out[-1] = shared(out[-1].pitch, (out[-1].duration or 0.0) + lead)
        out.extend(events)
    return out


def heard_before(voice: PlayVoice | None, run: PlayRun, offset: int, step: int) -> list[Event]:
    """The notes a cursor at step ``step`` of ``run`` hears before it, in play order.

    ``offset`` is where ``run`` starts in the document (``voice`` may come from a reading a
    version older: runs are told apart by offsets, so a few characters' drift is harmless).
    The run's own notes before ``step`` come last; before them the voice's earlier runs and,
    in a voice that loops, first its later runs and the run's own notes after ``step``: the
    previous pass (the run's notes after ``step`` alone when its own block repeats).
    """
    before = run_events(run, range(step))
    after = run_events(run, range(step + 1, len(run.notes)))
    own_loop = run.block.kind in _LOOPING and run.block is not run.outer
    if voice is None:
        return [*after, *before] if run.block.looped else before
    end = offset + (run.span.end - run.span.start)
    twin = next((r for r in voice.runs if r.start == offset and r.end > r.start), None)
    if twin is not None:  # the whole file's reading knows where a define's call ends the run
        end = min(end, twin.end)
    prior = [r for r in voice.runs if r.end <= offset]
    later = [r for r in voice.runs if r.start >= end]
    parts: list[tuple[float, Sequence[Event]]] = []
    if voice.looped:
        if not own_loop:
            parts.append((0.0, after))
        parts.extend((r.lead, r.events * r.repeat) for r in later)
    parts.extend((r.lead, r.events * r.repeat) for r in prior)
    if own_loop:
        parts.append((0.0, after))
        parts.append((run.lead, before))
    else:
        parts.append((run.lead, before))
    return _chain(parts)


def heard_after(voice: PlayVoice | None, run: PlayRun, offset: int, step: int) -> Event | None:
    """The note heard right after step ``step`` of ``run`` where it is already written (a note
    being replaced or inserted mid-run), in play order: the run's next note; after its last,
    the next run of the voice, and in a closed block or voice that repeats, the first note
    again. ``None`` when nothing pitched follows: the end of a melody that plays once, or of
    a loop still being written (no ``end`` yet: more notes are coming, not the first again).
    """
    rest = run_events(run, range(step + 1, len(run.notes)))
    if rest:
        return rest[0]
    again = run_events(run, range(step))
    own_loop = run.block.kind in _LOOPING and run.block is not run.outer
    if voice is None or own_loop:
        closed = run.block.end is not None and (own_loop or run.block.looped)
        return again[0] if again and closed else None
    end = offset + (run.span.end - run.span.start)
    twin = next((r for r in voice.runs if r.start == offset and r.end > r.start), None)
    if twin is not None:
        end = min(end, twin.end)
    later = [r for r in voice.runs if r.start >= end]
    looped = voice.looped and voice.end is not None and run.block.end is not None
    prior = [r for r in voice.runs if r.end <= offset] if looped else []
    for r in [*later, *prior]:
        first = next((e for e in r.events if e.pitch is not None), None)
        if first is not None:
            return first
    return again[0] if again and looped else None


def total_beats(events: Sequence[Event]) -> float:
    """Beats ``events`` last, one after another (a duration unknown: none)."""
    return float(sum(e.duration or 0.0 for e in events))


def run_beats(run: PlayRun, steps: Sequence[int] | None = None) -> float:
    """Beats the run's steps (or ``steps`` of them) last, notes written as code included."""
    if run.durations is None:
        return 0.0
    indices = range(len(run.notes)) if steps is None else steps
    return float(sum(run.durations.duration_for(i) or 0.0 for i in indices))


def onset_in_pass(voice: PlayVoice | None, run: PlayRun, offset: int, step: int) -> float:
    """Beats from the start of the voice's pass to step ``step`` of ``run`` (at ``offset``)."""
    own = run.lead + run_beats(run, range(step))
    if voice is None:
        return own
    prior = [(r.lead, r.timed * r.repeat) for r in voice.runs if r.end <= offset]
    return sum(lead + total_beats(events) for lead, events in prior) + own
