"""notegen.model.copying: the within-melody copy model and its mixture with the network."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from notegen.melody import Event
from notegen.model.context_cache import ContextCache
from notegen.model.copying import (
    CopyIndex,
    CopyMixture,
    fit_lambdas,
    match_length,
    mix_sequence,
    mix_step,
)
from notegen.model.generate import generate


def test_the_longest_repeated_suffix_predicts_what_followed_it():
    # C D E C D | ? — "C D" was followed by E before.
    length, nexts = match_length(np.array([1, 2, 3, 1, 2]), max_order=8)
    assert length == 2 and nexts.tolist() == [3]


def test_no_repeat_means_no_copy():
    assert match_length(np.array([1, 2, 3, 4]), max_order=8)[0] == 0
    assert match_length(np.array([5]), max_order=8)[0] == 0


def test_matches_are_capped_at_max_order():
    history = np.array([1, 2, 3, 4, 9, 1, 2, 3, 4])
    assert match_length(history, max_order=2) == (2, np.array([9]))
    assert match_length(history, max_order=8)[0] == 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=40), st.integers(1, 6))
def test_incremental_index_agrees_with_the_vectorised_query(tokens, order):
    index = CopyIndex(order)
    for t in range(len(tokens) + 1):
        length, nexts = match_length(np.array(tokens[:t], dtype=np.int64), order)
        got_length, follow = index.query()
        assert got_length == length
        assert (follow or {}) == dict(Counter(nexts.tolist()))
        if t < len(tokens):
            index.append(tokens[t])


def test_em_trusts_a_copy_model_that_is_right_and_ignores_one_that_is_wrong():
    n = 2000
    lengths = np.full(n, 3)
    right = fit_lambdas(np.full(n, 0.1), np.ones(n), lengths, buckets=5)
    wrong = fit_lambdas(np.full(n, 0.1), np.zeros(n), lengths, buckets=5)
    assert right[0] == 0.0 and right[3] > 0.99
    assert wrong[3] < 0.01


MIXTURE = CopyMixture(max_order=6, pitch=(0.0, 0.2, 0.4, 0.6), duration=(0.0, 0.1, 0.3, 0.5))


def test_scoring_a_melody_equals_the_step_by_step_served_distribution(model):
    rng = np.random.default_rng(0)
    vp, vd = len(model.pitch_vocab), len(model.duration_vocab)
    ids = np.array([2 * vd + 1, 3 * vd + 2, 2 * vd + 1, 3 * vd + 2, 4 * vd + 1, 2 * vd + 1])
    lp = np.log(rng.dirichlet(np.ones(vp), size=len(ids) + 1))
    ld = np.log(rng.dirichlet(np.ones(vd), size=len(ids) + 1))
    whole_p, whole_d = mix_sequence(MIXTURE, lp, ld, ids)
    for t in range(len(ids) + 1):
        step_p, step_d = mix_step(MIXTURE, lp[t], ld[t], ids[:t])
        np.testing.assert_allclose(whole_p[t], step_p, atol=1e-9)
        np.testing.assert_allclose(whole_d[t], step_d, atol=1e-9)
    # Probabilities still sum to one after mixing.
    np.testing.assert_allclose(np.exp(whole_p).sum(axis=1), 1.0, atol=1e-9)


@pytest.fixture
def mixed_model(tiny, tmp_path):
    """The tiny model with a copy mixture in its card."""
    from notegen.model.network import MelodyModel

    card_path, _ = tiny
    card = json.loads(card_path.read_text())
    card["copy_mixture"] = MIXTURE.to_card()
    card["onnx"] = str(card_path.with_suffix(".onnx").resolve())
    (tmp_path / "mixed.json").write_text(json.dumps(card))
    return MelodyModel.load(tmp_path / "mixed.json")


def test_a_repeated_phrase_makes_its_continuation_more_likely(model, mixed_model):
    phrase = [Event(60, 0.5), Event(62, 0.5), Event(64, 1.0), Event(65, 0.5)]
    events = phrase * 2 + phrase[:3]  # ... C D E | next was F before
    f = mixed_model.pitch_id(65)
    plain, _ = model.log_probs(events)
    mixed, _ = mixed_model.log_probs(events)
    assert mixed[-1, f] > plain[-1, f]


def test_completion_ranking_and_scoring_serve_the_same_distribution(mixed_model):
    events = [Event(60, 0.5), Event(62, 0.5), Event(60, 0.5), Event(62, 0.5), Event(64, 1.0)]
    lp, ld = mixed_model.log_probs(events)
    primed = ContextCache(mixed_model).prime(events)
    np.testing.assert_allclose(primed.pitch_logits, lp[-1], atol=1e-5)
    np.testing.assert_allclose(primed.dur_logits, ld[-1], atol=1e-5)


def test_generation_with_a_mixture_is_reproducible(mixed_model):
    context = [Event(60, 0.5), Event(62, 0.5), Event(64, 1.0)]
    a = generate(mixed_model, context, 200, seed=3)
    assert a == generate(mixed_model, context, 200, seed=3)


def test_sampling_uses_damped_weights_and_keeps_the_fitted_ones_for_ranking():
    sampling = MIXTURE.for_sampling()
    assert sampling.pitch == tuple(x * MIXTURE.sampling_scale for x in MIXTURE.pitch)
    assert CopyMixture.from_card({"copy_mixture": MIXTURE.to_card()}) == MIXTURE


def test_generated_melodies_with_the_shipped_model_do_not_collapse_into_one_note():
    """At full copy weight one seed repeated a single pitch for all 200 notes; real tunes'
    longest run of one pitch is at most 13 (validation tunes of 100+ notes)."""
    import itertools
    from pathlib import Path

    from notegen.model.network import MelodyModel

    shipped = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
    model = MelodyModel.load(shipped)
    assert model.mixture is not None
    context = [Event(p, 0.5) for p in (64, 62, 60, 62, 64, 64, 64)]
    for seed in range(6):
        pitches = [e.pitch for e in generate(model, context, 200, seed=seed, top_p=0.95)]
        longest = max(len(list(run)) for _, run in itertools.groupby(pitches))
        assert longest <= 16, (seed, longest)
