"""The heap's trim threshold follows the largest open document (glibc's M_TRIM_THRESHOLD)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from notegen.lsp import server
from notegen.lsp.heap import HUGE_TEXT, MAX_TRIM_THRESHOLD, TRIM_THRESHOLD, trim_threshold_for
from notegen.lsp.server import NotegenServer


def test_ordinary_documents_keep_glibcs_threshold():
    assert trim_threshold_for(0) == TRIM_THRESHOLD
    assert trim_threshold_for(HUGE_TEXT - 1) == TRIM_THRESHOLD


def test_a_huge_document_keeps_six_times_its_size_at_the_top():
    assert trim_threshold_for(4_800_000) == 28_800_000
    assert trim_threshold_for(5_000_000) == 30_000_000
    assert trim_threshold_for(100_000_000) == MAX_TRIM_THRESHOLD


@pytest.fixture
def calls(monkeypatch):
    seen: list[int] = []
    monkeypatch.setattr(server, "set_trim_threshold", seen.append)
    return seen


def open_views(*sizes: int) -> SimpleNamespace:
    views = {f"file:///{i}.rb": SimpleNamespace(text="x" * n) for i, n in enumerate(sizes)}
    return SimpleNamespace(views=views, trim_threshold=TRIM_THRESHOLD)


def test_opening_a_huge_document_raises_it_and_closing_lowers_it(calls):
    ls = open_views(200, 5_000_000)
    NotegenServer.fit_heap(ls)  # type: ignore[arg-type]
    assert calls == [30_000_000] and ls.trim_threshold == 30_000_000
    NotegenServer.fit_heap(ls)  # type: ignore[arg-type]
    assert calls == [30_000_000]  # unchanged: glibc is not asked again
    del ls.views["file:///1.rb"]
    NotegenServer.fit_heap(ls)  # type: ignore[arg-type]
    assert calls == [30_000_000, TRIM_THRESHOLD]


def test_small_documents_never_touch_it(calls):
    ls = open_views(200, 168_000)
    NotegenServer.fit_heap(ls)  # type: ignore[arg-type]
    assert calls == []


def test_closing_trims_the_heap_only_once_the_warm_states_are_dropped(monkeypatch):
    import asyncio
    import threading
    from concurrent.futures import Future, ThreadPoolExecutor

    order: list[str] = []
    monkeypatch.setattr(server, "trim_heap", lambda: order.append("trim"))
    release = threading.Event()

    def drop_states() -> None:
        release.wait(5)
        order.append("states dropped")

    async def close() -> None:
        with ThreadPoolExecutor(1) as inference, ThreadPoolExecutor(1) as reader:
            cleared: Future[None] = inference.submit(drop_states)
            trimming = asyncio.ensure_future(server._trim_after([cleared], reader))
            await asyncio.sleep(0.05)  # the reader is free all along: the trim must wait
            assert order == []
            release.set()
            await trimming

    asyncio.run(close())
    assert order == ["states dropped", "trim"]


async def test_closing_the_last_document_drops_its_states_and_trims_at_once(tiny, monkeypatch):
    """The soak read the server's memory right after closing its document: 132.4, 148.0 or
    142.6 MB, as the inference thread had been free or not to drop the warm states before
    the heap was trimmed. Now the states go and the heap is trimmed while the close is
    handled, with the inference thread busy; once it is free, the rest goes and it trims
    again."""
    import asyncio
    import json
    import threading

    from notegen.melody import Event

    trims: list[str] = []
    monkeypatch.setattr(server, "trim_heap", lambda: trims.append("trim"))
    ls = server.create_server(str(tiny[0]))
    ls.protocol.set_writer(Discard())

    def receive(message: dict) -> None:
        ls.protocol.receive_body(json.dumps({"jsonrpc": "2.0", **message}).encode())

    try:
        params = {"processId": None, "rootUri": None, "capabilities": {}}
        receive({"id": 0, "method": "initialize", "params": params})
        receive({"method": "initialized", "params": {}})
        await asyncio.wrap_future(ls.engine.load(str(tiny[0])))
        uri = "file:///song.rb"
        doc = {"uri": uri, "languageId": "ruby", "version": 1, "text": "a1=[:C4, :E4]\n"}
        receive({"method": "textDocument/didOpen", "params": {"textDocument": doc}})
        cache = ls.engine.cache
        assert cache is not None
        melody = [Event(60, 1.0), Event(64, 1.0), Event(67, 2.0)]
        cache.prime(melody, checkpoints=[1, 2])
        assert cache.cached(cache.ids(melody))
        busy = threading.Event()
        held = ls.engine.executor.submit(busy.wait, 10)  # the inference thread, occupied
        receive({"method": "textDocument/didClose", "params": {"textDocument": {"uri": uri}}})
        assert not cache.cached(cache.ids(melody)) and trims == ["trim"]
        busy.set()
        held.result(10)
        await asyncio.wait_for(ls.trimming, 10)
        assert trims == ["trim", "trim"]
    finally:
        ls.engine.shutdown()
        ls.reader.shutdown(wait=False)


class Discard:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass
