"""Deep in a long array (past half a window of its notes) a cursor's network reads its last
64-127 notes from ``<bos>``, starting every 64 notes (``LONG_NETWORK``). After a reading, the
warm-up keeps for each such start the state its read reaches at a stop near 64 notes on, so a
new place there reads at most ~64 notes instead of up to 127: what it is offered is the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.server_reading import read_and_warm
from lsprotocol import types
from notegen.lsp import completion, warm_up
from notegen.lsp import server as srv
from notegen.lsp.config import Settings
from notegen.lsp.context import LONG_NETWORK, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.engine import Engine
from notegen.lsp.warm_up import long_arrays, short_states, warm_sections, warm_short_reads
from notegen.lsp.whole_reading import read_document
from notegen.model.context_cache import ContextCache

NOTES = [":C4", ":E4", ":G4", ":r", ":A4", ":F4", ":D4", ":B3", ":C5", ":G4"]


def melody(count: int, step: int) -> str:
    return ",".join(NOTES[(i * step) % 9] for i in range(count))


LINE = f"a1=[{melody(700, 4)}]\n"
"""One plain array of 700 notes on one line, alone."""
PIECE = (
    "a1=[]\n"
    f"a1[0]=[{melody(37, 5)}]\n"
    f"a1[1]=[{melody(150, 2)}]\n"
    f"a1[2]=[{melody(420, 7)}]\n"
    "b1=[]\n"
    "b1[0]=[" + ",".join(["0.5"] * 37) + "]\n"
    "b1[1]=[" + ",".join(["0.25", "0.75"] * 75) + "]\n"
    "b1[2]=[" + ",".join(["0.5"] * 420) + "]\n"
    "a2=[]\n"
    f"a2[0]=[{','.join([':C3', ':G3', ':E3', ':G3'] * 160)}]\n"
)
"""A voice in sections of odd lengths (its stops fall every 32 notes of each array, not every
64 of the window) with durations, heard with a second voice of one long array."""


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = Engine()
    engine.load(Path(__file__).resolve().parents[2] / "models" / "notegen.json").result()
    return engine


def read(text: str):  # type: ignore[no-untyped-def]
    view = DocumentView("file:///long.rb", 1, text)
    return view, read_document(view, conditioned=True)[0]


def cursor(text: str, line: int, notes: int) -> tuple[int, int]:
    """Line and character right after the comma that follows note ``notes`` on ``line``."""
    commas = [k for k, c in enumerate(text.split("\n")[line]) if c == ","]
    return line, commas[notes - 1] + 1


def warmed(engine: Engine, text: str):  # type: ignore[no-untyped-def]
    """``text`` read and warmed up as the server does: its sections, then the short reads."""
    view, reading = read(text)
    engine.cache = cache = ContextCache(engine.model)
    cache.capacity = 10_000
    arrays = [reading.voices[v][k] for v, ks in reading.sections.items() for k in ks]
    for _call in warm_sections(reading, arrays, cache, 256):
        pass  # (the server lets requests run here)
    for _call in warm_short_reads(reading, cache, 256):
        pass
    return view, reading


def count_steps(monkeypatch, model) -> list[int]:  # type: ignore[no-untyped-def]
    steps: list[int] = []
    original = model.step
    monkeypatch.setattr(
        model, "step", lambda *a, **k: steps.append(np.shape(a[0])[-1]) or original(*a, **k)
    )
    return steps


def test_a_new_place_deep_in_a_warmed_long_line_reads_on_from_the_kept_state(engine, monkeypatch):
    view, reading = warmed(engine, LINE)
    nc = note_context(view, *cursor(LINE, 0, 500), reading, 256)
    assert nc is not None and nc.reads_short()
    ids, marks, setting = nc.context(engine.cache)
    start, _ = nc.read_plan(engine.cache, ids, marks, setting)
    assert len(ids) - start == 500 - 384 == 116  # the network's read from <bos>: 116 notes
    steps = count_steps(monkeypatch, engine.model)

    primed = nc.prime(engine.cache)

    assert sum(steps) == 116 - 64  # from the state kept 64 notes after its start
    cold = ContextCache(engine.model)
    fresh = note_context(view, *cursor(LINE, 0, 500), reading, 256)
    assert fresh is not None
    np.testing.assert_allclose(
        primed.pitch_logits, fresh.prime(cold).pitch_logits, rtol=1e-5, atol=1e-5
    )


def test_without_the_warm_up_the_same_place_reads_from_bos(engine, monkeypatch):
    view, reading = read(LINE)
    engine.cache = ContextCache(engine.model)
    nc = note_context(view, *cursor(LINE, 0, 500), reading, 256)
    assert nc is not None
    steps = count_steps(monkeypatch, engine.model)
    nc.prime(engine.cache)
    assert sum(steps) == 1 + 116  # <bos> in its later setting, then every note


def test_every_place_deep_in_a_sectioned_voice_reads_at_most_73_notes(engine, monkeypatch):
    """Its stops fall at 10, 42, 74, ... notes of a start: the one kept is the one that
    bounds every cursor's read best (74: cursors before it read from <bos>, up to 73)."""
    view, reading = warmed(engine, PIECE)
    steps = count_steps(monkeypatch, engine.model)
    reads = []
    for notes in range(130, 420, 7):
        nc = note_context(view, *cursor(PIECE, 3, notes), reading, 256)
        assert nc is not None and nc.reads_short()
        ids, marks, setting = nc.context(engine.cache)
        if nc.read_plan(engine.cache, ids, marks, setting)[0] == 0:
            continue  # (a window of exactly 128 notes: read whole, from its start)
        steps.clear()
        nc.prime(engine.cache)
        engine.cache._tails.clear()  # (no cursor steps on from another's end)
        reads.append(sum(steps))
    assert len(reads) >= 35
    assert max(reads) <= 74  # (<bos> and 73 notes at most)
    assert np.mean(reads) < 40  # against ~96 from <bos>


def test_the_last_cursors_see_every_short_start_of_their_array(engine):
    """One cursor's context per run of cursors that share a short start (the last of it)
    finds every start any cursor of the array has: checked against every cursor."""
    view, reading = read(PIECE)
    cache = ContextCache(engine.model)
    for line, array in ((3, reading.voices[1][2]), (9, reading.voices[2][0])):
        assert array in long_arrays(reading, 256)
        every = set()
        for notes in range(129, len(array.pitches)):
            nc = note_context(view, *cursor(PIECE, line, notes), reading, 256)
            assert nc is not None
            ids, marks, setting = nc.context(cache)
            start, _ = nc.read_plan(cache, ids, marks, setting)
            if start > 0:
                every.add(notes - (len(ids) - start))
        seen = set()
        for notes in warm_up._last_cursors(reading, array, 256):
            gap = max(0, notes - 256)
            nc = warm_up._context(reading, array, array.events(gap, notes), 256, gap)
            ids, marks, setting = nc.context(cache)
            start, _ = nc.read_plan(cache, ids, marks, setting)
            if start > 0:
                seen.add(notes - (len(ids) - start))
        assert every and every <= seen


def test_a_warm_up_keeps_one_state_per_short_start_within_its_budget(engine):
    _view, reading = read(LINE)
    cache = ContextCache(engine.model)
    cache.capacity = 10_000
    assert short_states(reading, 256) == 700 // (LONG_NETWORK // 2) == 10

    for _call in warm_short_reads(reading, cache, 256):
        pass

    # starts 64, 128, ... 576: each read <bos> and 64 notes; no start state of a later setting
    assert len(cache._entries) == 576 // 64 and not cache._tails
    cache = ContextCache(engine.model)
    for _call in warm_short_reads(reading, cache, 256, budget=3):
        pass
    assert len(cache._entries) == 3


def test_the_warm_up_keeps_nothing_for_arrays_a_cursor_reads_whole(engine):
    _view, reading = read("a1=[]\na1[0]=[" + melody(120, 3) + "]\n")
    assert long_arrays(reading, 256) == [] and short_states(reading, 256) == 0
    cache = ContextCache(engine.model)
    assert list(warm_short_reads(reading, cache, 256)) == []
    assert not cache._entries


@pytest.fixture
def ls(quiet_server) -> srv.NotegenServer:
    return quiet_server


async def test_the_server_warms_the_short_reads_after_a_reading(ls, monkeypatch):
    """... and makes room for their states in its cache (beside its default room: here 8)."""
    monkeypatch.setattr(ContextCache, "CAPACITY", 8)
    uri = "file:///line.rb"
    await read_and_warm(ls, uri, LINE)
    cache = ls.engine.cache
    assert cache is not None and cache.capacity == 10 + 8 // 8  # (the default room: 8)
    view = ls.view(uri)
    assert view is not None
    line, character = cursor(LINE, 0, 500)
    nc = note_context(view, line, character, ls.latest_reading(uri), 256)
    assert nc is not None
    steps = count_steps(monkeypatch, ls.engine.model)

    nc.prime(cache)

    assert sum(steps) == 116 - 64
    where = types.Range(types.Position(line, character), types.Position(line, character))
    assert completion.complete(ls.engine, nc, Settings(phraseLength=1), where)


def typed(text: str, notes: int, count: int) -> str:
    """``text`` with ``count`` notes typed after note ``notes`` of its one line."""
    line, character = cursor(text, 0, notes)
    offset = sum(len(x) + 1 for x in text.split("\n")[:line]) + character
    return text[:offset] + ":D4," * count + text[offset:]


def test_typing_toward_a_move_of_the_short_start_reads_the_new_start_ahead(engine, monkeypatch):
    """440 notes into the line the network reads from note 320 (the window starts at 256);
    at 448 its read starts at 384: the keystroke there read 64 notes from <bos>. Read ahead
    at 440, from 384 to the cursor, the keystrokes after it step on from there."""
    view, reading = read(LINE)
    engine.cache = cache = ContextCache(engine.model)
    nc = note_context(view, *cursor(LINE, 0, 440), reading, 256)
    assert nc is not None and nc.reads_short()
    ids, marks, setting = nc.context(cache)
    assert nc.read_plan(cache, ids, marks, setting)[0] == 64  # from note 256 + 64

    found = nc.short_ahead(cache, 16)

    assert found is not None
    start, (later, _, later_setting) = found
    assert len(later) - start == 440 - 384  # the notes the next start reads up to the cursor
    for _call in cache.prime_steps([(later, [len(later)], later_setting, start)], 8):
        pass
    text = typed(LINE, 440, 10)
    steps = count_steps(monkeypatch, engine.model)
    after = note_context(
        DocumentView("file:///long.rb", 2, text), *cursor(text, 0, 450), reading, 256
    )
    assert after is not None
    primed = after.prime(cache)
    assert sum(steps) == 10  # the notes typed, not <bos> and 66
    cold = ContextCache(engine.model)
    again = note_context(
        DocumentView("file:///long.rb", 2, text), *cursor(text, 0, 450), reading, 256
    )
    assert again is not None
    np.testing.assert_allclose(
        primed.pitch_logits, again.prime(cold).pitch_logits, rtol=1e-5, atol=1e-5
    )


def test_no_read_ahead_where_the_short_start_stays(engine):
    view, reading = read(LINE)
    nc = note_context(view, *cursor(LINE, 0, 400), reading, 256)
    assert nc is not None and nc.reads_short()
    assert nc.short_ahead(ContextCache(engine.model), 16) is None  # (it moves at 448)


def test_the_stop_kept_bounds_every_cursor_s_read():
    """Cursors read 64-127 notes from a start; of the two stops 32 apart within reach, the one
    kept leaves at most 79 to read (stops at 48 and 80), 63 where a stop falls at 64."""
    most = warm_up._most_read
    assert most(64) == 63
    assert max(min(most(p), most(p + 32)) for p in range(33, 65)) == most(48) == 79
    assert most(74) == 73 and most(42) == 85  # (the sectioned voice's: 74 kept)
