"""Completion and ghost text in runs of ``play``/``sleep`` statements.

After ``play `` (or ``note: ``) the items are the likely next notes, as in arrays (no rest:
a rest is a longer ``sleep``); after ``sleep `` the likely durations, the model's suggestion
first. Ghost text writes the next few statements in the run's indentation and style: notes
spelled like the file (``play :e4`` or ``play 64``), the options every ``play`` of the run
has (``release: 0.5``) and the head they share (``synth :pluck, note:``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lsprotocol import types
from notegen.config import Settings
from notegen.melody import Event
from notegen.sampling import softmax
from notegen.sonicpi import format_duration
from notegen.sonicpi.statement_writer import indent_lines, melody_lines
from notegen.sonicpi.statements import PlayRun

from .completion import Suggestion, build_items, phrase, rank_notes
from .context import NoteContext
from .engine import Engine

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


def notes_only(engine: Engine, nc: NoteContext, limit: int) -> list[Suggestion]:
    """Ranked next notes without the rest (``play :r`` is silence: a sleep says it better)."""
    ranked = rank_notes(engine, nc, limit + 1)
    kept = [s for s in ranked if s.candidate.pitch is not None][:limit]
    return [Suggestion(s.text, s.candidate, k) for k, s in enumerate(kept)]


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
    """The rest of the statement at the cursor and the next few ``play``/``sleep`` lines."""
    if engine.model is None or engine.cache is None:
        return None
    ctx = nc.local.ctx
    run = ctx.array
    if not isinstance(run, PlayRun):
        return None
    style = run_style(run, nc.numeric)
    text = nc.document
    rest_of_line = text[nc.local.offset : _line_end(text, nc.local.offset)].strip()
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
        ranked = ranked_beats(engine, nc, 1)
        if not ranked:
            return None
        first = format_duration(ranked[0][0])
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


def _line_end(text: str, offset: int) -> int:
    end = text.find("\n", offset)
    return len(text) if end == -1 else end


def _next_line_starts(text: str, offset: int, word: str) -> bool:
    """The line after the cursor's line is already a ``word`` statement."""
    end = _line_end(text, offset)
    following = text[end + 1 : _line_end(text, end + 1)].strip()
    return following == word or following.startswith(word + " ")


def _has_options(text: str, nc: NoteContext) -> bool:
    """The line being typed already has options (``play |, release: 2``)."""
    line_start = text.rfind("\n", 0, nc.local.offset) + 1
    return "," in text[line_start : nc.local.offset].split("note:")[-1]


def _missing_indent(text: str, offset: int, indent: str) -> str:
    """What the cursor's blank line lacks of the run's indentation."""
    typed = text[text.rfind("\n", 0, offset) + 1 : offset]
    return indent[len(typed) :] if indent.startswith(typed) else ""
