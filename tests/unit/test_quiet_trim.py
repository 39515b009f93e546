"""After edits or requests, the server gives the heap's free pages back once the client is
quiet: a burst of keystrokes leaves freed memory resident until the next reading's warm-up
ends. One trim per pause, none while the client is still sending, and no full collection."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator

import pytest
from notegen.lsp import heap
from notegen.lsp import server as srv
from pygls.workspace import Workspace


@pytest.fixture
def ls(tiny) -> Iterator[srv.NotegenServer]:
    server = srv.NotegenServer(str(tiny[0]))
    server.protocol._workspace = Workspace(None)
    yield server
    server.engine.shutdown()
    server.reader.shutdown(wait=False)


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    done: list[float] = []
    monkeypatch.setattr(srv, "trim_heap", lambda: done.append(time.monotonic()))
    return done


async def test_a_pause_after_edits_trims_the_heap_once(ls, trims, monkeypatch):
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(1) or 0)
    ls.protocol.last_message = time.monotonic() - 1.0  # quiet for a second already
    ls.trim_when_quiet()
    pending = ls._trimming
    ls.trim_when_quiet()  # a second edit meanwhile: the same trim
    assert ls._trimming is pending
    await asyncio.wait_for(pending, 10)
    assert len(trims) == 1 and collections == []


class Discard:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "message",
    [
        {"id": 1, "method": "textDocument/hover", "params": {}},  # a request
        {"method": "$/cancelRequest", "params": {"id": 1}},  # a notification
        {"id": 2, "result": None},  # an answer
    ],
)
async def test_any_message_leads_to_a_trim_once_the_client_is_quiet(ls, trims, message):
    """Not only edits: a burst of hovers and completions alone (20,000 sent at once, measured)
    also left its freed memory resident, until the next edit."""
    import json

    ls.protocol.set_writer(Discard())
    ls.protocol.receive_body(json.dumps({"jsonrpc": "2.0", **message}).encode())
    assert ls._trimming is not None and trims == []
    ls.protocol.last_message = time.monotonic() - srv.QUIET_S  # the client paused
    await asyncio.wait_for(ls._trimming, 10)
    assert len(trims) == 1


async def test_no_trim_while_the_client_is_still_sending(ls, trims):
    ls.protocol.last_message = time.monotonic() + 60.0  # (as if a message came every moment)
    ls.trim_when_quiet()
    for _ in range(20):  # the event loop turns; the trim still waits for a pause
        await asyncio.sleep(0)
    assert trims == [] and not ls._trimming.done()
    ls.protocol.last_message = time.monotonic() - srv.QUIET_S  # the client paused
    await asyncio.wait_for(ls._trimming, 10)
    assert len(trims) == 1


async def test_no_trim_while_a_huge_document_keeps_its_heap_top(ls, trims):
    ls.trim_threshold = heap.trim_threshold_for(5 * heap.HUGE_TEXT)  # (what fit_heap sets)
    ls.protocol.last_message = time.monotonic() - 1.0
    ls.trim_when_quiet()
    assert ls._trimming is None and trims == []


async def test_a_reading_that_lands_trims_the_heap_before_its_diagnostics_go_out(
    ls, trims, monkeypatch
):
    """The new reading replaces the old one: when the client is quiet (waiting for them),
    its freed memory is given back before the diagnostics are published (the soak: ~158 MB
    at the landing, ~144 MB once trimmed), not only once the warm-up is done."""
    from lsprotocol import types

    uri = "file:///piece.rb"
    text = "a1=[]\na1[0]=[:C4,:E4,:G4]\nb1=[]\nb1[0]=[1,1,2]\nc1=[70]\n"
    ls.workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="ruby", version=1, text=text)
    )
    published: list[tuple[int | None, int]] = []
    monkeypatch.setattr(
        ls,
        "text_document_publish_diagnostics",
        lambda params: published.append((params.version, len(trims))),
    )
    monkeypatch.setattr(ls.slip_hints, "schedule", lambda *args: None)
    monkeypatch.setattr(ls, "release_memory_when_quiet", lambda: None)  # (its own tests)
    ls.protocol.last_message = time.monotonic() - 1.0  # the client waits for them
    await ls._read_and_publish(uri)
    assert uri in ls.readings and published == [(1, 1)]

    ls.protocol.last_message = time.monotonic() + 60.0  # the client is still sending
    await ls._read_and_publish(uri)
    assert published[-1] == (1, 1)  # no trim amid its requests: each would pay it back

    ls.protocol.last_message = time.monotonic() - 1.0
    ls.trim_threshold = heap.trim_threshold_for(5 * heap.HUGE_TEXT)  # a huge document open
    await ls._read_and_publish(uri)
    assert published[-1] == (1, 1)  # its heap's top is kept: no trim


PIECE = "a1=[]\na1[0]=[:C4,:E4,:G4,:E4]\nb1=[]\nb1[0]=[1,1,1,1]\nc1=[70]\n"


async def read_and_warm(ls: srv.NotegenServer, uri: str, text: str) -> None:
    """A version of ``uri`` read and warmed up: the warm-up's trips, and the voice 1 it
    prepares after the sections (as after a completion there), all done."""
    from lsprotocol import types

    document = ls.workspace.text_documents.get(uri)
    if document is None:
        ls.workspace.put_text_document(
            types.TextDocumentItem(uri=uri, language_id="ruby", version=1, text=text)
        )
    else:
        document.apply_change(types.TextDocumentContentChangeWholeDocument(text=text))
    ls.voices_completed[uri] = {1: None}
    ls.protocol.last_message = time.monotonic() - 1.0
    await ls._read_and_publish(uri)
    await asyncio.wait_for(ls.warmers[uri], 30)
    ls.engine.executor.submit(lambda: None).result(timeout=10)  # its last trip returned


@pytest.fixture
def no_collection(ls, trims, monkeypatch) -> Iterator[None]:
    """The server with its model, publishing nowhere, and no collection but by reference
    counts: full collections run only in pauses, so nothing of a reading may hold it in a
    reference cycle, or it stays resident beside the next one until then."""
    monkeypatch.setattr(ls, "text_document_publish_diagnostics", lambda params: None)
    monkeypatch.setattr(ls.slip_hints, "schedule", lambda *args: None)
    monkeypatch.setattr(ls, "release_memory_when_quiet", lambda: None)  # (it collects)
    ls.engine.load(ls.cli_model_path).result(timeout=30)
    assert ls.engine.cache is not None  # (a warm-up runs)
    gc.collect()
    gc.disable()
    yield
    gc.enable()


async def test_a_reading_replaced_by_the_next_is_freed_then(ls, no_collection):
    """(The soak read ~158 MB at a storm's reading, 1 run in 4, when the warm-up's trips
    kept the previous reading in a cycle that outlived a collection.)"""
    import weakref

    uri = "file:///piece.rb"
    await read_and_warm(ls, uri, PIECE)
    first = weakref.ref(ls.readings[uri])
    await read_and_warm(ls, uri, PIECE.replace(":G4", ":A4"))
    assert ls.readings[uri] is not first()
    assert first() is None


async def test_a_closed_documents_reading_is_freed_at_the_close(ls, no_collection):
    import weakref

    uri = "file:///piece.rb"
    await read_and_warm(ls, uri, PIECE)
    reading = weakref.ref(ls.readings[uri])
    for work in ls.forget(uri):  # (the close: the warm states go on the inference thread)
        work.result(timeout=10)
    assert reading() is None
