"""A whole-file reading travels pickled (from a child process, notegen.lsp.whole_reading):
the unpickled reading has the same summaries and settings, and the harmony tables its
settings were prepared with come along, so the server does not make them again."""

from __future__ import annotations

import pickle

import numpy as np
from notegen.lsp.documents import DocumentView
from notegen.lsp.whole_reading import read_document, wanted
from notegen.model import conditioning
from notegen.model.conditioning import harmony_rows

PIECE = """\
use_bpm 90
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:F4,:G4,:E4,:D4,:C4]
b1[0]=[0.5,0.5,1,1,0.5,0.5,1,2]
a2=[]
b2=[]
a2[0]=[:C3,:G3,:E3,:G3]
b2[0]=[2,2,2,2]
a3=[]
b3=[]
a3[0]=[:G4,:A4,:B4,:C5,:D5]
b3[0]=[1,1,1,1,4]
"""
TIMES = np.array([0.0, 0.75, 2.0, 3.5, 6.0])


def read(text: str = PIECE) -> tuple:
    return read_document(DocumentView("file:///p.rb", 1, text), conditioned=True)


def test_a_pickled_reading_keeps_its_summaries_and_settings() -> None:
    reading, diags, _cost = read()
    back = pickle.loads(pickle.dumps(reading))
    assert back.sections == reading.sections
    for a, b in zip(reading.summaries, back.summaries, strict=True):
        assert (a.kind, a.voice, a.section, a.start) == (b.kind, b.voice, b.section, b.start)
        assert np.array_equal(a.pitches, b.pitches, equal_nan=True)
        assert np.array_equal(a.event_beats, b.event_beats, equal_nan=True)
    assert set(back._settings) == set(reading._settings) == {1, 2, 3, None}
    for voice, setting in reading._settings.items():
        mine = back.setting(voice)  # memoised: the pickled one, under a new lock
        assert mine is back._settings[voice]
        assert len(mine.others) == len(setting.others)
        for x, y in zip(setting.others, mine.others, strict=True):
            assert np.array_equal(x.onsets, y.onsets) and np.array_equal(x.pitches, y.pitches)
        assert np.array_equal(harmony_rows(mine.others, TIMES), harmony_rows(setting.others, TIMES))
    assert diags == []


def test_the_harmony_tables_come_along_and_are_not_made_again() -> None:
    reading, _diags, _cost = read()
    made = []
    original = conditioning._HarmonyTable.__init__

    def counting(self: object, others: tuple) -> None:
        made.append(others)
        original(self, others)  # type: ignore[arg-type]

    back = pickle.loads(pickle.dumps(reading))
    conditioning._HarmonyTable.__init__ = counting  # type: ignore[method-assign]
    try:
        for setting in back._settings.values():
            harmony_rows(setting.others, TIMES)
        assert made == []
        fresh = read()[0]  # a reading made here makes its own tables
        for setting in fresh._settings.values():
            harmony_rows(setting.others, TIMES)
        assert len(made) == 4
    finally:
        conditioning._HarmonyTable.__init__ = original  # type: ignore[method-assign]


def test_the_identity_memo_of_token_ids_is_not_pickled() -> None:
    reading, _diags, _cost = read()
    reading._ids[id(reading.summaries[0])] = (object(), np.zeros(3))
    assert pickle.loads(pickle.dumps(reading))._ids == {}


def test_only_big_documents_are_read_in_a_child_process(monkeypatch) -> None:
    from notegen.lsp import whole_reading

    monkeypatch.setattr(whole_reading, "CHILD_MIN_CHARS", 1000)
    assert not wanted(DocumentView("file:///p.rb", 1, PIECE))
    assert wanted(DocumentView("file:///p.rb", 1, PIECE * 10))


def test_a_voice_the_reading_did_not_have_still_hears_the_others_after_prepare() -> None:
    reading, _diags, _cost = read()
    assert reading.prepared and reading._lines is None  # the notes as events are let go
    late = reading.setting(7)  # a voice typed after the reading
    alone = read_document(DocumentView("file:///p.rb", 1, PIECE), conditioned=False)[0]
    expected = alone.setting(7)
    assert len(late.others) == len(expected.others) == 3
    for x, y in zip(late.others, expected.others, strict=True):
        assert np.array_equal(x.onsets, y.onsets) and np.array_equal(x.ends, y.ends)
        assert np.array_equal(x.pitches, y.pitches)


def test_a_reading_from_a_child_process_is_the_same_and_its_arrays_own_their_memory() -> None:
    import asyncio

    from notegen.lsp.whole_reading import read_in_child

    view = DocumentView("file:///p.rb", 1, PIECE)
    reading, diags, _cost = asyncio.run(read_in_child(view, conditioned=True))
    here = read()[0]
    assert reading.text is view.text and diags == []
    assert reading.sections == here.sections
    for a, b in zip(reading.summaries, here.summaries, strict=True):
        assert np.array_equal(a.pitches, b.pitches, equal_nan=True)
        # no bytearray behind each array (pickle protocol 5 would leave one, and two more
        # small objects, per array in the server)
        assert a.pitches.base is None and a.event_beats.base is None
    for voice, setting in reading._settings.items():
        for x, y in zip(setting.others, here._settings[voice].others, strict=True):
            assert np.array_equal(x.onsets, y.onsets) and x.onsets.base is None


def test_a_play_documents_reading_holds_one_event_object_per_kind_of_note() -> None:
    """2,000 ``play``/``sleep`` pairs of three notes: the reading's events are three objects
    (and their rests), not one per note, so it travels from its child process and is
    unpickled in one piece each (it was 320,000 objects for a 160,000-note document)."""
    body = "".join(f"  play {n}\n  sleep 0.25\n" for n in (":c4", ":e4", ":g4") * 667)
    reading, _diags, _cost = read(f"live_loop :melody do\n{body}end\n")
    back = pickle.loads(pickle.dumps(reading))
    for held in (reading, back):
        events = [e for voice in held.play_voices for run in voice.runs for e in run.timed]
        assert [e.pitch for e in events[:4]] == [60, 64, 67, 60] and len(events) == 2_001
        assert len({id(e) for e in events}) <= 3


def test_a_child_process_never_loads_the_protocols_classes_nor_asyncio() -> None:
    """A child imports its own module and its job's (a reading, a generation, a slip check):
    with lsprotocol's ~1,000 classes (0.35-0.45 s to import on the test VM) each reading of a
    big file took ~0.4 s longer; asyncio took ~40 ms more of every child's start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import notegen

    root = str(Path(notegen.__file__).resolve().parents[1])
    jobs = "notegen.lsp.whole_reading, notegen.lsp.jobs, notegen.lsp.slip_check"
    code = (
        f"import sys, notegen.lsp.child, {jobs}\n"
        "print(sorted(m for m in ('asyncio', 'lsprotocol', 'pygls') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": root}
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"
