"""Quick fix for "N notes but M durations": add the missing durations.

Accepting a phrase or a continuation typed by hand can leave a voice's note array longer than
its ``bN[k]`` durations; Sonic Pi then stops at ``sleep nil``. The fix appends one duration per
missing note: the array's most common duration (the piece's usual step), so the voice plays
through and the user can adjust the values. Offered only with the ``length-mismatch``
diagnostic the client sends back (``CodeActionContext.diagnostics``).
"""

from __future__ import annotations

from collections import Counter

from lsprotocol import types

from notegen.sonicpi import format_duration
from notegen.sonicpi.types import NoteArray

from .documents import DocumentView
from .edits import text_edit, workspace_edit

KIND = types.CodeActionKind.QuickFix
CODE = "length-mismatch"


def _missing(array: NoteArray) -> tuple[int, str] | None:
    """(offset after the last duration, text to insert), or ``None`` when nothing is missing."""
    durations = array.durations
    if durations is None or durations.scalar or durations.close is None:
        return None
    missing = len(array.notes) - len(durations.values)
    if missing <= 0:
        return None
    known = [v.value for v in durations.values if v.value is not None and v.value > 0]
    step = Counter(known).most_common(1)[0][0] if known else 1.0
    values = ", ".join([format_duration(step)] * missing)
    if durations.values:
        return durations.values[-1].span.end, ", " + values
    return durations.close, values


def add_missing_durations(
    view: DocumentView, diagnostics: list[types.Diagnostic], document_changes: bool
) -> list[types.CodeAction]:
    """One quick fix per mismatch diagnostic whose duration array is short."""
    wanted = [d for d in diagnostics if d.code == CODE]
    if not wanted:
        return []
    out: list[types.CodeAction] = []
    for array in view.arrays():
        if array.durations is None:
            continue
        span = array.durations.span
        start = view.position_at(span.start)
        diagnostic = next(
            (d for d in wanted if (d.range.start.line, d.range.start.character) == start), None
        )
        found = _missing(array) if diagnostic is not None else None
        if found is None:
            continue
        at, text = found
        count = len(array.notes) - len(array.durations.values)
        step = text.split(", ")[-1]
        out.append(
            types.CodeAction(
                title=f"Add {count} missing duration{'s' if count != 1 else ''} "
                f"({step} beat{'' if step == '1' else 's'} each)",
                kind=KIND,
                diagnostics=[diagnostic] if diagnostic is not None else None,
                is_preferred=True,
                edit=workspace_edit(view, [text_edit(view, at, at, text)], document_changes),
            )
        )
    return out
