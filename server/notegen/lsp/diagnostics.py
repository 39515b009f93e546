"""Diagnostics as Sonic Pi would see the arrays when it plays them.

* a note symbol Sonic Pi rejects (its own ``Invalid note`` message, with the rule broken);
* a note array and its duration array of different lengths: with fewer durations the loop's
  ``sleep b[i]`` gets ``nil`` and Sonic Pi stops; extra durations are never played;
* a duration that is not a number, or not positive.

Needs only the reader, never the model, so it works when no model could be loaded.
"""

from __future__ import annotations

from lsprotocol import types

from notegen.sonicpi.types import NoteArray

from .documents import DocumentView

SOURCE = "notegen"


def _range(view: DocumentView, start: int, end: int) -> types.Range:
    sl, sc = view.position_at(start)
    el, ec = view.position_at(max(start, end))
    return types.Range(types.Position(sl, sc), types.Position(el, ec))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def diagnose(view: DocumentView) -> list[types.Diagnostic]:
    """Every diagnostic for one document version (slow on big files: call off the loop)."""
    out: list[types.Diagnostic] = []
    for array in view.arrays():
        out.extend(_array_diagnostics(view, array))
    return out


QUOTED_CHARS = 60
"""A message quotes at most this much of an element (a pasted 5,000-digit number is one)."""


def _shown(text: str) -> str:
    """``text`` as a message quotes it: stripped, and cut short with an ellipsis."""
    text = text.strip()
    return text if len(text) <= QUOTED_CHARS else text[:QUOTED_CHARS] + "…"


def _array_diagnostics(view: DocumentView, array: NoteArray) -> list[types.Diagnostic]:
    out: list[types.Diagnostic] = []
    error, warning = types.DiagnosticSeverity.Error, types.DiagnosticSeverity.Warning
    for token in array.notes:
        if token.error:
            out.append(
                types.Diagnostic(
                    range=_range(view, token.span.start, token.span.end),
                    message=token.error,
                    severity=error,
                    source=SOURCE,
                    code="invalid-note",
                )
            )
    durations = array.durations
    if durations is None:
        return out
    for value in durations.values:
        if value.dynamic:
            continue  # code only Sonic Pi can evaluate (``1+bar``): never an error here
        where = _range(view, value.span.start, value.span.end)
        if value.error or value.value is None:
            why = f" ({value.error})" if value.error else ""
            out.append(
                types.Diagnostic(
                    range=where,
                    message=f"Duration {_shown(value.text)} is not a number{why}: "
                    "Sonic Pi's sleep needs a number of beats",
                    severity=error,
                    source=SOURCE,
                    code="invalid-duration",
                )
            )
        elif value.value < 0:
            out.append(
                types.Diagnostic(
                    range=where,
                    message=f"Duration {_shown(value.text)} is negative: "
                    "Sonic Pi cannot sleep for negative time",
                    severity=error,
                    source=SOURCE,
                    code="negative-duration",
                )
            )
        elif value.value == 0:
            out.append(
                types.Diagnostic(
                    range=where,
                    message="Duration 0: this note and the next start together "
                    "(durations should be positive)",
                    severity=warning,
                    source=SOURCE,
                    code="zero-duration",
                )
            )
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
        severity = error
    else:
        message = (
            f"{note_name} has {counted} but {dur_name} has {durations_counted}: "
            f"the last {beats - notes} duration(s) are never played"
        )
        severity = warning
    related = None
    if array.name_span is not None:
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(
                    uri=view.uri,
                    range=_range(view, array.name_span.start, array.name_span.end),
                ),
                message=f"{note_name}: {notes} notes",
            )
        ]
    out.append(
        types.Diagnostic(
            range=_range(view, durations.span.start, durations.span.end),
            message=message,
            severity=severity,
            source=SOURCE,
            code="length-mismatch",
            related_information=related,
        )
    )
    return out
