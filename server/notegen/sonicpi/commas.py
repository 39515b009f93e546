"""How many commas lie between two offsets of a long text, kept from keystroke to keystroke.

A window on a long line (:meth:`notegen.lsp.documents.DocumentView._window_context`) needs
the number of elements left out before it: the commas from the array's head to the window.
Counted from the head at every completion, a cursor in the middle of a 5 MB one-line array
scanned 2.5 MB (~1.5 ms) each time. A long text keeps the count at every
:data:`STEP` characters instead (marks), and an edit that the server applies by splicing
(:func:`notegen.lsp.protocol._splice`) hands the marks on to the new text, shifted past the
edit (:func:`remember_splice`), so a count reads at most two steps.

Only the latest long text is kept (the document being typed in), as its line starts are
(:func:`notegen.sonicpi.types.line_starts`). Marks are never changed in place: the event
loop hands them on while the inference thread reads them.
"""

from __future__ import annotations

from bisect import bisect_right

STEP = 65_536
"""Characters between two marks: a count reads at most two steps (~40 µs each)."""
LONG = 4 * STEP
"""Shorter texts, and shorter spans of long ones, are counted directly."""

Marks = tuple[str, tuple[int, ...], tuple[int, ...]]
"""A text (the very object), offsets in it and the commas before each offset."""
_last: Marks | None = None


def commas_between(text: str, start: int, end: int) -> int:
    """``text.count(",", start, end)`` (offsets clamped as slicing clamps them)."""
    start, end = max(0, start), min(len(text), end)
    if end - start < LONG or len(text) < LONG:
        return text.count(",", start, end)
    return _before(text, end) - _before(text, start)


def _before(text: str, offset: int) -> int:
    """The commas in ``text[:offset]``, from the nearest mark at or before ``offset``."""
    global _last
    last = _last
    if last is None or last[0] is not text:
        last = (text, (0,), (0,))
    _, offsets, counts = last
    if offsets[-1] + STEP <= offset:  # marks not made this far yet: make them on the way
        more_offsets, more_counts = list(offsets), list(counts)
        while more_offsets[-1] + STEP <= offset:
            at = more_offsets[-1]
            more_counts.append(more_counts[-1] + text.count(",", at, at + STEP))
            more_offsets.append(at + STEP)
        last = (text, tuple(more_offsets), tuple(more_counts))
        offsets, counts = last[1], last[2]
    if _last is not last:
        _last = last
    i = bisect_right(offsets, offset) - 1
    return counts[i] + text.count(",", offsets[i], offset)


def remember_splice(old: str, new: str, start: int, end: int, inserted: str) -> None:
    """``new`` is ``old`` with ``old[start:end]`` replaced by ``inserted``: the marks kept for
    ``old`` (if any) become ``new``'s, those past the edit moved by its length and commas."""
    global _last
    last = _last
    if last is None or last[0] is not old or len(new) < LONG:
        return
    _, offsets, counts = last
    shift = len(inserted) - (end - start)
    added = inserted.count(",") - old.count(",", start, end)
    kept_offsets: list[int] = []
    kept_counts: list[int] = []
    for at, count in zip(offsets, counts, strict=True):
        if at <= start:
            kept_offsets.append(at)
            kept_counts.append(count)
        elif at >= end:
            kept_offsets.append(at + shift)
            kept_counts.append(count + added)
        # (a mark inside the replaced text is dropped: the gap is filled below)
    filled_offsets, filled_counts = [kept_offsets[0]], [kept_counts[0]]
    for at, count in zip(kept_offsets[1:], kept_counts[1:], strict=True):
        while at - filled_offsets[-1] > 2 * STEP:  # a long insertion: marks inside it
            mark = filled_offsets[-1]
            filled_counts.append(filled_counts[-1] + new.count(",", mark, mark + STEP))
            filled_offsets.append(mark + STEP)
        filled_offsets.append(at)
        filled_counts.append(count)
    _last = (new, tuple(filled_offsets), tuple(filled_counts))
