"""Typing at one cursor, the window's start moves every half window, and the keystroke that
moves it read the whole window anew. A completion a few notes before that reads the context
from the next start in the background, once per start, so that keystroke steps from a state
nearby (the model's side: test_perf_cache)."""

from __future__ import annotations

import asyncio

import pytest
from notegen.lsp import server as srv
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.reading import Reading
from notegen.notes import infer_style

NOTES = [":C4", ":E4", ":G4", ":A4", ":F4", ":D4", ":B3", ":r"]
LONG = "\n".join(
    ["a1=[]"]
    + [f"a1[{k}]=[" + ",".join(NOTES[(i * 3 + k) % 8] for i in range(100)) + "]" for k in range(3)]
)
URI = "file:///long.rb"


@pytest.fixture
async def ls(loaded_server: srv.NotegenServer) -> srv.NotegenServer:
    """A server with :data:`LONG` open and read, serving on the test's event loop."""
    loaded_server.loop = asyncio.get_running_loop()
    view = DocumentView(URI, 1, LONG)
    loaded_server.views[URI] = view
    loaded_server.readings[URI] = Reading(1, view.arrays(), infer_style(LONG))
    return loaded_server


def cursor(ls: srv.NotegenServer, after: int):  # type: ignore[no-untyped-def]
    """The context after note ``after`` of the last section (on the inference thread's side)."""
    text = LONG.splitlines()[3]
    character = [i for i, ch in enumerate(text) if ch == ","][after - 1] + 1
    return note_context(ls.views[URI], 3, character, ls.readings[URI], 256)


async def read_ahead(ls: srv.NotegenServer, after: int) -> None:
    """What :func:`complete_at` does after its answer, on the inference thread."""
    nc = cursor(ls, after)
    await asyncio.get_running_loop().run_in_executor(ls.engine.executor, ls.read_ahead, URI, nc)
    await asyncio.sleep(0)  # (the trips start from the event loop)


async def test_a_cursor_a_few_notes_before_the_move_reads_the_next_window_once(ls):
    cache = ls.engine.cache
    await read_ahead(ls, 49)  # typing: a note, its completion, the next note
    assert ls.reading_ahead is None  # (the first completion there: no typing seen yet)
    await read_ahead(ls, 50)
    first = ls.reading_ahead
    assert first is not None
    await asyncio.wait_for(first, 30)
    ids, _, setting = cursor(ls, 50).ahead(cache, srv.LOOK_AHEAD)[1]
    assert cache.cached(ids, setting) and cache.cached(ids[:32], setting)

    await read_ahead(ls, 51)  # the next keystroke: the same start, read already
    assert ls.reading_ahead is first


async def test_far_from_the_move_nothing_is_read_ahead(ls):
    await read_ahead(ls, 19)
    await read_ahead(ls, 20)
    assert ls.reading_ahead is None and ls.read_ahead_of == {}


async def test_a_jump_near_the_move_reads_nothing_ahead(ls):
    await read_ahead(ls, 10)
    await read_ahead(ls, 50)  # not typed on from the last cursor: a jump
    assert ls.reading_ahead is None and ls.read_ahead_of == {}


async def test_closing_the_document_forgets_what_was_read_ahead_for_it(ls):
    await read_ahead(ls, 49)
    await read_ahead(ls, 50)
    await asyncio.wait_for(ls.reading_ahead, 30)
    ls.forget(URI)
    assert URI not in ls.read_ahead_of and URI not in ls.typed_at


def open_line(ls: srv.NotegenServer, notes: int) -> tuple[DocumentView, list[int]]:
    """A one-line array of ``notes`` notes open and read: its view and its commas."""
    line = "a2=[" + ",".join(NOTES[(i * 5) % 8] for i in range(notes)) + "]"
    view = DocumentView("file:///line.rb", 1, line)
    ls.views["file:///line.rb"] = view
    ls.readings["file:///line.rb"] = Reading(1, view.arrays(), infer_style(line))
    return view, [i for i, ch in enumerate(line) if ch == ","]


async def test_deep_in_a_long_array_typing_reads_the_next_window_ahead(ls):
    """Past half a window of its own array's notes, a cursor's network reads its last notes
    only (``NoteContext.reads_short``), from a start that moves every 64 notes; where the
    window's start moves onto that start (note 384 of the line) the cursor reads its new
    window whole, 128 notes, as other keys. Read ahead: from there to the cursor, its stops
    kept."""
    view, commas = open_line(ls, 420)
    loop = asyncio.get_running_loop()
    cache = ls.engine.cache
    for after in (378, 379):  # typing: the window moves from note 128 to note 256 at 384
        nc = note_context(view, 0, commas[after - 1] + 1, ls.readings["file:///line.rb"], 256)
        assert nc is not None and nc.reads_short()
        await loop.run_in_executor(ls.engine.executor, ls.read_ahead, "file:///line.rb", nc)
    await asyncio.sleep(0)
    assert ls.reading_ahead is not None
    await asyncio.wait_for(ls.reading_ahead, 30)
    start, (ids, _, setting) = nc.short_ahead(cache, srv.LOOK_AHEAD)
    assert start == 0 and len(ids) == 379 - 256  # the new window, up to the cursor
    assert cache.cached(ids, setting) and cache.cached(ids[:32], setting)


async def test_deep_in_a_long_array_typing_reads_the_next_short_start_ahead(ls):
    """At note 256 of the line the network's read moves from note 128 to note 192: read
    ahead from there to the cursor, once (the keystroke at 256 steps on from it)."""
    view, commas = open_line(ls, 300)
    loop = asyncio.get_running_loop()
    for after in (249, 250, 251):
        nc = note_context(view, 0, commas[after - 1] + 1, ls.readings["file:///line.rb"], 256)
        assert nc is not None and nc.reads_short()
        await loop.run_in_executor(ls.engine.executor, ls.read_ahead, "file:///line.rb", nc)
        await asyncio.sleep(0)
        if after == 250:
            first = ls.reading_ahead
    assert first is not None and ls.reading_ahead is first  # (251: read already)
    await asyncio.wait_for(first, 30)
    assert ls.read_ahead_of["file:///line.rb"][-2:] == ("short", 192)
