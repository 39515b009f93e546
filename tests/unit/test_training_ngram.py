"""Interpolated Kneser-Ney on a corpus small enough to check by hand.

Corpus (token ids; 0 is <bos>, never predicted; the vocabulary is 0..3):
    [2, 3, 2, 3] and [2, 2]
"""

from __future__ import annotations

import numpy as np
import pytest
from notegen_training.ngram import KneserNey, cache_distributions

CORPUS = [np.array([2, 3, 2, 3]), np.array([2, 2])]


def test_unigram_on_the_hand_computed_case() -> None:
    # counts: 2 → 4, 3 → 2 (total 6, 2 types); no count of 1 → fallback discount 0.5.
    # P(w) = max(c - 0.5, 0) / 6 + 0.5 * 2 / 6 * 1/3   (uniform over the 3 non-<bos> tokens)
    model = KneserNey(1, 4).fit(CORPUS)
    probs = model.distributions(np.array([2]))[0]
    assert probs[0] == 0.0
    assert probs[1] == pytest.approx(1 / 18)
    assert probs[2] == pytest.approx(3.5 / 6 + 1 / 18)
    assert probs[3] == pytest.approx(1.5 / 6 + 1 / 18)


def test_bigram_on_the_hand_computed_case() -> None:
    # bigrams (with <bos> before each melody): (0,2)×2 (2,3)×2 (3,2)×1 (2,2)×1
    # → D2 = n1 / (n1 + 2 n2) = 2 / (2 + 2·2) = 1/3.
    # continuation counts of unigrams: 2 follows {0, 3, 2} → 3; 3 follows {2} → 1
    # → total 4, 2 types, no count of 2 → fallback discount 0.9:
    #   P1(2) = 2.1/4 + 0.9·2/4·1/3 = 0.675, P1(3) = 0.1/4 + 0.15 = 0.175, P1(1) = 0.15.
    model = KneserNey(2, 4).fit(CORPUS)
    probs = model.distributions(np.array([2, 3]))
    # position 0, context <bos>: c = 2 (one type): P(2|<bos>) = (2 - 1/3)/2 + (1/3 · 1/2) · 0.675
    assert probs[0, 2] == pytest.approx((2 - 1 / 3) / 2 + (1 / 6) * 0.675)
    # position 1, context 2: (2,3)×2, (2,2)×1, total 3, 2 types
    assert probs[1, 3] == pytest.approx((2 - 1 / 3) / 3 + (1 / 3 * 2 / 3) * 0.175)
    assert probs[1, 1] == pytest.approx((1 / 3 * 2 / 3) * 0.15)
    assert probs.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_unseen_context_backs_off_to_the_lower_order() -> None:
    model = KneserNey(3, 4).fit(CORPUS)
    # contexts (3, 3) and (1, 3) never occur: both fall back to the same bigram context (3)
    a = model.distributions(np.array([3, 3, 1]))[2]
    b = model.distributions(np.array([1, 3, 1]))[2]
    seen = model.distributions(np.array([2, 3, 1]))[2]  # (2, 3) occurs: its own counts
    assert a == pytest.approx(b)
    assert a[2] > 0.5 and seen[2] > a[2]  # after 3 comes 2 in the corpus, surer in context


def test_cache_makes_a_phrase_heard_earlier_in_the_melody_likely() -> None:
    model = KneserNey(2, 6).fit([np.array([2, 3, 4, 5]), np.array([5, 4, 3, 2])])
    phrase = np.array([2, 4, 3, 5, 2, 4, 3, 5])
    base = model.distributions(phrase)
    cached = cache_distributions(phrase, base, order=3, discount=0.5, weight=0.5)
    assert cached.sum(axis=1) == pytest.approx(np.ones(len(phrase)))
    second_time = np.arange(5, 8)
    gains = cached[second_time, phrase[5:]] / base[second_time, phrase[5:]]
    assert (gains > 1.5).all()
    assert cached[0] == pytest.approx(base[0])  # nothing heard yet
