"""Durations that hear the piece: the rhythm experts mixed into the served durations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures.tiny_model import DEFAULT_DURATIONS, build_tiny_model
from notegen.melody import Event
from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
from notegen.model.context_cache import ContextCache
from notegen.model.ensemble import document_lines, document_setting
from notegen.model.generate import generate
from notegen.model.network import MelodyModel
from notegen.model.rhythm import (
    EXPERTS,
    LENGTH_EDGES,
    MatchIndex,
    RhythmMixture,
    bucket,
    expert_marginals,
    longest_match,
    rhythm_context,
)

DURATIONS = np.array(DEFAULT_DURATIONS)
DOTTED = """\
a1[0]=[:c4, :d4, :e4, :f4, :g4, :a4]
b1[0]=[0.75, 0.25, 0.75, 0.25, 1.5, 0.5]
a2[0]=[:e4, :f4, :g4, :a4, :b4, :c5]
b2[0]=[0.75, 0.25, 0.75, 0.25, 1.5, 0.5]
"""
FUGUE = """\
a1[0]=[:c4, :d4, :e4, :f4, :g4, :r, :r]
b1[0]=[2, 1, 1, 0.5, 0.5, 3, 4]
a2[0]=[:r, :r, :g4, :a4, :b4, :c5]
b2[0]=[4, 4, 2, 1, 1, 0.5]
"""


def index(*beats: float) -> np.ndarray:
    """Duration indices (0-based in the vocabulary's durations) of these beats."""
    return np.array([int(np.flatnonzero(b == DURATIONS)[0]) for b in beats])


def distribution(q: np.ndarray | None) -> dict[float, float]:
    assert q is not None
    return {float(DURATIONS[i]): float(q[i]) for i in np.flatnonzero(q)}


def test_a_voice_hears_the_duration_of_the_note_that_starts_with_it() -> None:
    setting = document_setting(DOTTED, 2)
    context = rhythm_context(setting, DURATIONS)
    # voice 2 has played 0.75, 0.25; its third note starts at beat 1, with voice 1's E4 (0.75)
    same, _, _ = expert_marginals(index(0.75, 0.25), 1.0, context, len(DURATIONS), 16)
    assert distribution(same) == {0.75: 1.0}
    # at beat 2.5 (inside voice 1's 1.5-beat G4) no note of voice 1 starts
    same, _, _ = expert_marginals(index(0.75, 0.25, 0.75, 0.25), 2.5, context, 8, 16)
    assert same is None


def test_a_voice_repeats_its_own_rhythm_under_new_notes() -> None:
    own = index(1.0, 0.5, 0.5, 1.0, 0.5)
    _, (length, q), _ = expert_marginals(own, 3.5, None, len(DURATIONS), 16)
    assert length == 2 and distribution(q) == {0.5: 1.0}
    assert longest_match(own, own, 16, before=len(own))[0] == 2
    _, (length, q), _ = expert_marginals(index(1.0, 0.5), 1.5, None, len(DURATIONS), 16)
    assert length == 0 and q is None  # nothing earlier to copy


def test_an_entry_takes_the_subject_s_rhythm_from_the_voice_that_played_it() -> None:
    """Voice 2 enters at beat 8 with voice 1's subject (2, 1, 1, 0.5, 0.5)."""
    setting = document_setting(FUGUE, 2)
    context = rhythm_context(setting, DURATIONS)
    own = index(4, 4, 2, 1, 1)
    _, _, (length, q) = expert_marginals(own, 12.0, context, len(DURATIONS), 16)
    assert length == 3 and distribution(q) == {0.5: 1.0}


def test_a_card_round_trips_its_rhythm_mixture() -> None:
    weights = np.random.default_rng(0).dirichlet(np.ones(4), (2, 5, 5))
    mixture = RhythmMixture(16, weights)
    again = RhythmMixture.from_card({"rhythm_mixture": mixture.to_card()})
    assert again is not None and np.allclose(again.weights, weights, atol=1e-6)
    assert RhythmMixture.from_card({}) is None
    with pytest.raises(ValueError):
        RhythmMixture.from_card({"rhythm_mixture": {"max_order": 4, "weights": [[0.5, 0.5]]}})
    sampling = mixture.for_sampling(0.5)
    own = EXPERTS.index("own")
    assert np.allclose(sampling.weights[..., own], weights[..., own] / 2)
    assert np.allclose(sampling.weights.sum(axis=-1), 1.0)


def with_rhythm(card: Path, directory: Path, same: float = 0.6) -> Path:
    """A copy of a tiny model whose card trusts the ``same`` expert where it speaks."""
    directory.mkdir(exist_ok=True)
    spec = json.loads(card.read_text())
    shutil.copy(card.with_suffix(".onnx"), directory / card.with_suffix(".onnx").name)
    b = len(LENGTH_EDGES) + 1
    weights = np.tile([1.0, 0.0, 0.0, 0.0], (2, b, b, 1))
    weights[1, ..., 0], weights[1, ..., 1] = 1.0 - same, same
    spec["rhythm_mixture"] = RhythmMixture(16, weights).to_card()
    out = directory / card.name
    out.write_text(json.dumps(spec))
    return out


@pytest.fixture
def rhythmic(tiny, tmp_path) -> MelodyModel:
    return MelodyModel.load(with_rhythm(tiny[0], tmp_path / "rhythm"))


def test_the_served_durations_follow_the_other_voice(model, rhythmic) -> None:
    """Voice 2 of the dotted piece, read as the server reads it: each duration is at least
    the ``same`` weight likely, where the card's network alone gives it far less."""
    (_, voice2) = document_lines(DOTTED)
    setting = document_setting(DOTTED, 2)
    _, plain = model.log_probs(voice2.events, setting)
    _, served = rhythmic.log_probs(voice2.events, setting)
    truth = [rhythmic.duration_id(e.duration) for e in voice2.events]
    p_served = np.exp(served[np.arange(len(truth)), truth])
    p_plain = np.exp(plain[np.arange(len(truth)), truth])
    assert (p_served >= 0.6).all()
    assert (p_served > p_plain).all()
    # alone (no other voice) the card's model is unchanged: the same notes, nothing heard
    _, alone = rhythmic.log_probs(voice2.events[:2])
    assert np.allclose(alone, model.log_probs(voice2.events[:2])[1])


def test_evaluation_scores_the_served_durations(rhythmic) -> None:
    from notegen_training.corpus import Melody
    from notegen_training.evaluate import score_stateful

    (_, voice2) = document_lines(DOTTED)
    setting = document_setting(DOTTED, 2)
    card = rhythmic.path.with_suffix(".json")
    scores = score_stateful(card, [Melody("dotted#a2", voice2.events)], [setting])
    _, served = rhythmic.log_probs(voice2.events, setting)
    truth = [rhythmic.duration_id(e.duration) for e in voice2.events]
    rows = served[: len(truth), 1:]
    rows = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
    bits = -rows[np.arange(len(truth)), np.array(truth) - 1].mean() / np.log(2)
    assert scores["model"].summary()["duration_bits"] == pytest.approx(bits, abs=1e-3)


def test_a_cached_context_hears_the_other_voice_s_new_rhythm(tiny, tmp_path) -> None:
    """Voice 1's third note becomes 1.5 beats long: what sounds at voice 2's onsets (the
    cache's key) is unchanged, but the duration voice 2 is offered follows the edit."""
    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    model = MelodyModel.load(with_rhythm(card, tmp_path / "rhythm", same=0.9))
    before = [Event(60, 0.75), Event(62, 0.25), Event(64, 0.75), Event(65, 2.0)]
    after = [Event(60, 0.75), Event(62, 0.25), Event(64, 1.5), Event(65, 1.25)]
    mine = [Event(64, 0.75), Event(65, 0.25)]
    cache = ContextCache(model)
    ids = cache.ids(mine)
    for voice1, expected in ((before, 0.75), (after, 1.5)):
        setting = Setting(others=(VoiceTimes.of(voice1),))
        primed = cache.prime_ids(ids, (), setting)
        assert model.duration_of(int(primed.dur_logits.argmax())) == expected
    assert cache.hits == 1


def test_a_context_primed_again_in_its_setting_is_served_as_priming_it_anew(tiny, tmp_path) -> None:
    """A completion primes its context to rank the notes, then again for its phrase: the
    second time (the rhythm experts' answer kept from the first) gives what redoing the
    experts on the cached entry gives (another context primed in between)."""
    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    model = MelodyModel.load(with_rhythm(card, tmp_path / "rhythm", same=0.9))
    voice1 = [Event(60, 0.75), Event(62, 0.25), Event(64, 1.5), Event(65, 1.25)]
    setting = Setting(others=(VoiceTimes.of(voice1),))
    kept, redone = ContextCache(model), ContextCache(model)
    ids = kept.ids([Event(64, 0.75), Event(65, 0.25), Event(67, 0.5)])
    first = kept.prime_ids(ids, (), setting)
    again = kept.prime_ids(ids, (), setting)
    redone.prime_ids(ids, (), setting)
    redone.prime_ids(ids[:2], (), setting)
    anew = redone.prime_ids(ids, (), setting)
    assert kept.hits == 1 and redone.hits == 1  # (ids[:2] was never primed itself)
    for primed in (first, again):
        assert np.array_equal(primed.dur_logits, anew.dur_logits)
        assert np.array_equal(primed.pitch_logits, anew.pitch_logits)
        assert primed.time == anew.time and primed.length == anew.length
        assert np.array_equal(primed.history, anew.history)


def test_a_generated_voice_takes_the_piece_s_rhythm(rhythmic) -> None:
    """A new voice against the dotted piece: its durations are the piece's far more often
    than the same model's without the rhythm experts."""
    setting = document_setting(DOTTED, None)
    onsets = {0.0, 0.75, 1.0, 1.75, 2.0, 3.5, 4.0}  # the piece's

    def on_grid(model: MelodyModel, seed: int) -> int:
        events = generate(model, [], 6, seed=seed, setting=setting)
        ends = np.cumsum([e.duration for e in events])
        return sum(round(float(x), 6) in onsets for x in ends[:-1])

    plain = MelodyModel.load(rhythmic.path.with_suffix(".json"))
    plain.rhythm = plain.sampling_rhythm = None
    with_rhythm_hits = sum(on_grid(rhythmic, s) for s in range(8))
    without = sum(on_grid(plain, s) for s in range(8))
    assert with_rhythm_hits > without + 8


def _homophonic(i: int) -> object:
    """A four-voice piece whose voices share one random rhythm (no voice can know its next
    duration from its own past; the voice that starts with it can)."""
    from notegen_training.voices_corpus import Piece, Voice

    rng = np.random.default_rng(i)
    rhythm = rng.choice(DURATIONS[:6], 32).tolist()
    voices = [
        Voice(name, 0.0, [Event(low + int(rng.integers(0, 12)), d) for d in rhythm])
        for name, low in (("S", 67), ("A", 60), ("T", 53), ("B", 41))
    ]
    return Piece(f"fixture/homophonic{i}#0", voices, "fixture", bar_beats=4.0)


def test_tune_rhythm_learns_to_trust_the_voices_that_move_together(tiny, tmp_path) -> None:
    """`notegen-train tune-rhythm` on pieces whose voices share their rhythm: where another
    voice's note starts with this one, the `same` expert gets most of the weight; the card
    keeps the weights and the server serves them."""
    import gzip

    from notegen_training.cli import main

    card = with_rhythm(tiny[0], tmp_path / "fit", same=0.0)
    pieces = tmp_path / "valid.jsonl.gz"
    with gzip.open(pieces, "wt") as handle:
        for i in range(6):
            handle.write(json.dumps(_homophonic(i).to_json()) + "\n")  # type: ignore[attr-defined]
    assert main(["tune-rhythm", str(card), "--voices", str(pieces)]) == 0
    spec = json.loads(card.read_text())["rhythm_mixture"]
    assert spec["fitted_on"] == [str(pieces)]
    mixture = MelodyModel.load(card).rhythm
    assert mixture is not None
    heard = mixture.weights[1]  # cells where another voice's note starts with this one
    assert (heard[..., EXPERTS.index("same")] > 0.5).all()
    assert (heard[..., EXPERTS.index("own")] < 0.15).all()  # a random rhythm: its past says little
    assert np.allclose(mixture.weights.sum(axis=-1), 1.0)


def _sonic_pi_piece(seed: int) -> str:
    """Two voices in the aN/bN form sharing one random rhythm."""
    rng = np.random.default_rng(seed)
    rhythm = rng.choice(DURATIONS[:6], 24).tolist()
    lines = []
    for voice, low in ((1, 60), (2, 48)):
        notes = ", ".join(f":{'cdefgab'[int(rng.integers(0, 7))]}{low // 12 - 1}" for _ in rhythm)
        lines.append(f"a{voice}[0]=[{notes}]")
        lines.append(f"b{voice}[0]=[{', '.join(str(d) for d in rhythm)}]")
    return "\n".join(lines) + "\n"


def test_tune_rhythm_scores_each_sonic_pi_file_with_weights_fitted_without_it(
    tiny, tmp_path
) -> None:
    """Files given with --sonicpi are fitted on and, each in turn, held out: the card records
    every file's bits/duration under weights that never saw it, with and without its voices."""
    from notegen_training.cli import main

    card = with_rhythm(tiny[0], tmp_path / "fit", same=0.0)
    folder = tmp_path / "pieces"
    folder.mkdir()
    for i in range(3):
        (folder / f"piece{i}.rb").write_text(_sonic_pi_piece(i))
    assert main(["tune-rhythm", str(card), "--sonicpi", str(folder), "--record", "held"]) == 0
    spec = json.loads(card.read_text())
    held = spec["metrics"]["held"]
    assert held["data"] == [str(folder)]
    files = [str(folder / f"piece{i}.rb") for i in range(3)]
    assert sorted(k for k in held if k not in ("data", "all")) == files
    for name in files:
        # a random network pays several bits for a duration; the other voice's note, far fewer
        assert held[name]["with_voices"] < held[name]["alone"]
    assert set(held["all"]) == {"with_voices", "alone"}
    assert spec["rhythm_mixture"]["fitted_on"] == [str(folder)]


def test_a_text_where_nothing_follows_anything_matches_nothing() -> None:
    """Voices of one note each: no position has a follower (``generateMelody`` beside
    ``a1[0]=[500]`` raised IndexError here)."""
    for text in ([5, -1], [5, -1, 7, -1], [-1]):
        index = MatchIndex(np.array(text, np.int64), -1)
        assert index.longest(np.array([5], np.int64), 4)[0] == 0
        expected = longest_match(np.array(text, np.int64), np.array([5], np.int64), 4)
        assert expected[0] == 0


def test_an_indexed_text_finds_the_same_longest_match_and_followers() -> None:
    """:class:`MatchIndex` answers as :func:`longest_match` scanning the text does: random
    voices of a few tokens (so matches run long), separators between them, patterns of every
    length up to and past ``max_order``, asked twice (the second answer is a kept one)."""
    rng = np.random.default_rng(7)
    for case in range(40):
        separator = -1 if case % 2 else -99_999
        voices = [rng.integers(0, 1 + case % 5, size=int(rng.integers(0, 60))) for _ in range(4)]
        text = np.concatenate([np.append(v, separator) for v in voices]).astype(np.int64)
        index = MatchIndex(text, separator)
        for max_order in (1, 3, 16):
            for _ in range(30):
                own = rng.integers(0, 1 + case % 5, size=int(rng.integers(0, 25))).astype(np.int64)
                expected = longest_match(text, own, max_order, separator=separator)
                for _again in range(2):
                    length, nexts = index.longest(own, max_order)
                    assert length == expected[0]
                    assert nexts.tolist() == expected[1].tolist()


def test_a_narrow_text_finds_what_the_wide_one_finds() -> None:
    """Every listening voice keeps its own copy of the other voices' tokens, so they are kept
    narrow (durations in 8 bits, or 16 for a vocabulary of over 126; intervals in 32;
    positions in 16 bits below 65,535 tokens): the answers are the 64-bit scan's, token for
    token."""
    rng = np.random.default_rng(11)
    widths = [(-1, np.int8), (-1, np.int16), (-99_999, np.int32)]
    for case in range(60):
        separator, narrow = widths[case % 3]
        voices = [rng.integers(0, 1 + case % 5, size=int(rng.integers(0, 60))) for _ in range(4)]
        wide = np.concatenate([np.append(v, separator) for v in voices]).astype(np.int64)
        index = MatchIndex(wide.astype(narrow), separator)
        for max_order in (1, 3, 16):
            for _ in range(20):
                own = rng.integers(0, 1 + case % 5, size=int(rng.integers(0, 25))).astype(np.int64)
                length, nexts = index.longest(own, max_order)
                expected = longest_match(wide, own, max_order, separator=separator)
                assert (length, nexts.tolist()) == (expected[0], expected[1].tolist())
    others = (VoiceTimes(np.arange(4.0), np.arange(1.0, 5.0), np.full(4, 60.0)),) * 2
    context = rhythm_context(Setting(others=others), np.asarray(DEFAULT_DURATIONS))
    assert context is not None
    assert (context.same_ids.itemsize, context.text.itemsize) == (1, 1)
    many = np.geomspace(0.01, 64, 200)  # (a vocabulary of 200 durations: 16 bits)
    other = (VoiceTimes(np.arange(4.0), np.arange(1.0, 5.0), np.full(4, 62.0)),) * 2
    wide = rhythm_context(Setting(others=other), many)
    assert wide is not None
    assert (wide.same_ids.itemsize, wide.text.itemsize) == (2, 2)


def test_a_match_length_falls_in_the_bucket_of_its_edges() -> None:
    """None, 1-2, 3-5, 6-9, 10 or more (as ``np.searchsorted`` places it on the edges)."""
    assert [bucket(n) for n in (0, 1, 2, 3, 5, 6, 9, 10, 40)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]
    for n in range(-2, 30):
        assert bucket(n) == int(np.searchsorted(LENGTH_EDGES, n, side="right"))


def brute_force_match(text: list[int], pattern: list[int], max_order: int, separator: int):
    """The longest suffix of ``pattern`` (≤ ``max_order``) ending at some ``text[j]`` with a
    token after it (not the separator), and those tokens in text order: read one by one."""
    best, nexts = 0, []
    for j in range(len(text) - 1):
        if text[j + 1] == separator:
            continue
        run = 0
        while run < min(max_order, len(pattern)) and j - run >= 0:
            if text[j - run] != pattern[len(pattern) - 1 - run]:
                break
            run += 1
        if run > best:
            best, nexts = run, [text[j + 1]]
        elif run == best and run:
            nexts.append(text[j + 1])
    return best, nexts


def test_the_longest_match_is_the_one_read_token_by_token() -> None:
    """:func:`longest_match` (and :class:`MatchIndex`) give what reading every position of the
    text does: texts of few tokens with separators, matches that reach the text's start, a
    voice's own past (``before``), patterns past ``max_order``."""
    rng = np.random.default_rng(21)
    for case in range(300):
        tokens = 1 + case % 4
        text = rng.integers(0, tokens, size=int(rng.integers(0, 80)))
        text[rng.random(len(text)) < 0.05] = -1
        pattern = rng.integers(0, tokens, size=int(rng.integers(0, 20)))
        text, pattern = text.astype(np.int64), pattern.astype(np.int64)
        for max_order in (1, 2, 5, 16):
            expected = brute_force_match(text.tolist(), pattern.tolist(), max_order, -1)
            length, nexts = longest_match(text, pattern, max_order)
            assert (length, nexts.tolist()) == expected
            assert MatchIndex(text).longest(pattern, max_order)[0] == length
            own = pattern  # a voice's own past: it matches its own suffix, earlier
            expected = brute_force_match(own.tolist(), own.tolist(), max_order, -1)
            length, nexts = longest_match(own, own, max_order, before=len(own))
            assert (length, nexts.tolist()) == expected


def test_each_length_is_read_as_the_nearest_duration_once_per_distinct_length() -> None:
    from notegen.model.rhythm import SAME_TOLERANCE, _duration_index

    durations = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0])
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.choice([0.25, 0.3, 1.0, 1.02, 3.0, 0.0], 500), rng.random(50)])
    safe = np.maximum(values, 1e-9)
    whole = np.abs(np.log(durations)[None, :] - np.log(safe)[:, None]).argmin(axis=1)
    idx, close = _duration_index(durations, values)
    assert idx.tolist() == whole.tolist()
    assert close.tolist() == (np.abs(durations[whole] - safe) <= SAME_TOLERANCE * safe).tolist()
