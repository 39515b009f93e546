"""After edits, the server gives the heap's free pages back once the client is quiet: a
burst of keystrokes leaves freed memory resident until the next reading's warm-up ends. One
trim per pause, none while the client is still sending, and no full collection."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator

import pytest
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
    ls.trim_threshold = srv.trim_threshold_for(5 * srv.HUGE_TEXT)  # (what fit_heap sets)
    ls.protocol.last_message = time.monotonic() - 1.0
    ls.trim_when_quiet()
    assert ls._trimming is None and trims == []
