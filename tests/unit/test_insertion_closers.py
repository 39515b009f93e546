"""An insertion that finishes an unclosed collection closes it with the bracket that opened it:
``)`` for ``(ring …`` and ``ring(…``, ``]`` for an array; and only when nothing of it follows.

Ghost text and phrase items are applied the LSP way and read back with the project's reader.
"""

from __future__ import annotations

import pytest
from fixtures.lsp_editor import apply_text_edits
from fixtures.ruby import ruby_ok
from lsprotocol import types
from notegen.lsp import completion, inline
from notegen.lsp.config import Settings
from notegen.lsp.context import NoteContext, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.edits import lsp_range
from notegen.lsp.reading import Reading
from notegen.notes import infer_style
from notegen.sonicpi import read
from notegen.sonicpi.types import NoteArray


def at_end(text: str) -> tuple[NoteContext, types.Range]:
    lines = text.split("\n")
    view = DocumentView("file:///t.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    nc = note_context(view, len(lines) - 1, len(lines[-1]), reading, Settings().maxContext)
    assert nc is not None and not nc.partial
    return nc, lsp_range(view, nc.local.offset, nc.local.offset)


def collection(text: str, kind: str) -> NoteArray:
    return next(a for a in read(text) if a.kind == kind)


UNCLOSED_RINGS = {
    "(ring": ("use_bpm 70\nmel = (ring :c4, :d4, ", 2),
    "ring(": ("use_bpm 70\nmel = ring(:c4, :d4, ", 2),
    "play (ring": ("use_bpm 70\nlive_loop :a do\n  play (ring :c4, :e4, ", 2),
}


@pytest.mark.parametrize("name", UNCLOSED_RINGS)
def test_ghost_text_closes_an_unclosed_ring_with_a_parenthesis(engine, name):
    text, kept = UNCLOSED_RINGS[name]
    nc, where = at_end(text)
    found = inline.ghost(engine, nc, Settings())
    assert found is not None
    assert found.text.endswith(")") and "]" not in found.text

    ring = collection(apply_text_edits(text, [types.TextEdit(where, found.text)]), "ring")

    assert ring.closed
    assert all(n.error is None and not n.dynamic for n in ring.notes)
    assert len(ring.notes) == kept + len(found.events)


@pytest.mark.parametrize("name", UNCLOSED_RINGS)
def test_phrase_items_close_an_unclosed_ring_with_a_parenthesis(engine, name):
    text, kept = UNCLOSED_RINGS[name]
    nc, where = at_end(text)
    phrases = [
        i
        for i in completion.complete(engine, nc, Settings(), where)
        if i.kind == types.CompletionItemKind.Snippet
    ]
    assert phrases
    for item in phrases:
        assert isinstance(item.text_edit, types.TextEdit)
        ring = collection(apply_text_edits(text, [item.text_edit]), "ring")
        assert ring.closed and all(n.error is None for n in ring.notes)
        assert len(ring.notes) == kept + len(item.label.split(","))


def test_an_unclosed_array_is_still_closed_with_a_bracket(engine):
    text = "a1[0]=[:C4, :D4, "
    nc, where = at_end(text)
    found = inline.ghost(engine, nc, Settings())
    assert found is not None and found.text.endswith("]")
    voice = collection(apply_text_edits(text, [types.TextEdit(where, found.text)]), "voice")
    assert voice.closed and len(voice.notes) == 2 + len(found.events)


def test_a_closed_ring_is_not_closed_again(engine):
    text = "mel = (ring :c4, :d4, )\n"
    view = DocumentView("file:///t.rb", 1, text)
    nc = note_context(view, 0, len("mel = (ring :c4, :d4, "), None, Settings().maxContext)
    assert nc is not None
    found = inline.ghost(engine, nc, Settings())
    assert found is not None and not found.text.endswith(")")
    where = lsp_range(view, nc.local.offset, nc.local.offset)
    ring = collection(apply_text_edits(text, [types.TextEdit(where, found.text)]), "ring")
    assert ring.closed and len(ring.notes) == 2 + len(found.events)


NESTED = {
    "a ring in an array": ("a1=[(ring :C4, :E4, ", ")]"),
    "a ring after a chord": ("a1=[[:C4, :E4], (ring :C4, :E4, ", ")]"),
    "a closed chord in a ring": ("mel = (ring [:c4, :e4], :d4, ", ")"),
}


@pytest.mark.parametrize("name", NESTED)
def test_ghost_text_closes_a_ring_left_open_inside_an_unclosed_array_too(engine, name, tmp_path):
    text, closer = NESTED[name]
    nc, where = at_end(text)
    found = inline.ghost(engine, nc, Settings())
    assert found is not None and found.text.endswith(closer), found.text
    ok, why = ruby_ok(tmp_path, apply_text_edits(text, [types.TextEdit(where, found.text)]))
    assert ok, (found.text, why)
