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
