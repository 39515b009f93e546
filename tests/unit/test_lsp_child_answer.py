"""A child process's answer on the wire: a pickle, then every array's data in one block."""

from __future__ import annotations

import numpy as np
import pytest
from notegen.conditioning import VoiceTimes
from notegen.lsp.child import BUFFER_ALIGN, ChildFailed, _result, decode_answer, encode_answer


def _answer() -> tuple[str, dict[str, object]]:
    voice = VoiceTimes(np.array([0.0, 0.5]), np.array([0.5, 1.5]), np.array([60.0, np.nan]))
    return (
        "ok",
        {
            "voice": voice,
            "small": np.arange(3, dtype=np.int8),
            "grid": np.arange(6, dtype=np.float32).reshape(2, 3),
            "strided": np.arange(10)[::2],  # not contiguous: pickled in band
            "text": "a1 = [:C4]",
        },
    )


def _bases(array: np.ndarray) -> object:
    """The object at the end of an array's chain of bases (the memory it views)."""
    base: object = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_an_answer_comes_back_as_it_was_sent() -> None:
    sent = _answer()
    kind, got = decode_answer(encode_answer(sent))
    assert kind == "ok"
    assert got["text"] == "a1 = [:C4]"
    for name in ("small", "grid", "strided"):
        np.testing.assert_array_equal(got[name], sent[1][name])
        assert got[name].dtype == sent[1][name].dtype
    np.testing.assert_array_equal(got["voice"].pitches, sent[1]["voice"].pitches)
    np.testing.assert_array_equal(got["voice"].ends, [0.5, 1.5])


def test_every_contiguous_array_is_a_writable_view_of_one_block() -> None:
    _kind, got = decode_answer(encode_answer(_answer()))
    arrays = [got["small"], got["grid"], got["voice"].onsets, got["voice"].pitches]
    blocks = {id(_bases(a)) for a in arrays}
    assert len(blocks) == 1
    assert isinstance(_bases(arrays[0]), bytearray)
    for array in arrays:
        assert array.flags.writeable
    got["grid"][0, 0] = 7.0  # the block is the answer's own
    assert got["grid"][0, 0] == 7.0


def test_each_array_starts_aligned_in_the_block() -> None:
    _kind, got = decode_answer(encode_answer(_answer()))
    arrays = [got["small"], got["grid"], got["voice"].onsets, got["voice"].ends]
    starts = sorted(a.ctypes.data for a in arrays)
    assert all((s - starts[0]) % BUFFER_ALIGN == 0 for s in starts)


@pytest.mark.parametrize("cut", [4, 20, -1])
def test_a_truncated_answer_is_a_failure_of_the_child_not_a_crash(cut: int) -> None:
    wire = encode_answer(_answer())
    with pytest.raises(ChildFailed, match="without a result"):
        _result(0, wire[:cut], b"")


def test_a_child_s_error_answer_is_its_message() -> None:
    wire = encode_answer(("error", "work", "ValueError: no voices"))
    with pytest.raises(ChildFailed, match="no voices"):
        _result(0, wire, b"")
