"""A child's pickled answer is unpickled a frame at a time, other threads let in between."""

from __future__ import annotations

import pickle

import numpy as np
from notegen.lsp import child


def answer() -> tuple:
    """Something like a reading: many small objects, shared ones, and numpy arrays."""
    shared = {"voice": 1, "notes": list(range(50))}
    arrays = [np.arange(i, i + 300, dtype=np.int64) for i in range(400)]
    return ("ok", ([shared, shared] * 200, arrays, "x" * 200_000))


def test_the_stream_gives_what_pickle_loads_gives():
    blob = pickle.dumps(answer(), protocol=child.RESULT_PROTOCOL)
    loaded = pickle.load(child.YieldingStream(blob))
    status, (dicts, arrays, text) = loaded
    expected = pickle.loads(blob)[1]
    assert status == "ok" and dicts == expected[0] and text == expected[2]
    assert dicts[0] is dicts[1]  # shared objects stay shared
    assert all(np.array_equal(a, b) for a, b in zip(arrays, expected[1], strict=True))


def test_the_gil_is_offered_before_every_frame(monkeypatch):
    blob = pickle.dumps(answer(), protocol=child.RESULT_PROTOCOL)
    offered: list[float] = []
    monkeypatch.setattr(child.time, "sleep", offered.append)
    pickle.load(child.YieldingStream(blob))
    frames = len(blob) // (64 * 1024)
    assert frames >= 10
    assert len(offered) >= frames and set(offered) == {0}


def test_a_reading_from_a_child_is_unpickled_from_the_pipe_never_gathered_whole():
    """The child's answer is unpickled as it comes out of the pipe: the server never holds
    the whole pickle beside the reading made from it (a whole-file reading of the 20,000-note
    benchmark piece is ~6 MB of pickle: that lay on top of the old and the new reading)."""
    import asyncio
    import tracemalloc

    from notegen.lsp.documents import DocumentView
    from notegen.lsp.whole_reading import _child_job, read_in_child

    notes = [":C4", ":E4", ":G4", ":r", ":A3", ":D5"]
    lines = ["a1=[]", "a2=[]"] + [
        f"a{1 + k % 2}[{k // 2}]=[" + ",".join(notes[(i + k) % 6] for i in range(40)) + "]"
        for k in range(600)
    ]
    view = DocumentView("file:///piece.rb", 1, "\n".join(lines) + "\n")
    blob = len(pickle.dumps(("ok", _child_job(None, view, True)), protocol=child.RESULT_PROTOCOL))
    assert blob > 1_000_000

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        reading, _diagnostics, _cost = asyncio.run(read_in_child(view, conditioned=True))
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sorted(reading.voices) == [1, 2] and len(reading.voices[1]) == 300
    assert peak - kept < blob, (peak - before, kept - before, blob)
