"""Completion and ghost text in runs of ``play``/``sleep`` statements.

After ``play `` (or ``note: ``) the items are the likely next notes, as in arrays (no rest:
a rest is a longer ``sleep``); after ``sleep `` the likely durations, the model's suggestion
first. Ghost text writes the next few statements in the run's indentation and style: notes
spelled like the file (``play :e4`` or ``play 64``), the options every ``play`` of the run
has (``release: 0.5``) and the head they share (``synth :pluck, note:``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from lsprotocol import types

from notegen import sonicpi
from notegen.lsp.config import Settings
from notegen.melody import Event
from notegen.model.generate import Candidate, generate_long
from notegen.model.sampling import softmax
from notegen.notes import MAX_SONIC_PI_NOTE, NoteStyle
from notegen.playback.snippets import DEFAULT_BPM, Snippet
from notegen.sonicpi import format_duration
from notegen.sonicpi.play_order import PlayVoice, heard_before, play_voices, voice_at
from notegen.sonicpi.statement_writer import indent_lines, melody_lines
from notegen.sonicpi.statements import PlayRun
from notegen.sonicpi.types import (
    LINE_BREAK,
    NoteArray,
    Span,
    line_end_at,
    line_start_before,
    newline_of,
    next_line_start,
)

from .completion import (
    HABIT_WINDOW,
    Suggestion,
    build_items,
    phrase,
    rank_notes,
    with_habits,
)
from .context import NoteContext
from .documents import DocumentView
from .engine import Engine
from .spelling import spell_matching

REPEAT_RANK = 2
"""The note just played is offered at least third: live-coded lines (bass lines above all)
repeat notes far more than the tunes the model learned from (on the live-coding files here,
28 % of notes repeat the one before; a quarter of those were below the model's top 3)."""
FILL_CANDIDATES = 10
"""The most likely notes re-ranked by how well they lead into the note written after the
cursor (:func:`leading_into`)."""
TUNES_CANDIDATES = 6
"""Of those, the most likely ones scored with the training tunes' experts too (the others
with the copy model and the imitation expert only): the same hits at all 376 places of
``play_completion.py`` (dev and held-out) as with all ten, ~1.6 ms less a completion."""
GHOST_LINES_NOTES = 4
"""Notes the ghost text writes after the one being completed (each a play and a sleep line)."""


@dataclass(frozen=True)
class RunStyle:
    """How a run writes its statements: indentation, ``play`` head, shared options."""

    indent: str
    head: str
    options: str
    numeric: bool


def run_style(run: PlayRun, numeric: bool) -> RunStyle:
    """The head every play shares (else ``play``) and the options every play has, with the
    values of the last one (``, release: 0.5``)."""
    plays = [line for line in run.plays if line.note is not None and line.note.text]
    heads = {line.head for line in plays}
    head = heads.pop() if len(heads) == 1 else "play"
    options = ""
    if plays:
        common = set.intersection(*(set(k for k, _ in line.options) for line in plays))
        last = plays[-1].options
        options = "".join(f", {k}: {v}" for k, v in last if k in common)
    return RunStyle(run.indent, head, options, numeric)


def register_shift(events: list[Event], lo: int, hi: int) -> int:
    """Octaves (in semitones) that move a melody to the middle of the model's range.

    Bass lines (``:e1``, ``:g1``) and high leads sit far from the melodies the model learned
    (folk tunes and chorale sopranos, around the middle of ``[lo, hi]``); read there, they are
    the same tune, and the suggestions move back by as many octaves.
    """
    # Only notes Sonic Pi can play count (0-231): ``play 1e308`` is code, not a register, and
    # near 1e308 adding an octave changes nothing (the loops below never ended).
    pitched = sorted(
        float(e.pitch) for e in events if e.pitch is not None and 0 <= e.pitch <= MAX_SONIC_PI_NOTE
    )
    if not pitched:
        return 0
    median = pitched[len(pitched) // 2]
    shift = 12 * round(((lo + hi) / 2 - median) / 12)
    while pitched[0] + shift < lo and pitched[-1] + shift + 12 <= hi:
        shift += 12
    while pitched[-1] + shift > hi and pitched[0] + shift - 12 >= lo:
        shift -= 12
    return shift


def notes_only(engine: Engine, nc: NoteContext, limit: int) -> list[Suggestion]:
    """Ranked next notes without the rest (``play :r`` is silence: a sleep says it better),
    read in the model's register (see :func:`register_shift`)."""
    model = engine.model
    if model is None:
        return []
    lo, hi = int(model.pitches.min()), int(model.pitches.max())
    shift = register_shift(nc.before, lo, hi)
    moved: list[Event] = []
    for part in [*(a.events() for a in nc.earlier), nc.before]:
        own = shift if part is nc.before else register_shift(part, lo, hi)
        moved.extend(Event(None if e.pitch is None else e.pitch + own, e.duration) for e in part)
    shifted = replace(nc, earlier=[], before=moved, partial="")
    everything = [s.candidate for s in rank_notes(engine, shifted, len(model.pitch_vocab))]
    # the voice's habits, as in arrays, counted in the register the model reads
    everything = with_habits(everything, [e.pitch for e in moved[-HABIT_WINDOW:]])
    ranked = [
        Candidate(c.pitch - shift, c.probability, c.duration)
        for c in everything
        if c.pitch is not None and 12 <= c.pitch - shift <= 127
        # (below :c0 a symbol needs quotes, `:c-1` is `:c - 1` in Ruby; above 127: no MIDI)
    ]
    if nc.after is not None:
        ranked = leading_into(engine, shifted, ranked, nc.after, shift)
    played = [e.pitch for e in nc.before if e.pitch is not None]
    if played:  # the note just played stays within reach (see REPEAT_RANK)
        again = next((k for k, c in enumerate(ranked) if c.pitch == played[-1]), None)
        if again is not None and again > REPEAT_RANK:
            ranked.insert(REPEAT_RANK, ranked.pop(again))
    out: list[Suggestion] = []
    for candidate in ranked:
        text = spell_matching(candidate.pitch, nc.style, nc.partial, nc.numeric)
        if text is None:
            continue
        out.append(Suggestion(text, candidate, len(out)))
        if len(out) >= limit:
            break
    return out


def leading_into(
    engine: Engine, shifted: NoteContext, ranked: list[Candidate], after: Event, shift: int
) -> list[Candidate]:
    """``ranked`` with its first :data:`FILL_CANDIDATES` re-ranked by P(note, next note |
    notes before): where the note after the cursor is already written (a note replaced or
    inserted mid-run, the loop's first note after its last) it tells which notes fit. Each
    candidate is read once more by the model (one batched step) and weighted by the
    probability it gives the written next note; the re-ranked notes keep their total share.
    ``shifted`` is the context in the model's register (``shift`` semitones up).
    """
    model, cache = engine.model, engine.cache
    top = ranked[:FILL_CANDIDATES]
    if model is None or cache is None or after.pitch is None or len(top) < 2:
        return ranked
    duration = shifted.local.ctx.durations
    beats = duration.duration_for(shifted.local.ctx.index) if duration is not None else None
    events = [Event(c.pitch + shift, beats) for c in top if c.pitch is not None]
    if len(events) < len(top):
        return ranked
    ids, marks, setting = shifted.context(cache, events[:1])  # (each note's: the same but its own)
    after_each = cache.pitches_after_each(
        ids[:-1],
        cache.ids(events),
        setting,
        network_from=shifted.network_from(cache, ids[:-1], marks, setting),
        tunes_rows=TUNES_CANDIDATES,
    )
    nxt = model.pitch_id(after.pitch + shift)
    joint = [
        c.probability * float(softmax(log_p)[nxt]) for c, log_p in zip(top, after_each, strict=True)
    ]
    total, mass = sum(joint), sum(c.probability for c in top)
    if total <= 0:
        return ranked
    order = sorted(range(len(top)), key=lambda k: -joint[k])
    return [replace(top[k], probability=mass * joint[k] / total) for k in order] + ranked[
        len(top) :
    ]


def ranked_beats(engine: Engine, nc: NoteContext, limit: int) -> list[tuple[float, float]]:
    """(beats, probability) of the next duration, most likely first, matching the partial."""
    model, cache = engine.model, engine.cache
    if model is None or cache is None:
        return []
    primed = nc.prime(cache)
    probs = softmax(primed.dur_logits)
    probs[0] = 0.0
    out: list[tuple[float, float]] = []
    for did in np.argsort(-probs, kind="stable"):
        if probs[did] <= 0:
            break
        beats = model.duration_of(int(did))
        if format_duration(beats).startswith(nc.partial):
            out.append((beats, float(probs[did])))
        if len(out) >= limit:
            break
    return out


def complete(
    engine: Engine, nc: NoteContext, settings: Settings, edit_range: types.Range
) -> list[types.CompletionItem]:
    """Items for the note of a ``play`` or the beats of a ``sleep``."""
    slot = nc.local.ctx.slot
    if slot == "note":
        return build_items(nc, notes_only(engine, nc, settings.maxItems), [], edit_range)
    if slot != "sleep":
        return []
    items = []
    for rank, (beats, p) in enumerate(ranked_beats(engine, nc, settings.maxItems)):
        text = format_duration(beats)
        items.append(
            types.CompletionItem(
                label=text,
                kind=types.CompletionItemKind.Value,
                detail=f"{p:.1%} · {text} beats",
                documentation=f"The model gives {text} beats {p:.1%} here.",
                sort_text=f"{rank:04d}",
                filter_text=text,
                text_edit=types.TextEdit(range=edit_range, new_text=text),
                preselect=rank == 0,
            )
        )
    return items


def ghost_text(engine: Engine, nc: NoteContext, settings: Settings) -> str | None:
    """The rest of the statement at the cursor and the next few ``play``/``sleep`` lines,
    in the document's line ends (``\\r\\n`` in a Windows file)."""
    ghost = _ghost_text(engine, nc, settings)
    nl = newline_of(nc.document)
    return ghost if ghost is None or nl == "\n" else ghost.replace("\n", nl)


def _ghost_text(engine: Engine, nc: NoteContext, settings: Settings) -> str | None:
    if engine.model is None or engine.cache is None:
        return None
    ctx = nc.local.ctx
    run = ctx.array
    if not isinstance(run, PlayRun):
        return None
    style = run_style(run, nc.numeric)
    text = nc.document
    rest_of_line = text[nc.local.offset : line_end_at(text, nc.local.offset)].strip()
    count = max(1, min(GHOST_LINES_NOTES, settings.phraseLength))
    if ctx.slot == "note":
        best = notes_only(engine, nc, 1)
        if not best:
            return None
        first = best[0].text
        if rest_of_line or _next_line_starts(text, nc.local.offset, "sleep"):
            return first  # options follow, or the sleep is written: complete the note only
        plays_options = style.options if not _has_options(text, nc) else ""
        extra = [Event(best[0].candidate.pitch, best[0].candidate.duration)]
        lead = first + plays_options + "\n" + style.indent + f"sleep {_beats(extra[0])}"
        events = phrase(engine, nc, settings, count, extra)
        return lead + _continue(events, nc, style)
    if ctx.slot == "sleep":
        typed = _number(nc.partial)
        ranked = [(typed, 1.0)] if typed is not None else ranked_beats(engine, nc, 1)
        if not ranked:
            return None
        first = nc.partial if typed is not None else format_duration(ranked[0][0])
        if rest_of_line or _next_line_starts(text, nc.local.offset, "play"):
            return first
        pending = ctx.array.notes[ctx.index] if ctx.index < len(ctx.array.notes) else None
        extra = []
        if pending is not None and pending.midi is not None:
            extra = [Event(pending.midi, ranked[0][0])]
        events = phrase(engine, nc, settings, count, extra)
        return first + _continue(events, nc, style)
    if ctx.slot == "line":
        pad = _missing_indent(text, nc.local.offset, style.indent)
        pending = ctx.partial_token
        if pending is not None:
            ranked = ranked_beats(engine, nc, 1)
            if not ranked:
                return None
            extra = [Event(pending.midi, ranked[0][0])] if pending.midi is not None else []
            events = phrase(engine, nc, settings, count, extra)
            return pad + f"sleep {format_duration(ranked[0][0])}" + _continue(events, nc, style)
        events = phrase(engine, nc, settings, count)
        body = _lines(events, nc, style)
        return pad + body.lstrip(" \t") if body else None
    return None


def _number(text: str) -> float | None:
    """``"1"``, ``"0.5"``: a duration already typed in full (``"1."`` is still being typed)."""
    if not text or text.endswith(".") or not text.replace(".", "", 1).isdigit():
        return None
    value = float(text)
    return value if value > 0 else None


def _beats(event: Event) -> str:
    return format_duration(1.0 if event.duration is None else float(event.duration))


def _lines(events: list[Event], nc: NoteContext, style: RunStyle) -> str:
    lines = melody_lines(
        events, nc.style, numeric=style.numeric, head=style.head, options=style.options
    )
    return indent_lines(lines, style.indent)


def _continue(events: list[Event], nc: NoteContext, style: RunStyle) -> str:
    body = _lines(events, nc, style)
    return "\n" + body if body else ""


def _next_line_starts(text: str, offset: int, word: str) -> bool:
    """The line after the cursor's line is already a ``word`` statement."""
    start = next_line_start(text, line_end_at(text, offset))
    following = text[start : line_end_at(text, start)].strip()
    return following == word or following.startswith(word + " ")


def _has_options(text: str, nc: NoteContext) -> bool:
    """The line being typed already has options (``play |, release: 2``)."""
    line_start = line_start_before(text, nc.local.offset)
    return "," in text[line_start : nc.local.offset].split("note:")[-1]


def _missing_indent(text: str, offset: int, indent: str) -> str:
    """What the cursor's blank line lacks of the run's indentation."""
    typed = text[line_start_before(text, offset) : offset]
    return indent[len(typed) :] if indent.startswith(typed) else ""


# -- continueMelody, Play in Sonic Pi ------------------------------------------------------------


def run_at(view: DocumentView, line: int, character: int) -> PlayRun | None:
    """The run of ``play``/``sleep`` lines at a position (on one of its lines, or on a blank
    line right after it), from the view's reading of the whole document (read once per
    version: the cursor's statement is found in it without reading the text again, which
    cost continueMelody and Play in Sonic Pi ~250 ms a call in a 20,000-note file)."""
    arrays = view.arrays()
    if not any(isinstance(array, PlayRun) for array in arrays):
        return None
    offset = view.offset_at(line, character)
    ctx = sonicpi.context_in(view.text, arrays, view.quoted(), offset)
    if ctx is not None and isinstance(ctx.array, PlayRun):
        return ctx.array
    array = view.array_at(offset)
    return array if isinstance(array, PlayRun) else None


def continue_history(
    arrays: list[NoteArray], run: PlayRun, voices: list[PlayVoice] | None = None
) -> list[Event]:
    """What a continuation follows: the other blocks' earlier runs, then the run's voice in
    play order up to the run's end (as completion reads it, ``notegen.sonicpi.play_order``).
    ``voices``: the :func:`play_voices` of ``arrays`` when a reading has them already (in a
    file of 400 live_loops, ~60 ms a continuation to make again)."""
    voice = voice_at(play_voices(arrays) if voices is None else voices, run.span.start)
    own = {r.start for r in voice.runs} if voice is not None else set()
    events: list[Event] = []
    for other in arrays:
        if not isinstance(other, PlayRun) or other.span.start in own:
            continue
        if other.span.start < run.span.start:
            events.extend(other.events())
    return events + heard_before(voice, run, run.span.start, len(run.notes))


def continuation_lines(
    text: str, run: PlayRun, made: list[Event], style: NoteStyle, numeric: bool
) -> tuple[int, str]:
    """Where and what to insert: the new lines after the run's last line (its comment kept
    on it), a ``sleep`` first when the run ends on a ``play``."""
    rs = run_style(run, numeric)
    lines = melody_lines(made, style, numeric=rs.numeric, head=rs.head, options=rs.options)
    if run.lines and run.lines[-1].kind == "play":
        known = [v.value for v in (run.durations.values if run.durations else []) if v.value]
        beats = max(set(known), key=known.count) if known else 1.0
        lines.insert(0, f"sleep {format_duration(beats)}")
    end = line_end_at(text, run.lines[-1].stop)  # after a `play … do |s|` line's block
    nl = newline_of(text)  # (the document's line ends: \r\n in a Windows file)
    return end, nl + indent_lines(lines, rs.indent).replace("\n", nl)


def shifted_generate(model, history: list[Event], count: int, **kwargs) -> list[Event]:
    """:func:`notegen.model.generate.generate_long` in the model's register, moved back (bass
    lines)."""
    lo, hi = int(model.pitches.min()), int(model.pitches.max())
    shift = register_shift(history, lo, hi)
    moved = [Event(None if e.pitch is None else e.pitch + shift, e.duration) for e in history]
    made = generate_long(model, moved, count, **kwargs)
    return [Event(None if e.pitch is None else e.pitch - shift, e.duration) for e in made]


PLAYED_WHOLE = frozenset(
    [
        "times",
        "in_thread",
        "with_fx",
        "with_synth",
        "with_bpm",
        "with_transpose",
        "density",
        "play",  # `play :b2 do |s| … end`: the note and its block (which needs `s`)
    ]
)
"""Blocks played as written (once, or N times); others (``live_loop``, ``loop``, ``define``,
``if``…) are played as their body, once: a loop would not end, a ``define`` plays nothing."""
_ASSIGNMENT_RE = re.compile(r"[a-z_][A-Za-z0-9_]*\s*=[^=~]")
_ASSIGNMENT_LINES = 200
"""The most lines of one top-level assignment copied before a block (a tune's ring)."""


def run_snippet(text: str, run: PlayRun, arrays: Sequence[NoteArray] = ()) -> Snippet:
    """Play the block under the cursor once, as written, at the run's tempo.

    The block's lines (its body for a loop or a ``define``; the run's lines at the top level)
    follow ``use_bpm`` and the document's one-line top-level assignments above it
    (``key = :e3``, which the block may use); ``sync`` lines are left blank, since nothing
    would cue them. Each line maps back to the document, so Sonic Pi's errors land on it.
    ``arrays`` (the document's reading) give how long it plays: every run inside, each as
    often as its ``N.times`` says.
    """
    block = run.block
    if block.kind == "top" or block.end is None:
        last = max(run.span.end, run.lines[-1].stop if run.lines else 0)  # a play's block too
        start, end = line_start_before(text, run.span.start), line_end_at(text, last)
    elif block.kind in PLAYED_WHOLE:
        start, end = block.start, line_end_at(text, block.end)
    else:
        start = next_line_start(text, line_end_at(text, block.start))
        before_end = line_start_before(text, block.end)  # (its line break's start: before it)
        end = max(start, before_end - (2 if text.startswith("\r\n", before_end - 2) else 1))
    bpm = run.bpm or DEFAULT_BPM
    code_lines = [f"use_bpm {format_duration(bpm)}"]
    origins: list[Span | None] = [None]
    pending: list[tuple[str, Span]] = []  # an assignment over several lines (a ring)
    for line, at in _lines_in(text, 0, line_start_before(text, start)):
        here = Span(at, at + len(line))
        if pending:
            pending.append((line, here))
            if _balanced("".join(part for part, _ in pending)):
                code_lines.extend(part for part, _ in pending)
                origins.extend(span for _, span in pending)
                pending = []
            elif len(pending) > _ASSIGNMENT_LINES:
                pending = []
            continue
        if _ASSIGNMENT_RE.match(line):
            if _balanced(line):
                code_lines.append(line)
                origins.append(here)
            else:
                pending = [(line, here)]
    for line, at in _lines_in(text, start, end):
        code_lines.append("" if line.strip().split(" ")[0] == "sync" else line)
        origins.append(Span(at, at + len(line)))
    inside = [a for a in arrays if isinstance(a, PlayRun) and start <= a.span.start < end]
    beats = sum(_beats_of(r) for r in inside or [run])
    return Snippet("\n".join(code_lines) + "\n", tuple(origins), beats * 60.0 / bpm, bpm)


def _beats_of(run: PlayRun) -> float:
    beats = sum(v.value for v in (run.durations.values if run.durations else []) if v.value)
    return beats * (run.block.repeat or 1 if run.block.kind == "times" else 1)


def _lines_in(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """The lines of ``text[start:end]`` (ended by ``\\n``, ``\\r\\n`` or a lone ``\\r``, as
    ``str.split("\\n")`` gives a ``\\n`` file's) and where each starts in ``text``."""
    out: list[tuple[str, int]] = []
    at = start
    for brk in LINE_BREAK.finditer(text, start, end):
        out.append((text[at : brk.start()], at))
        at = brk.end()
    out.append((text[at:end], at))
    return out


def _balanced(line: str) -> bool:
    return sum(line.count(c) for c in "([{") == sum(line.count(c) for c in ")]}")
