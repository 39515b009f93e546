"""``melody.shared``: one immutable event object per kind of note, as readings hold them."""

from __future__ import annotations

from notegen import melody
from notegen.melody import Event, shared


def test_the_same_values_give_the_same_event_and_equal_to_a_new_one() -> None:
    assert shared(60, 0.5) is shared(60, 0.5)
    assert shared(60, 0.5) == Event(60, 0.5) and shared(None, 1.0).is_rest


def test_values_of_another_type_give_another_event() -> None:
    """``60`` and ``60.0`` compare equal, but are written apart (``:C4`` against ``60.0``)."""
    assert type(shared(60.0, 1).pitch) is float and type(shared(60, 1).pitch) is int
    assert type(shared(60, 1.0).duration) is float and type(shared(60, 1).duration) is int


def test_past_its_bound_it_starts_again_and_still_gives_equal_events(monkeypatch) -> None:
    monkeypatch.setattr(melody, "SHARED_KINDS", 8)
    monkeypatch.setattr(melody, "_shared", {})
    made = [shared(60, k / 64) for k in range(20)]  # (a document of random durations)
    assert made == [Event(60, k / 64) for k in range(20)]
    assert len(melody._shared) <= 8
    assert shared(62, 0.5) is shared(62, 0.5)  # (what comes next is shared again)
