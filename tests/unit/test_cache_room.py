"""The context cache makes room for every section start of the documents open with its model:
a warm-up keeps two states a section, and a document of thousands of sections would otherwise
push its own first ones out. Small documents leave the default room; closing gives it back."""

from __future__ import annotations

import asyncio

import pytest
from notegen.lsp import server as srv
from notegen.lsp.documents import DocumentView
from notegen.lsp.reading import Reading
from notegen.model.context_cache import ContextCache
from notegen.notes import infer_style


@pytest.fixture
def ls(loaded_server: srv.NotegenServer) -> srv.NotegenServer:
    return loaded_server


def read(uri: str, sections: int, voices: int = 1) -> Reading:
    lines = [
        f"a{v}[{k}]=[:C4,:D4]\nb{v}[{k}]=[1,1]"
        for k in range(sections)
        for v in range(1, voices + 1)
    ]
    text = "\n".join(lines) + "\n"
    view = DocumentView(uri, 1, text)
    return Reading(1, view.arrays(), infer_style(text), text)


def test_a_document_of_many_sections_gets_two_states_a_section_and_some_to_spare(ls):
    cache = ls.engine.cache
    assert cache is not None and cache.capacity == ContextCache.CAPACITY
    ls.readings["file:///big.rb"] = read("file:///big.rb", 1500)
    ls.fit_cache(cache)
    assert cache.capacity == 2 * 1500 + ContextCache.CAPACITY // 8


def test_the_room_is_summed_over_the_open_documents_and_given_back_on_close(ls):
    cache = ls.engine.cache
    ls.readings["file:///a.rb"] = read("file:///a.rb", 600, voices=2)  # 1,200 sections
    ls.readings["file:///b.rb"] = read("file:///b.rb", 500)
    ls.fit_cache(cache)
    assert cache.capacity == 2 * 1700 + ContextCache.CAPACITY // 8
    ls.forget("file:///a.rb")
    assert cache.capacity == ContextCache.CAPACITY  # 1,000 states fit in the default's room


def test_a_small_piece_leaves_the_default_room(ls):
    ls.readings["file:///small.rb"] = read("file:///small.rb", 40, voices=4)
    ls.fit_cache(ls.engine.cache)
    assert ls.engine.cache.capacity == ContextCache.CAPACITY


def fill(cache: ContextCache, count: int, first: int = 0) -> None:
    """``count`` states stored under keys of their own, as many contexts would leave."""
    primed = cache.prime_ids([], ())
    for k in range(first, first + count):
        cache._store(k.to_bytes(4, "little"), primed)


def test_a_store_in_a_shrunk_cache_drops_a_few_states_not_all_beyond_the_room(ls):
    cache = ls.engine.cache
    cache.clear()
    fill(cache, 1000)
    cache.capacity = 100  # (a big document closed: its room given back)
    fill(cache, 1, first=1000)
    assert len(cache._entries) == 1001 - ContextCache.EVICT_PER_STORE
    assert cache.shrink(500) is True and len(cache._entries) == 501 - ContextCache.EVICT_PER_STORE
    assert cache.shrink(1000) is False and len(cache._entries) == 100
    assert cache.shrink(1000) is False and len(cache._entries) == 100


async def test_closing_a_document_drops_its_states_in_rounds_on_the_inference_thread(
    ls, monkeypatch
):
    cache = ls.engine.cache
    cache.clear()
    monkeypatch.setattr(srv, "SHRINK_ROUND", 300)
    ls.readings["file:///big.rb"] = read("file:///big.rb", 1500)
    ls.fit_cache(cache)
    fill(cache, 3000)
    rounds: list[int] = []
    shrink = cache.shrink
    monkeypatch.setattr(cache, "shrink", lambda count: rounds.append(count) or shrink(count))
    ls.forget("file:///big.rb", closing=False)
    assert len(cache._entries) == 3000  # nothing dropped on the event loop
    await asyncio.wait_for(ls.shrinking, 10)
    assert len(cache._entries) == ContextCache.CAPACITY
    assert rounds.count(300) == 4  # (3,000 - 2,048 states: four rounds)
