"""generateMelody with no form writes in the document's own, read off the server's whole
reading of that very text when it has one, else off the parse the job makes anyway (a big
job's in its child process): the whole parse a view keeps once asked
(``DocumentView.arrays``) held ~11 MB in the 20,000-note benchmark piece until the next
edit, for nothing but the form."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from lsprotocol import types
from notegen.lsp import child, commands, documents
from notegen.lsp import server as srv
from notegen.lsp.documents import DocumentView

LOOP = "live_loop :tune do\n  play :e4\n  sleep 0.5\n  play :g4\n  sleep 0.5\nend\n"


@pytest.fixture
def ls(quiet_server) -> srv.NotegenServer:
    return quiet_server


async def opened(ls: srv.NotegenServer, text: str) -> DocumentView:
    uri = "file:///loop.rb"
    ls.workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="ruby", version=1, text=text)
    )
    ls.protocol.last_message = time.monotonic() - 1.0
    await ls._read_and_publish(uri)
    view = ls.view(uri)
    assert view is not None
    return view


@pytest.fixture
def reads_from_now(monkeypatch) -> Callable[[], list[str]]:
    """Call it: the texts whose arrays the server reads from then on."""

    def watch() -> list[str]:
        texts: list[str] = []
        read_arrays = documents._read_arrays
        monkeypatch.setattr(
            documents, "_read_arrays", lambda text, *a: texts.append(text) or read_arrays(text, *a)
        )
        return texts

    return watch


async def test_the_form_comes_from_the_reading_and_the_view_keeps_no_parse(ls, monkeypatch):
    view = await opened(ls, LOOP)
    assert commands.own_reading(ls, view) is not None
    monkeypatch.setattr(child, "CHILD_MIN_NOTES", 0)  # a big job's path: its child reads
    parsed: list[DocumentView] = []
    arrays = DocumentView.arrays
    monkeypatch.setattr(DocumentView, "arrays", lambda self: parsed.append(self) or arrays(self))

    result = await commands.generate_melody(
        ls, {"uri": view.uri, "length": 8, "seed": 3, "preview": True}
    )

    assert result["form"] == "live_loop" and result["notes"] == 8
    assert parsed == []  # (in the server: its child parsed its own copy)


async def test_with_no_reading_of_that_text_the_form_is_read_off_the_text(ls):
    view = await opened(ls, LOOP)
    ls.readings.pop(view.uri)

    result = await commands.generate_melody(
        ls, {"uri": view.uri, "length": 8, "seed": 3, "preview": True}
    )

    assert result["form"] == "live_loop"


async def test_a_childs_job_asked_before_the_reading_of_an_edit_parses_nothing_in_the_server(
    ls, monkeypatch, reads_from_now
):
    """The edit's reading has not landed (``lsp_latency.py`` asks right after its typing):
    the child reads the form off its own parse of the text. The server parsed the whole
    text for the form alone before: ~25 MB more for ~0.2 s in the 20,000-note piece, the
    benchmark's peak."""
    view = await opened(ls, LOOP)
    ls.workspace.put_text_document(  # (version 2: the server's reading is of version 1)
        types.TextDocumentItem(uri=view.uri, language_id="ruby", version=2, text=LOOP + "\n")
    )
    edited = ls.view(view.uri)
    assert edited is not None and commands.own_reading(ls, edited) is None
    monkeypatch.setattr(child, "CHILD_MIN_NOTES", 0)  # a big job's path: its child reads
    read_in_server = reads_from_now()

    result = await commands.generate_melody(
        ls, {"uri": edited.uri, "length": 8, "seed": 3, "preview": True}
    )

    assert result["form"] == "live_loop" and result["notes"] == 8
    assert read_in_server == []  # (its roll drew on the reading of version 1)
    assert not edited.arrays_ready


async def test_a_job_done_in_the_server_keeps_the_arrays_it_reads_again(ls):
    view = await opened(ls, LOOP)
    ls.readings.pop(view.uri)

    await commands.generate_melody(ls, {"uri": view.uri, "length": 8, "seed": 3, "preview": True})

    assert view.arrays_ready


async def test_a_childs_preview_in_a_document_never_read_parses_it_once_in_the_server(
    ls, monkeypatch, reads_from_now
):
    """Its form and its roll both need the arrays: read once, kept for the roll."""
    view = await opened(ls, LOOP)
    ls.readings.pop(view.uri)  # (asked before the document's first reading landed)
    monkeypatch.setattr(child, "CHILD_MIN_NOTES", 0)  # a big job's path: its child reads
    read_in_server = reads_from_now()

    result = await commands.generate_melody(
        ls, {"uri": view.uri, "length": 8, "seed": 3, "preview": True}
    )

    assert result["form"] == "live_loop" and result["notes"] == 8 and result["preview"]
    assert read_in_server == [LOOP]
