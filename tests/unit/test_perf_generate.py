"""Long blocks are sampled as parallel rows: same distributions, fewer model calls.

A 5,000-note block is generated as up to 16 batch rows, one model call per step for all of
them; a short block stays one continuous row. These tests pin what that must not change:
every row is drawn from the distribution a single-row generation draws from (mask,
temperature, top-k, top-p and the within-melody copy mixture), the result is reproducible,
and the rows land on section boundaries of the written block. A long continuation
(continueMelody) is sampled the same way, and each row hears the other voices from where it
is expected to start.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from notegen.melody import Event
from notegen.model.copying import CopyIndex, CopyMixture, mix_indexed
from notegen.model.generate import (
    SECTION_NOTES,
    _mix_rows,
    block_row_sizes,
    generate,
    generate_block,
    generate_long,
    generate_rows,
    parallel_rows,
    row_distributions,
)
from notegen.model.generate_options import GenerateOptions
from notegen.model.sampling import Sampler, scale_pitch_classes
from notegen.sonicpi import read

CONTEXT = [Event(60, 0.5), Event(62, 0.5), Event(64, 1.0), Event(None, 1.0), Event(67, 2.0)]
MIXTURE = CopyMixture(max_order=6, pitch=(0.0, 0.2, 0.4, 0.6), duration=(0.0, 0.1, 0.3, 0.5))


@pytest.fixture
def mixed_model(tiny, tmp_path):
    from notegen.model.network import MelodyModel

    card_path, _ = tiny
    card = json.loads(card_path.read_text())
    card["copy_mixture"] = MIXTURE.to_card()
    card["onnx"] = str(card_path.with_suffix(".onnx").resolve())
    (tmp_path / "mixed.json").write_text(json.dumps(card))
    return MelodyModel.load(tmp_path / "mixed.json")


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [(1.0, 0, 1.0), (0.7, 0, 0.9), (1.3, 5, 1.0), (1.0, 3, 0.5), (0.0, 0, 0.95)],
)
def test_each_row_is_drawn_from_the_single_row_distribution(temperature, top_k, top_p):
    rng = np.random.default_rng(1)
    logits = np.log(rng.dirichlet(np.full(30, 0.3), size=6))
    logits[:, 0] = -1e9
    mask = rng.random(30) < 0.6
    mask[0] = False
    sampler = Sampler(temperature=temperature, top_k=top_k, top_p=top_p)
    batched = row_distributions(logits, mask, sampler)
    for row, expected in zip(batched, logits, strict=True):
        np.testing.assert_allclose(row, sampler.distribution(expected, mask), atol=1e-12)


def test_the_batched_copy_mixture_equals_the_per_row_one():
    vp, vd = 12, 5
    rng = np.random.default_rng(2)
    histories = [[7, 8, 7, 8, 7], [1, 2, 3], [9, 9, 9, 9], [4, 11, 4, 12, 4, 11, 4]]
    copies = [CopyIndex(MIXTURE.max_order, h) for h in histories]
    lp = np.log(rng.dirichlet(np.ones(vp), size=len(histories)))
    ld = np.log(rng.dirichlet(np.ones(vd), size=len(histories)))
    got_p, got_d = _mix_rows(MIXTURE, lp, ld, copies)
    for r, index in enumerate(copies):
        want_p, want_d = mix_indexed(MIXTURE, lp[r], ld[r], index)
        np.testing.assert_allclose(got_p[r], want_p, atol=1e-12)
        np.testing.assert_allclose(got_d[r], want_d, atol=1e-12)


def test_rows_cost_one_model_call_per_step_for_all_rows(mixed_model, monkeypatch):
    calls = []
    original = mixed_model.step
    monkeypatch.setattr(
        mixed_model, "step", lambda *a, **k: calls.append(a[0].shape) or original(*a, **k)
    )
    rows = generate_rows(mixed_model, CONTEXT, [40, 40, 38], seed=5, top_p=0.9)
    assert [len(r) for r in rows] == [40, 40, 38]
    assert len(calls) == 39 and all(shape == (3,) for shape in calls)


def test_rows_are_reproducible_and_differ_from_each_other(mixed_model):
    a = generate_rows(mixed_model, CONTEXT, [60] * 4, seed=9, tonic=2, scale="dorian")
    assert a == generate_rows(mixed_model, CONTEXT, [60] * 4, seed=9, tonic=2, scale="dorian")
    assert a != generate_rows(mixed_model, CONTEXT, [60] * 4, seed=10, tonic=2, scale="dorian")
    assert len({tuple(r) for r in a}) == 4
    allowed = scale_pitch_classes(2, "dorian")
    assert all(ev.pitch is None or ev.pitch % 12 in allowed for r in a for ev in r)
    assert all(ev.duration in mixed_model.duration_vocab[1:] for r in a for ev in r)


def test_a_short_block_is_one_continuous_row_and_a_long_one_is_split_at_sections():
    assert block_row_sizes(200, 3) == [197]
    assert parallel_rows(2 * 320 - 1) == 1
    sizes = block_row_sizes(5000, 7)
    assert len(sizes) == 15 and sum(sizes) == 5000 - 7
    starts = np.cumsum([7, *sizes[:-1]])
    assert all(start % SECTION_NOTES == 0 for start in starts[1:])


def test_a_long_block_reads_back_with_every_generated_note(mixed_model):
    options = GenerateOptions(length=1500, seed=4, key=":c", scale="major")
    block = generate_block(mixed_model, options, voice=2)
    assert block == generate_block(mixed_model, options, voice=2)
    arrays = [a for a in read(block.text) if a.kind == "voice"]
    assert [t.midi for a in arrays for t in a.notes] == [ev.pitch for ev in block.events]
    assert len(block.events) == 1500


def test_a_phrase_is_the_start_of_the_long_generation_with_the_same_seed(mixed_model):
    # Phrases query the copy model without an index, long runs keep one: same matches, so
    # the same seed draws the same events.
    melody = CONTEXT * 3
    long = generate(mixed_model, melody, 80, seed=11, top_p=0.9)
    assert generate(mixed_model, melody, 20, seed=11, top_p=0.9) == long[:20]


def test_a_continuation_shorter_than_two_rows_is_one_continuous_row(mixed_model):
    count = 2 * 320 - 1
    assert generate_long(mixed_model, CONTEXT, count, seed=4, top_p=0.9) == generate(
        mixed_model, CONTEXT, count, seed=4, top_p=0.9
    )


def test_a_long_continuation_is_its_rows_one_after_another(mixed_model, monkeypatch):
    calls = []
    original = mixed_model.step
    monkeypatch.setattr(
        mixed_model, "step", lambda *a, **k: calls.append(a[0].shape) or original(*a, **k)
    )
    made = generate_long(mixed_model, CONTEXT, 1001, seed=4, top_p=0.9)
    assert len(made) == 1001
    assert len(calls) == 333 and set(calls) == {(3,)}  # 333 + 334 + 334 notes in 3 rows
    rows = generate_rows(mixed_model, CONTEXT, [333, 334, 334], seed=4, top_p=0.9)
    assert made == [event for row in rows for event in row]
    assert made != generate_long(mixed_model, CONTEXT, 1001, seed=5, top_p=0.9)


def test_each_row_hears_the_other_voices_from_where_the_rows_before_it_end(tmp_path, monkeypatch):
    """Rows are consecutive: row r starts after the rows before it, at the context's mean
    length per event (here 1 beat), not where the first row does."""
    from fixtures.tiny_model import build_tiny_model
    from notegen.model import conditioning
    from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
    from notegen.model.network import MelodyModel

    model = MelodyModel.load(build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)[0])
    context = [Event(60, 0.5), Event(62, 1.5), Event(64, 1.0)]  # 3 beats, 1 a note
    setting = Setting(others=(VoiceTimes.of([Event(48, 4.0)] * 400),), start=8.0)
    heard = []
    original = conditioning.condition_rows
    monkeypatch.setattr(
        conditioning,
        "condition_rows",
        lambda times, *a, **k: heard.append(np.array(times)) or original(times, *a, **k),
    )
    rows = generate_rows(model, context, [320, 320, 320], seed=2, setting=setting)
    played = np.array([row[0].duration for row in rows])
    first_step = next(times for times in heard if len(times) == 3)  # (after the context's 4)
    np.testing.assert_allclose(first_step, 8.0 + 3.0 + np.array([0.0, 320.0, 640.0]) + played)
