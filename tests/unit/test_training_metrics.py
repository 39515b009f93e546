"""Bits per note on a hand-computed case: <bos> excluded, notes, rests and durations apart."""

from __future__ import annotations

import math

import numpy as np
import pytest
from notegen_training.metrics import Scores, log_softmax_without_bos

# Vocabulary of 4: <bos>, rest, note A, note B. Logits chosen so that, without <bos>,
# the probabilities are rest 1/4, A 1/2, B 1/4 — whatever large logit <bos> has.
LOGITS = np.array([[9.0, 0.0, math.log(2.0), 0.0]] * 3)


def test_bos_is_removed_before_normalising() -> None:
    probs = np.exp(log_softmax_without_bos(LOGITS[0]))
    assert probs.tolist() == pytest.approx([0.0, 0.25, 0.5, 0.25])


def test_bits_per_note_top_k_and_rests_on_a_hand_computed_case() -> None:
    scores = Scores()
    # targets: A (p 1/2 → 1 bit, rank 1), B (p 1/4 → 2 bits, ranks 2nd with rest → top-3 only
    # because rest ties it: rank = count strictly more likely = 1), rest (p 1/4 → 2 bits)
    scores.add_pitch(log_softmax_without_bos(LOGITS), np.array([2, 3, 1]))
    # durations: vocab <bos>, d1, d2 with p(d1) = 3/4, p(d2) = 1/4; targets d1, d2
    d_logits = np.array([[5.0, math.log(3.0), 0.0]] * 2)
    scores.add_duration(log_softmax_without_bos(d_logits), np.array([1, 2]))
    summary = scores.summary()
    assert summary["pitch_bits"] == pytest.approx((1 + 2) / 2)
    assert summary["notes"] == 2 and summary["rests"] == 1
    assert summary["rest_bits"] == pytest.approx(2.0)
    assert summary["pitch_and_rest_bits"] == pytest.approx((1 + 2 + 2) / 3, abs=1e-4)
    assert summary["pitch_top1"] == 0.5 and summary["pitch_top3"] == 1.0
    expected_duration = (-math.log2(3 / 4) - math.log2(1 / 4)) / 2  # 1.2075 bits
    assert summary["duration_bits"] == pytest.approx(expected_duration, abs=1e-4)


def test_scores_merge_and_empty_summaries() -> None:
    a, b = Scores(), Scores()
    a.add_pitch(log_softmax_without_bos(LOGITS[:1]), np.array([2]))
    b.add_pitch(log_softmax_without_bos(LOGITS[:1]), np.array([3]))
    a.merge(b)
    assert a.summary()["pitch_bits"] == pytest.approx(1.5)
    assert Scores().summary()["pitch_bits"] is None
