"""A cursor in a file not read yet infers the document's spelling when first asked, and a
fresh cursor's is inferred while the network reads its notes on the cache's helper."""

from __future__ import annotations

from pathlib import Path

import pytest
from notegen.lsp.context import StyleLater, note_context
from notegen.lsp.documents import DocumentView
from notegen.model.context_cache import ContextCache
from notegen.model.network import MelodyModel
from notegen.notes import infer_style_by_line

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"


@pytest.fixture(scope="module")
def model() -> MelodyModel:
    return MelodyModel.load(SHIPPED)


def document(notes: int) -> tuple[DocumentView, int, int]:
    """A voice in flats with spaced commas, the cursor right after its last note, a note
    after it (the cursor's own line, before the closing bracket)."""
    names = [":Eb4", ":Bb3", ":Ab4", ":C4"]
    body = ", ".join(names[k % 4] for k in range(notes))
    line = f"a1[0]=[{body},:G4]"
    view = DocumentView("file:///style.rb", 1, f"a1=[]\n{line}\n")
    return view, 1, line.index(",:G4") + 1


def test_a_fresh_cursor_s_spelling_is_inferred_while_the_network_reads(model) -> None:
    view, line, character = document(40)
    nc = note_context(view, line, character, None, 256)
    assert nc is not None and isinstance(nc.spelling, StyleLater)
    assert nc.spelling._style is None  # not yet: nothing asked for it
    nc.prime(ContextCache(model))  # 40 notes to read: the helper reads them
    assert nc.spelling._style is not None  # inferred meanwhile
    assert nc.style == infer_style_by_line(view.text)
    assert (nc.style.accidental, nc.lead, nc.trail) == ("flat", "", ", ")  # :G4 follows


def test_a_short_read_leaves_the_spelling_for_when_it_is_asked(model) -> None:
    view, line, character = document(3)
    nc = note_context(view, line, character, None, 256)
    assert nc is not None and isinstance(nc.spelling, StyleLater)
    nc.prime(ContextCache(model))  # 3 notes: read at once, nothing to do meanwhile
    assert nc.spelling._style is None
    assert nc.style.accidental == "flat" and nc.style.separator == ", "
    assert nc.spelling._style is nc.style
