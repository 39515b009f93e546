"""A quantized model loaded for two threads reads a lone row's stretch of notes on its second
session (two threads, faster) and gets exactly what one thread gets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from notegen.model import STRETCH_STEPS, MelodyModel

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"


@pytest.fixture(scope="module")
def models() -> tuple[MelodyModel, MelodyModel]:
    return MelodyModel.load(SHIPPED, threads=1), MelodyModel.load(SHIPPED, threads=2)


def test_only_a_quantized_model_on_two_threads_has_a_stretch_session(models):
    one, two = models
    assert one.quantized and two.quantized
    assert one.stretch_session is None
    assert two.stretch_session is not None


@pytest.mark.parametrize("steps", [1, STRETCH_STEPS - 1, STRETCH_STEPS, 100, 257])
def test_a_stretch_read_on_two_threads_is_what_one_thread_reads(models, steps):
    one, two = models
    rng = np.random.default_rng(steps)
    pitches = rng.integers(2, len(one.pitch_vocab), (1, steps))
    durations = rng.integers(1, len(one.duration_vocab), (1, steps))
    state = (
        rng.normal(0, 0.5, (one.layers, 1, one.units)).astype(np.float32),
        rng.normal(0, 1.0, (one.layers, 1, one.units)).astype(np.float32),
    )
    cond = rng.random((1, steps, one.cond_dim)).astype(np.float32)
    calls: list[int] = []
    run = two.stretch_session.run
    two.stretch_session.run = lambda *a: calls.append(steps) or run(*a)  # type: ignore[method-assign]
    try:
        got = two.step(pitches, durations, state, cond)
    finally:
        two.stretch_session.run = run  # type: ignore[method-assign]
    want = one.step(pitches, durations, state, cond)
    assert calls == ([steps] if steps >= STRETCH_STEPS else [])
    for a, b in zip(got[:2], want[:2], strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(got[2], want[2], strict=True):
        assert np.array_equal(a, b)
