"""Until a document's whole reading arrives, a cursor's context is read by the network from
its last notes only (``PROVISIONAL_NETWORK``), while the experts read all of it; once read,
the network reads the whole window again, except deep in a long array (``LONG_ARRAY``), where
no state the warm-up keeps reaches a new cursor, and at a place the warm-up has not reached yet
(no state kept within the last ``LONG_NETWORK`` notes): its last ``LONG_NETWORK`` notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from notegen.lsp import completion
from notegen.lsp.context import LONG_NETWORK, PROVISIONAL_NETWORK, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.engine import Engine
from notegen.lsp.warm_up import warm_sections
from notegen.lsp.whole_reading import read_document
from notegen.model.context_cache import ContextCache

NOTES = [":C4", ":E4", ":G4", ":r", ":A4", ":F4", ":D4", ":B3", ":C5", ":G4"]
ARRAY = "a1[0]=[" + ",".join(NOTES[(i * 3) % 7 + (i % 4 == 0)] for i in range(150)) + "]"
DOC = f"a1=[]\n{ARRAY}\n"


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = Engine()
    engine.load(Path(__file__).resolve().parents[2] / "models" / "notegen.json").result()
    return engine


def cursor_after(notes: int) -> tuple[int, int]:
    """Line and character right after the comma that follows note ``notes`` of ``a1[0]``."""
    line = DOC.split("\n")[1]
    commas = [k for k, c in enumerate(line) if c == ","]
    return 1, commas[notes - 1] + 1


def test_before_the_reading_the_network_reads_the_last_notes_and_the_experts_all(
    engine, monkeypatch
):
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc = note_context(DocumentView("file:///a.rb", 1, DOC), *cursor_after(120), None, 256)
    assert nc is not None and len(nc.before) == 120 and nc.reading is None
    steps: list[int] = []
    original = model.step
    monkeypatch.setattr(
        model, "step", lambda *a, **k: steps.append(np.shape(a[0])[-1]) or original(*a, **k)
    )

    items = completion.rank_notes(engine, nc, 12)

    ids, _, _ = nc.context(cache)
    assert len(ids) == 120  # the window: the whole array before the cursor
    assert sum(steps) == 120 - 64 <= PROVISIONAL_NETWORK  # its start moves every 32 notes
    primed = nc.prime(cache)
    assert sum(steps) == 120 - 64  # (asked again: nothing more read)
    np.testing.assert_array_equal(primed.history, ids)  # what the experts read
    whole = ContextCache(model).prime_ids(ids)  # the network reading the whole window
    assert not np.allclose(primed.pitch_logits, whole.pitch_logits, atol=1e-3)
    assert items and items[0].candidate.probability > 0


def test_a_short_context_is_read_whole_before_the_reading_too(engine, monkeypatch):
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc = note_context(DocumentView("file:///a.rb", 1, DOC), *cursor_after(40), None, 256)
    assert nc is not None
    ids, marks, setting = nc.context(cache)
    assert nc.network_from(cache, ids, marks, setting) == 0 and len(ids) == 40
    primed = nc.prime(cache)
    alone = ContextCache(model).prime_ids(ids, marks, setting)
    np.testing.assert_array_equal(primed.pitch_logits, alone.pitch_logits)


def test_the_phrase_reads_the_context_the_ranking_read(engine, monkeypatch):
    """The phrase items and the ghost text start from the state the ranked notes came from:
    its priming finds it kept and reads nothing more."""
    engine.cache = ContextCache(engine.model)
    nc = note_context(DocumentView("file:///a.rb", 1, DOC), *cursor_after(120), None, 256)
    assert nc is not None
    notes, reads = phrase_after_ranking(engine, nc, monkeypatch)
    assert len(notes) == 4
    assert reads == [1, 1, 1]  # the phrase's own steps: nothing of the context again


def phrase_after_ranking(engine, nc, monkeypatch):  # type: ignore[no-untyped-def]
    """The notes ranked at ``nc``, then its 4-note phrase: the phrase's notes, and the events
    each of the network's calls read for it."""
    model = engine.model
    completion.rank_notes(engine, nc, 12)
    reads: list[int] = []
    original = model.step
    monkeypatch.setattr(
        model, "step", lambda *a, **k: reads.append(np.shape(a[0])[-1]) or original(*a, **k)
    )
    job = completion._phrase_job(engine, nc, completion.Settings(), 4)
    assert job is not None
    return engine.finish(*job), reads


DUET = DOC + "a2=[]\na2[0]=[" + ",".join([":C3", ":G3", ":E3", ":G3"] * 40) + "]\n"
""":data:`DOC` with a second voice under it: ``a1`` hears it (a setting of its own)."""


def read_context(notes: int):  # type: ignore[no-untyped-def]
    """The cursor after note ``notes`` of ``a1[0]`` in :data:`DUET` once it is read, as the
    server reads it (the voices' settings prepared)."""
    reading = read_document(DocumentView("file:///a.rb", 1, DUET), conditioned=True)[0]
    view = DocumentView("file:///a.rb", 1, DUET)
    return note_context(view, *cursor_after(notes), reading, 256)


def test_once_read_deep_in_a_long_array_the_network_reads_the_last_notes(engine):
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc = read_context(140)
    assert nc is not None and nc.reading is not None and nc.reads_short()
    ids, marks, setting = nc.context(cache)
    assert len(ids) == 140 and setting is not None and not setting.plain
    start = nc.network_from(cache, ids, marks, setting)
    assert start == 64 and len(ids) - start <= LONG_NETWORK  # (moving every 64 notes)

    primed = nc.prime(cache)

    np.testing.assert_array_equal(primed.history, ids)  # what the experts read
    shift = model.beats_of(ids[:start] % cache.vd)
    network = ContextCache(model).prime_ids(ids[start:], (), setting.later(shift))
    np.testing.assert_array_equal(primed.state[0], network.state[0])
    assert primed.time == pytest.approx(model.beats_of(ids % cache.vd))
    items = completion.rank_notes(engine, nc, 12)
    assert items and items[0].candidate.probability > 0


def test_once_read_early_in_a_long_array_the_network_reads_the_whole_window(engine):
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc = read_context(120)  # (up to half a window of its array's notes)
    assert nc is not None and nc.reading is not None and not nc.reads_short()
    ids, marks, setting = nc.context(cache)
    assert nc.network_from(cache, ids, marks, setting) == 0 and len(ids) == 120
    primed = nc.prime(cache)
    whole = ContextCache(model).prime_ids(ids, marks, setting)
    np.testing.assert_array_equal(primed.pitch_logits, whole.pitch_logits)


def test_once_read_the_phrase_deep_in_a_long_array_steps_on_from_the_ranked_state(
    engine, monkeypatch
):
    """Its phrase (the ghost text's notes) starts from the state the ranked notes came from,
    the network's last notes read in the later setting: nothing of the context again."""
    engine.cache = ContextCache(engine.model)
    nc = read_context(140)
    assert nc is not None and nc.reads_short()
    notes, reads = phrase_after_ranking(engine, nc, monkeypatch)
    assert len(notes) == 4
    assert reads == [1, 1, 1]


SECTIONS = (
    "a1=[]\n"
    + "a1[0]=["
    + ",".join(NOTES[(i * 5) % 9] for i in range(150))
    + "]\n"
    + "a1[1]=["
    + ",".join(NOTES[(i * 2) % 7] for i in range(20))
    + "]\n"
    + "a2=[]\na2[0]=["
    + ",".join([":C3", ":G3", ":E3", ":G3"] * 45)
    + "]\n"
)
""":data:`DUET`'s voices in sections: a cursor early in ``a1[1]`` has a window of ~160 notes,
most of them ``a1[0]``'s, whose end the warm-up keeps."""


def second_section_cursor(notes: int):  # type: ignore[no-untyped-def]
    """The cursor after note ``notes`` of ``a1[1]`` in :data:`SECTIONS` once it is read, and
    the reading."""
    view = DocumentView("file:///s.rb", 1, SECTIONS)
    reading = read_document(view, conditioned=True)[0]
    line = SECTIONS.split("\n")[2]
    commas = [k for k, c in enumerate(line) if c == ","]
    return note_context(view, 2, commas[notes - 1] + 1, reading, 256), reading


def test_once_read_a_place_the_warm_up_has_not_reached_reads_the_last_notes(engine, monkeypatch):
    """A reading's warm-up takes seconds in a big piece, and a cursor it has not reached yet
    has no kept state in its window: rather than the whole window (~12 ms at 256 notes), the
    network reads its last notes, as deep in a long array, and the experts all of them."""
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc, _ = second_section_cursor(10)
    assert nc is not None and nc.reading is not None and not nc.reads_short()
    steps: list[int] = []
    original = model.step
    monkeypatch.setattr(
        model, "step", lambda *a, **k: steps.append(np.shape(a[0])[-1]) or original(*a, **k)
    )

    items = completion.rank_notes(engine, nc, 12)

    assert sum(steps) == 1 + (160 - 64)  # <bos> in its setting, then not the whole window
    assert items and items[0].candidate.probability > 0
    ids, marks, setting = nc.context(cache)
    assert len(ids) == 160 and 150 in marks and setting is not None
    start = nc.network_from(cache, ids, marks, setting)
    assert start == 64 and len(ids) - start <= LONG_NETWORK
    primed = nc.prime(cache)
    np.testing.assert_array_equal(primed.history, ids)  # what the experts read
    shift = model.beats_of(ids[:start] % cache.vd)
    network = ContextCache(model).prime_ids(ids[start:], (), setting.later(shift))
    np.testing.assert_array_equal(primed.state[0], network.state[0])


def test_a_cold_place_keeps_no_state_but_its_end(engine):
    """The warm-up soon keeps the place's states, read in the whole window: the short read's
    checkpoints and start kept beside them (~7 kB each) left the soak's server 2-12 MB
    bigger. Its end is kept, for the phrase and the next keystroke."""
    engine.cache = cache = ContextCache(engine.model)
    nc, _ = second_section_cursor(10)
    assert nc is not None
    ids, marks, setting = nc.context(cache)
    assert nc.read_plan(cache, ids, marks, setting) == (64, ())
    roots = len(cache._entries)

    nc.prime(cache)

    assert len(cache._entries) == roots  # (not the start of its later setting either)
    assert len(cache._tails) == 1


def test_once_the_warm_up_reached_it_the_same_place_reads_the_whole_window(engine):
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc, reading = second_section_cursor(10)
    assert nc is not None
    arrays = [reading.voices[v][k] for v, ks in reading.sections.items() for k in ks]
    for _call in warm_sections(reading, arrays, cache, 256):
        pass  # (the server lets requests run here)
    ids, marks, setting = nc.context(cache)

    assert cache.reach(ids, marks, setting) == 150  # a1[1]'s start, kept by the warm-up
    assert nc.network_from(cache, ids, marks, setting) == 0
    primed = nc.prime(cache)
    whole = ContextCache(model).prime_ids(ids, marks, setting)
    np.testing.assert_allclose(primed.pitch_logits, whole.pitch_logits, atol=1e-5)


def test_a_state_kept_within_the_last_notes_is_read_on_from(engine):
    """A cursor whose own earlier completion kept a state nearby (typing on) steps on from
    it, the whole window's reading, however cold the window's start."""
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc, _ = second_section_cursor(10)
    assert nc is not None
    ids, marks, setting = nc.context(cache)
    cache.prime_ids(ids[:-2], marks, setting)  # the whole window, read two notes back

    assert cache.reach(ids, marks, setting) == len(ids) - 2
    assert nc.network_from(cache, ids, marks, setting) == 0


def test_the_phrase_at_a_cold_place_steps_on_from_the_ranked_state(engine, monkeypatch):
    engine.cache = ContextCache(engine.model)
    nc, _ = second_section_cursor(10)
    assert nc is not None
    notes, reads = phrase_after_ranking(engine, nc, monkeypatch)
    assert len(notes) == 4
    assert reads == [1, 1, 1]


def test_a_short_read_serves_its_end_only_not_its_start(engine, monkeypatch):
    """The network reads on from the start of its later setting, and no context ends there:
    serving that start (the experts, ~1 ms) was work no one asked for."""
    model = engine.model
    engine.cache = cache = ContextCache(model)
    nc = read_context(140)
    assert nc is not None and nc.reads_short()
    served: list[int] = []
    original = cache.served
    monkeypatch.setattr(
        cache, "served", lambda *a, **k: served.append(len(a[2])) or original(*a, **k)
    )

    nc.prime(cache)

    assert served == [140]  # the cursor's, after its whole history; not the start's (0)
