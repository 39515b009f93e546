"""What Sonic Pi would make of a document's arrays when it plays them, as plain findings.

* a note symbol Sonic Pi rejects (its own ``Invalid note`` message, with the rule broken);
* a note array and its duration array of different lengths: with fewer durations the loop's
  ``sleep b[i]`` gets ``nil`` and Sonic Pi stops; extra durations are never played;
* a duration that is not a number, or not positive.

Needs only the reader, never the model, so it works when no model could be loaded. Findings
are tuples, not the protocol's diagnostics (:mod:`notegen.lsp.diagnostics` makes those): a
big file's whole reading runs in a child process, which then never loads lsprotocol's
classes, ~0.4 s of its start on the test VM (measured: 350-450 ms to import
``lsprotocol.types``, of a 20,000-note reading's ~2.3 s).
"""

from __future__ import annotations

from typing import NamedTuple

from notegen.sonicpi.types import NoteArray

from .documents import DocumentView

Position = tuple[int, int]
"""LSP's ``(line, UTF-16 character)``."""


class Related(NamedTuple):
    """Where else a finding points (the note array of a duration array that does not match)."""

    uri: str
    start: Position
    end: Position
    message: str


class Finding(NamedTuple):
    """One thing Sonic Pi would stop at (an error) or do unasked (a warning)."""

    start: Position
    end: Position
    message: str
    code: str
    warning: bool = False
    related: Related | None = None


def check_arrays(view: DocumentView) -> list[Finding]:
    """Every finding for one document version (slow on big files: call off the loop)."""
    out: list[Finding] = []
    for array in view.arrays():
        out.extend(_array_findings(view, array))
    return out


QUOTED_CHARS = 60
"""A message quotes at most this much of an element (a pasted 5,000-digit number is one)."""


def _shown(text: str) -> str:
    """``text`` as a message quotes it: stripped, and cut short with an ellipsis."""
    text = text.strip()
    return text if len(text) <= QUOTED_CHARS else text[:QUOTED_CHARS] + "…"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _span(view: DocumentView, start: int, end: int) -> tuple[Position, Position]:
    return view.position_at(start), view.position_at(max(start, end))


def _array_findings(view: DocumentView, array: NoteArray) -> list[Finding]:
    out: list[Finding] = []
    for token in array.notes:
        if token.error:
            out.append(
                Finding(*_span(view, token.span.start, token.span.end), token.error, "invalid-note")
            )
    durations = array.durations
    if durations is None:
        return out
    for value in durations.values:
        if value.dynamic:
            continue  # code only Sonic Pi can evaluate (``1+bar``): never an error here
        where = _span(view, value.span.start, value.span.end)
        if value.error or value.value is None:
            why = f" ({value.error})" if value.error else ""
            message = (
                f"Duration {_shown(value.text)} is not a number{why}: "
                "Sonic Pi's sleep needs a number of beats"
            )
            out.append(Finding(*where, message, "invalid-duration"))
        elif value.value < 0:
            message = (
                f"Duration {_shown(value.text)} is negative: "
                "Sonic Pi cannot sleep for negative time"
            )
            out.append(Finding(*where, message, "negative-duration"))
        elif value.value == 0:
            message = (
                "Duration 0: this note and the next start together (durations should be positive)"
            )
            out.append(Finding(*where, message, "zero-duration", warning=True))
    if durations.scalar or array.kind != "voice":
        # play_pattern_timed cycles its times (Sonic Pi reads them as a ring): only the
        # voice form, indexing bN[i][j], runs out of durations.
        return out
    notes, beats = len(array.notes), len(durations.values)
    if notes == beats:
        return out
    note_name = array.name or "the note array"
    dur_name = durations.name or "its durations"
    counted = f"{notes} note{'s' if notes != 1 else ''}"
    durations_counted = f"{beats} duration{'s' if beats != 1 else ''}"
    if beats < notes:
        message = (
            f"{note_name} has {counted} but {dur_name} has {durations_counted}: "
            f"Sonic Pi would fail at sleep nil after the {_ordinal(beats + 1)} note"
        )
    else:
        message = (
            f"{note_name} has {counted} but {dur_name} has {durations_counted}: "
            f"the last {beats - notes} duration(s) are never played"
        )
    related = None
    if array.name_span is not None:
        named = _span(view, array.name_span.start, array.name_span.end)
        related = Related(view.uri, *named, f"{note_name}: {notes} notes")
    where = _span(view, durations.span.start, durations.span.end)
    out.append(Finding(*where, message, "length-mismatch", beats > notes, related))
    return out
