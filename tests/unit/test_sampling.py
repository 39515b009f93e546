"""notegen.model.sampling: key masks and seeded top-k/top-p sampling; beside them Sonic Pi's
scales (notegen.scales) and key detection (notegen.keys)."""

from __future__ import annotations

import numpy as np
import pytest
from notegen.keys import detect_key
from notegen.melody import Event
from notegen.model.sampling import (
    Sampler,
    ScaleError,
    parse_key,
    parse_scale,
    pitch_class_mask,
    scale_pitch_classes,
)
from notegen.scales import SCALES


@pytest.mark.parametrize(
    ("tonic", "scale", "classes"),
    [
        (0, ":major", {0, 2, 4, 5, 7, 9, 11}),
        (9, ":minor", {9, 11, 0, 2, 4, 5, 7}),
        (9, "minor_pentatonic", {9, 0, 2, 4, 7}),
        (2, ":dorian", {2, 4, 5, 7, 9, 11, 0}),
        (0, ":major_pentatonic", {0, 2, 4, 7, 9}),
        (0, ":blues_minor", {0, 3, 5, 6, 7, 10}),
        (0, ":chromatic", set(range(12))),
    ],
)
def test_sonic_pi_scales(tonic, scale, classes):
    assert scale_pitch_classes(tonic, scale) == frozenset(classes)


def test_the_table_is_sonic_pis():
    assert len(SCALES) > 140  # every name Sonic Pi 4 knows, makams included
    for name, intervals in SCALES.items():
        if name not in ("evic", "evic_2", "bayati_2", "isfahan_2", "hicaz_humayun_2"):
            assert sum(intervals) == pytest.approx(12, abs=1.2) or sum(intervals) > 12, name


def test_keys_and_scales_are_parsed_like_sonic_pi():
    assert parse_key(":eb") == 3 and parse_key("Fs3") == 6 and parse_key(61) == 1
    assert parse_scale(":Minor_Pentatonic") == "minor_pentatonic"
    with pytest.raises(ScaleError, match=r"unknown Sonic Pi scale :majestic"):
        parse_scale(":majestic")
    with pytest.raises(ScaleError, match="not a note name"):
        parse_key(":h")
    with pytest.raises(ScaleError, match="rest"):
        parse_key(":r")


def test_mask_keeps_scale_notes_and_unconstrained_entries():
    mask = pitch_class_mask([None, None, 60, 61, 62, 63, 64], 0, "major")
    assert mask.tolist() == [True, True, True, False, True, False, True]


def test_krumhansl_schmuckler_finds_the_key():
    e_minor = [64, 66, 67, 69, 71, 72, 74, 76, 71, 67, 64, 64]
    assert detect_key([Event(m, 1.0) for m in e_minor]).name == ":e, :minor"
    g_major = [67, 71, 74, 79, 78, 76, 74, 72, 71, 69, 67, 67]
    assert detect_key([Event(m, 1.0) for m in g_major]).name == ":g, :major"
    assert detect_key([Event(None, 1.0)]) is None


def test_the_detected_key_never_excludes_notes_the_user_wrote():
    # E♭ F G A♭ B♭ C: correlation alone picked B♭ major (no A♭), so the mask forbade A♭.
    tune = [(63, 0.5), (65, 0.5), (67, 0.5), (68, 0.5), (70, 1), (72, 0.5), (70, 0.5)]
    tune += [(68, 0.5), (67, 0.5), (65, 1)]
    key = detect_key([Event(m, d) for m, d in tune])
    assert key is not None
    assert {m % 12 for m, _ in tune} <= scale_pitch_classes(key.tonic, key.scale)


def _weighted(counts: dict[int, int], final: int) -> list[Event]:
    """A tune with ``counts`` quarter notes of each MIDI pitch, ending on ``final``."""
    events = [Event(m, 1.0) for m, n in counts.items() for _ in range(n)]
    return [*events, Event(final, 2.0)]


def test_a_major_tune_with_some_flat_sevenths_is_still_major():
    # a film theme in C: C 345, B-flat 45, B 16 (scale coverage alone chose F major)
    tune = {60: 345, 62: 120, 64: 150, 65: 90, 67: 200, 69: 80, 70: 45, 71: 16}
    assert detect_key(_weighted(tune, 60)).name == ":c, :major"


def test_a_mixolydian_pipe_tune_keeps_its_tonic():
    # G A B C D E F, no F-sharp: the chanter's scale; C major was chosen before
    tune = {67: 200, 69: 120, 71: 150, 72: 80, 74: 160, 76: 90, 77: 60, 79: 70}
    key = detect_key(_weighted(tune, 67))
    assert (key.tonic, key.scale) in ((7, "mixolydian"), (7, "major"))


LOGITS = np.log(np.array([0.0001, 0.5, 0.3, 0.15, 0.0499]))


def test_same_seed_same_draws_other_seed_other_draws():
    draws = [Sampler(seed=7).sample(LOGITS) for _ in range(1)]
    a = Sampler(seed=7)
    b = Sampler(seed=7)
    c = Sampler(seed=8)
    seq_a = [a.sample(LOGITS) for _ in range(50)]
    assert seq_a == [b.sample(LOGITS) for _ in range(50)]
    assert seq_a != [c.sample(LOGITS) for _ in range(50)]
    assert draws[0] == seq_a[0]


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    p = Sampler(top_p=0.8).distribution(LOGITS)
    assert np.flatnonzero(p).tolist() == [1, 2]  # 0.5 + 0.3 reaches 0.8
    np.testing.assert_allclose(p[[1, 2]], [0.5 / 0.8, 0.3 / 0.8])
    assert np.flatnonzero(Sampler(top_p=0.1).distribution(LOGITS)).tolist() == [1]


def test_top_k_and_temperature():
    assert np.flatnonzero(Sampler(top_k=2).distribution(LOGITS)).tolist() == [1, 2]
    hot = Sampler(temperature=2.0).distribution(LOGITS)
    cold = Sampler(temperature=0.5).distribution(LOGITS)
    assert hot[1] < 0.5 < cold[1]
    assert Sampler(temperature=0).sample(LOGITS) == 1


def test_mask_applies_before_sampling():
    mask = np.array([True, False, True, True, True])
    draws = {Sampler(seed=s).sample(LOGITS, mask) for s in range(100)}
    assert 1 not in draws and draws <= {0, 2, 3, 4}


def test_sampling_follows_the_distribution():
    s = Sampler(seed=0)
    counts = np.bincount([s.sample(LOGITS) for _ in range(4000)], minlength=5) / 4000
    np.testing.assert_allclose(counts, np.exp(LOGITS), atol=0.03)


@pytest.mark.parametrize(
    "kwargs", [{"temperature": -1}, {"top_p": 0}, {"top_p": 1.5}, {"top_k": -2}]
)
def test_bad_sampler_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Sampler(**kwargs)


def test_masked_notes_fold_onto_the_nearest_scale_note_on_the_same_side() -> None:
    from notegen.model.sampling import fold_masked

    # vocabulary: <bos>, rest, C4..E4 (60..64); C major allows C, D, E
    midi = np.array([np.nan, np.nan, 60, 61, 62, 63, 64], np.float64)
    allowed = np.array([False, True, True, False, True, False, True])
    probs = np.array([0.0, 0.1, 0.2, 0.3, 0.1, 0.2, 0.1])
    folded = fold_masked(probs, allowed, midi, previous=60.0)
    # C#4 and D#4 are steps up from C4: their mass goes up (D#4, half-way, to the lower
    # of D4 and E4), never onto the repeated C4
    assert folded.tolist() == pytest.approx([0.0, 0.1, 0.2, 0.0, 0.6, 0.0, 0.1])
    from_e = fold_masked(probs, allowed, midi, previous=64.0)
    assert from_e.tolist() == pytest.approx([0.0, 0.1, 0.5, 0.0, 0.3, 0.0, 0.1])


@pytest.mark.parametrize("temperature", [0.0, 0.3, 0.7, 1.5])
def test_temperature_sharpens_repeat_or_move_apart_from_which_move(temperature: float) -> None:
    logits = np.log(np.array([0.05, 0.35, 0.25, 0.2, 0.15]))  # index 1 is the last note
    p = Sampler(temperature=temperature).distribution(logits, keep=1)
    if temperature == 0:
        assert p.tolist() == [0, 0, 1, 0, 0]  # the repeat is not above one half: best move
    else:
        # the two-way choice at temperature T: 0.35^(1/T) against 0.65^(1/T)
        a, b = 0.35 ** (1 / temperature), 0.65 ** (1 / temperature)
        assert p[1] == pytest.approx(a / (a + b))
        assert p.sum() == pytest.approx(1.0)
        moves = p[[0, 2, 3, 4]]
        assert np.argmax(moves) == 1  # the likeliest move stays the likeliest
    dominant = np.log(np.array([0.1, 0.6, 0.1, 0.1, 0.1]))
    assert Sampler(temperature=0).distribution(dominant, keep=1)[1] == 1.0
    # the repeat's own share can be given (generation: the network's, without the copy model)
    given = Sampler(temperature=1.0).distribution(logits, keep=1, share=0.1)
    assert given[1] == pytest.approx(0.1)


@pytest.mark.parametrize("temperature", [5e-4, 1e-4, 1e-7])
@pytest.mark.parametrize(("repeat_logit", "greedy"), [(2.0, 1), (-2.0, 0)])
def test_a_tiny_temperature_draws_as_greedy_does(
    temperature: float, repeat_logit: float, greedy: int
) -> None:
    """Both ``share ** (1/T)`` terms underflow below T ~ 1e-3 (0 / 0 was a ZeroDivisionError
    in every completion once the setting was made): the limit is greedy's choice."""
    logits = np.array([0.0, repeat_logit, -1.0, -3.0])
    tiny = Sampler(temperature=temperature, seed=1).distribution(logits, keep=1)
    zero = Sampler(temperature=0.0, seed=1).distribution(logits, keep=1)
    assert np.all(np.isfinite(tiny)) and tiny.sum() == pytest.approx(1.0)
    assert int(np.argmax(tiny)) == int(np.argmax(zero))
    assert (int(np.argmax(tiny)) == 1) == bool(greedy)
