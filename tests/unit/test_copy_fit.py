"""notegen_training.copy_fit: how much to trust the copy model, learned from melodies."""

from __future__ import annotations

from notegen.melody import Event
from notegen_training.copy_fit import fit_copy_mixture
from notegen_training.corpus import Melody


def _tune(i: int, repeats: int) -> Melody:
    phrase = [Event(60 + (i * 5 + k * 7) % 12, 0.5 if k % 2 else 1.0) for k in range(8)]
    return Melody(id=f"t{i}", events=phrase * repeats)


def test_tunes_that_repeat_their_phrases_teach_it_to_trust_long_matches(tiny):
    card, _ = tiny  # a random network: it cannot know the phrases, the copy model can
    mixture = fit_copy_mixture(card, [_tune(i, 4) for i in range(12)], max_order=6, buckets=7)
    assert mixture.pitch[0] == 0.0 and mixture.duration[0] == 0.0
    assert mixture.pitch[6] > 0.9 and mixture.duration[6] > 0.9


def test_tunes_that_never_repeat_leave_nothing_to_fit(tiny):
    card, _ = tiny
    mixture = fit_copy_mixture(card, [_tune(i, 1) for i in range(12)], max_order=6, buckets=7)
    assert mixture.pitch[5:] == (0.0, 0.0)
