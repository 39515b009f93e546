"""The cursor in a run of ``play``/``sleep`` statements: which slot, the notes before it.

Three places take a suggestion: the note of a ``play`` (or of ``note:``), the beats of a
``sleep``, and a blank line in or right after a run (where whole statements go, as ghost
text). Anywhere else in a statement (``sample :``, ``use_synth :``, options, a comment or a
string) there is no context, so nothing is offered.
"""

from __future__ import annotations

import re

from notegen.melody import Event
from notegen.sonicpi.statements import PlayLine, PlayRun
from notegen.sonicpi.types import CursorContext, NoteArray, NoteToken, Span

_NOTE_PARTIAL_RE = re.compile(r":?[A-Za-z_][A-Za-z0-9_]*|:|[0-9][0-9_.]*")
_BEATS_PARTIAL_RE = re.compile(r"[0-9][0-9_.]*")
_WORD_AFTER_RE = re.compile(r"[A-Za-z0-9_.]*")


def statement_context(text: str, arrays: list[NoteArray], offset: int) -> CursorContext | None:
    """The statement context at ``offset`` in ``text`` (``arrays``: its reading), or ``None``
    where no note or duration can go."""
    runs = [a for a in arrays if isinstance(a, PlayRun)]
    for run in runs:
        for line in run.lines:
            if line.slot.start <= offset <= line.slot.end and line.start <= offset:
                return _slot_context(text, run, line, offset)
    return _line_context(text, runs, offset)


def _slot_context(text: str, run: PlayRun, line: PlayLine, offset: int) -> CursorContext | None:
    head = text[line.slot.start : offset]
    pattern = _BEATS_PARTIAL_RE if line.kind == "sleep" else _NOTE_PARTIAL_RE
    if head and not pattern.fullmatch(head):
        return None  # inside an expression (`play :e4 + |`): not a place for one note
    if not head and offset > line.start and text[offset - 1 : offset] not in (" ", "\t"):
        return None  # `play|`: the word is still being typed
    after = _WORD_AFTER_RE.match(text, offset)
    end = after.end() if (head and after) else offset
    if not head and line.slot.end > offset:
        end = line.slot.end  # before a written note: a suggestion replaces it
    step = max(line.step, 0)
    before = run.notes[:step]
    return CursorContext(
        array=run,
        index=step,
        before=before,
        history=_history(run, step),
        partial=head,
        partial_span=Span(line.slot.start, end),
        needs_comma=False,
        durations=run.durations,
        duration_index=step,
        slot="sleep" if line.kind == "sleep" else "note",
    )


def _line_context(text: str, runs: list[PlayRun], offset: int) -> CursorContext | None:
    """A blank line right after a line of a run (inside its block): the next statements."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end == -1 else line_end
    if text[line_start:line_end].strip():
        return None
    for run in runs:
        previous = [ln for ln in run.lines if ln.stop <= line_start]
        if not previous or run.span.start > offset:
            continue
        last = previous[-1]
        if text[last.stop : line_start].strip():
            continue
        step = last.step
        pending: NoteToken | None = None
        count = step + 1
        if last.kind == "play" and 0 <= step < len(run.notes):
            pending, count = run.notes[step], step  # its sleep comes next
        before = run.notes[:count]
        return CursorContext(
            array=run,
            index=count,
            before=before,
            history=_history(run, count),
            partial="",
            partial_span=Span(offset, offset),
            needs_comma=False,
            durations=run.durations,
            duration_index=count,
            partial_token=pending,
            slot="line",
        )
    return None


def _history(run: PlayRun, step: int) -> list[Event]:
    """The notes heard before step ``step``: the run's steps before it and, in a block that
    repeats (``live_loop``, ``4.times``), first the steps after it: the previous pass."""
    order = list(range(step))
    if run.block.looped:
        order = list(range(step + 1, len(run.notes))) + order
    out: list[Event] = []
    for i in order:
        tok = run.notes[i]
        if tok.error is None and not tok.dynamic:
            out.append(Event(tok.midi, run.durations.duration_for(i) if run.durations else None))
    return out
