"""A cursor's context in a long voice joins only the sections in its window (the voice read
once as a :class:`~notegen.lsp.reading.VoiceTrack`), and is exactly the context that
joining every earlier section gives: the same ids, checkpoints and time line, to the bit
(the cached states' keys hold them)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from notegen.lsp.context import NoteContext, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.whole_reading import read_document
from notegen.melody import Event
from notegen.model.context_cache import ContextCache
from notegen.model.network import MelodyModel

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
NOTES = [":C4", ":D4", ":Eb4", ":G4", ":r", ":Bb3", ":F5"]
BEATS = ["0.25", "0.5", "1", "1.5", "0.333333", "0.166667", "0.666667", "2"]  # triplets too


def piece(rng: random.Random, sections: int) -> str:
    """Two voices: one of ``sections`` sections of 1-40 notes, one of 3 short sections."""
    lines = ["use_bpm 90", "a1=[]", "b1=[]", "a2=[]", "b2=[]"]
    for k in range(sections):
        n = rng.randint(1, 40)
        lines.append(f"a1[{k}]=[" + ",".join(rng.choice(NOTES) for _ in range(n)) + "]")
        lines.append(f"b1[{k}]=[" + ",".join(rng.choice(BEATS) for _ in range(n)) + "]")
    for k in range(3):
        lines.append(f"a2[{k}]=[:C3,:G3,:E3]")
        lines.append(f"b2[{k}]=[1,0.333333,2]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def cache() -> ContextCache:
    return ContextCache(MelodyModel.load(SHIPPED))


def read_anew(nc: NoteContext, cache: ContextCache, extra=()):
    """:meth:`NoteContext.context`, read again (never the one kept)."""
    _start, _n, ids, marks, setting = nc._window(cache, extra, 0)
    return ids, marks, setting


def joined_one_by_one(nc: NoteContext, cache: ContextCache, extra=()):
    """The context as it was read before voices had tracks: every earlier section's ids."""
    nc._track = lambda _cache: None  # type: ignore[method-assign]
    return read_anew(nc, cache, extra)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cursor_in_a_long_voice_gets_the_context_every_earlier_section_gives(seed, cache):
    rng = random.Random(seed)
    text = piece(rng, 120)
    view = DocumentView("file:///long.rb", 1, text)
    reading, _diags, _cost = read_document(view, True)
    lines = text.split("\n")
    rows = [i for i, line in enumerate(lines) if line.startswith("a1[")]
    tracked = 0
    for _ in range(60):
        row = rng.choice(rows)
        commas = [i + 1 for i, ch in enumerate(lines[row]) if ch == ","]
        col = rng.choice(commas or [lines[row].index("[", 3) + 1])
        for max_context in (16, 64, 256):
            nc = note_context(view, row, col, reading, max_context)
            assert nc is not None
            extra = [Event(62, 0.333333)] * rng.randint(0, 3)
            ids, marks, setting = read_anew(nc, cache, extra)
            tracked += nc._track(cache) is not None
            old_ids, old_marks, old_setting = joined_one_by_one(nc, cache, extra)
            assert np.array_equal(ids, old_ids)
            assert marks == old_marks
            assert setting is not None and old_setting is not None
            assert setting.start == old_setting.start  # (exact: no tolerance)
            assert setting.key() == old_setting.key()
            view.forget_cursor()
    assert tracked > 100  # (the cursors past the first section took the track's path)


def test_the_track_serves_the_sections_ids_as_reading_them_one_by_one_does(cache):
    text = piece(random.Random(7), 30)
    first, _diags, _cost = read_document(DocumentView("file:///t.rb", 1, text), True)
    alone = [first.ids(s, cache) for s in first.voices[1].values()]  # (no track made)
    reading, _diags, _cost = read_document(DocumentView("file:///t.rb", 1, text), True)
    track = reading.track(1, cache)
    assert [len(a) for a in alone] == np.diff(track.bounds).tolist()
    for ids, section in zip(alone, track.sections, strict=True):
        assert np.array_equal(ids, reading.ids(section, cache))
    for n in (0, 1, 17, int(track.bounds[-1])):
        assert track.beats_before(n) == cache.model.beats_of(track.ids[:n] % cache.vd)


def test_a_long_array_is_encoded_as_its_values_one_by_one(cache):
    """(Long arrays read each distinct value once: the same ids as short ones get.)"""
    model = cache.model
    rng = np.random.default_rng(3)
    odd = [np.nan, np.inf, -np.inf, -0.0, 0.0, -3.0, 1e308, 0.4999999, 127.5, 200.0, 7.0]
    pitches = np.concatenate([rng.uniform(-20, 150, 9000), rng.choice(odd, 1000)])
    durations = np.concatenate([rng.uniform(-1, 20, 9000), rng.choice(odd, 1000)])
    order = rng.permutation(len(pitches))
    pitches, durations = pitches[order], durations[order]
    pids, dids = model.encode_values(pitches, durations)
    for at in range(0, len(pitches), 1000):  # (short: every value encoded in place)
        p, d = model.encode_values(pitches[at : at + 1000], durations[at : at + 1000])
        assert np.array_equal(p, pids[at : at + 1000])
        assert np.array_equal(d, dids[at : at + 1000])


def test_tracks_made_ahead_are_the_ones_cursors_use(cache):
    """(The server makes them on its reader thread before the reading is used.)"""
    text = piece(random.Random(11), 20)
    view = DocumentView("file:///ahead.rb", 1, text)
    reading, _diags, _cost = read_document(view, True)
    reading.prepare_tracks(cache)
    made = {voice: reading.track(voice, cache) for voice in reading.voices}
    assert set(made) == {1, 2}
    row = text.split("\n").index(next(ln for ln in text.split("\n") if ln.startswith("a1[19]")))
    nc = note_context(view, row, 8, reading, 64)
    assert nc is not None and nc._track(cache) is made[1]
    assert all(reading.track(voice, cache) is made[voice] for voice in made)


def test_a_cursor_in_a_long_lines_window_gets_the_same_context(cache):
    """(Sections of 3,000 notes: a cursor there reads a window of its line, ``skipped``
    elements left out, and a later section's window holds a long section whole.)"""
    rng = random.Random(4)
    lines = ["a1=[]", "b1=[]"]
    for k in range(6):
        n = 3000 if k in (2, 5) else rng.randint(5, 40)
        lines.append(f"a1[{k}]=[" + ",".join(rng.choice(NOTES) for _ in range(n)) + "]")
        lines.append(f"b1[{k}]=[" + ",".join(rng.choice(BEATS) for _ in range(n)) + "]")
    text = "\n".join(lines) + "\n"
    view = DocumentView("file:///wide.rb", 1, text)
    reading, _diags, _cost = read_document(view, True)
    in_windows = 0
    for row in (6, 8, 12):  # a long section, a short one after it, the last long one
        commas = [i + 1 for i, ch in enumerate(lines[row]) if ch == ","]
        for col in rng.sample(commas, min(15, len(commas))):
            nc = note_context(view, row, col, reading, 256)
            assert nc is not None
            in_windows += nc.local.skipped > 0
            ids, marks, setting = read_anew(nc, cache)
            old_ids, old_marks, old_setting = joined_one_by_one(nc, cache)
            assert np.array_equal(ids, old_ids)
            assert marks == old_marks
            assert setting is not None and old_setting is not None
            assert setting.start == old_setting.start
            view.forget_cursor()
    assert in_windows >= 20
