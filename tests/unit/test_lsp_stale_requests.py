"""A completion or ghost text asked in a document that was closed, reopened or edited before
the inference thread reached it is not computed: its answer would be thrown away. Computed
anyway, a client that opened, completed in and closed a document back to back queued requests
faster than they were done, each waiting in memory: the server grew without bound."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from lsprotocol import types
from notegen.lsp import server as srv
from notegen.lsp.documents import DocumentView
from pygls.workspace import Workspace

URI = "file:///tmp/stale/scratch.rb"
TEXT = "use_bpm 70\na1[0]=[:C4,:D4,:E4,:F4]\nb1[0]=[1,0.5]\n"


@pytest.fixture
def worked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the inference thread computed: a completion's items, a ghost's cursor context."""
    done: list[str] = []
    monkeypatch.setattr(srv, "complete_at", lambda *_a: done.append("completion") or [])
    monkeypatch.setattr(srv, "note_context", lambda *_a: done.append("ghost") or None)
    return done


@pytest.fixture
def ls(tiny) -> Iterator[srv.NotegenServer]:
    server = srv.NotegenServer(str(tiny[0]))
    server.protocol._workspace = Workspace(None)  # (what ``initialize`` makes)
    yield server
    server.engine.shutdown()
    server.reader.shutdown(wait=False)


def open_doc(ls: srv.NotegenServer, version: int = 1, text: str = TEXT) -> DocumentView:
    """``didOpen`` (or a full-text change) and the request's view of it, as the handlers get it."""
    item = types.TextDocumentItem(uri=URI, language_id="ruby", version=version, text=text)
    ls.workspace.put_text_document(item)
    view = ls.view(URI)
    assert view is not None
    return view


def close_doc(ls: srv.NotegenServer) -> None:
    """``didClose``: pygls drops the document, then the server forgets it."""
    ls.workspace.remove_text_document(URI)
    ls.forget(URI)


def complete(ls: srv.NotegenServer, view: DocumentView) -> object:
    prepared = srv.complete_prepared(ls, view, 1, 22, None)
    assert prepared is not None
    return json.loads(prepared.text)


def test_a_completion_in_the_open_document_is_computed(ls, worked):
    view = open_doc(ls)
    complete(ls, view)
    assert worked == ["completion"]


def test_a_completion_asked_before_its_document_closed_is_not(ls, worked):
    view = open_doc(ls)
    close_doc(ls)
    assert complete(ls, view) == {"isIncomplete": True, "items": []}  # (as a stale view's)
    assert worked == []


def test_nor_one_whose_document_was_opened_again_with_the_same_text(ls, worked):
    # An editor reopening a scratch file: the same version and text, another document.
    asked = open_doc(ls)
    close_doc(ls)
    reopened = open_doc(ls)
    assert ls.is_current(asked)  # (equal text and version: only the view tells them apart)
    complete(ls, asked)
    assert worked == []
    complete(ls, reopened)
    assert worked == ["completion"]


def test_nor_one_whose_document_was_edited_since(ls, worked):
    asked = open_doc(ls)
    open_doc(ls, version=2, text=TEXT + "a2[0]=[:C5]\n")
    assert complete(ls, asked) == {"isIncomplete": True, "items": []}
    assert worked == []


def test_ghost_text_likewise(ls, worked):
    asked = open_doc(ls)
    assert srv.ghost_at(ls, asked, 1, 22, None) is None
    assert worked == ["ghost"]
    close_doc(ls)
    assert srv.ghost_at(ls, asked, 1, 22, None) is None
    assert worked == ["ghost"]
