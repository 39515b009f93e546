"""The training tunes' index: what training melodies played after the melody's last notes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import notegen.model.network as model_module
import numpy as np
import pytest
from notegen.melody import Event
from notegen.model.conditioning import Setting, VoiceTimes
from notegen.model.context_cache import ContextCache
from notegen.model.network import MelodyModel, ModelError
from notegen.model.tunes import (
    LENGTH_EDGES,
    TuneExpert,
    TuneIndex,
    TuneMixture,
    TuneTokens,
    blend,
    fit_tune_weights,
    length_bucket,
    own_levels,
    suffix_array,
)

# pitch ids (the model's vocabulary: 1 = rest, 2.. = MIDI 36..)
TRAIN = [
    np.array([26, 28, 30, 26, 33, 31, 30, 28]),  # C D E C G F E D
    np.array([30, 31, 33, 35, 33, 31, 30]),
    np.array([26, 26, 1, 28, 30]),
]


def brute_force(melodies: list[np.ndarray], context: np.ndarray, max_order: int = 16):
    """The longest suffix of ``context`` (≤ max_order) followed by a note somewhere in
    ``melodies`` (never across two melodies), and the counts of what followed it."""
    for k in range(min(max_order, len(context)), 0, -1):
        tail = list(context[len(context) - k :])
        after = [
            int(m[i + k]) for m in melodies for i in range(len(m) - k) if list(m[i : i + k]) == tail
        ]
        if after:
            return k, np.bincount(after, minlength=256)
    return 0, None


def test_the_suffix_array_sorts_every_suffix() -> None:
    rng = np.random.default_rng(0)
    text = rng.integers(0, 4, 300)
    order = suffix_array(text, depth=400)
    assert [tuple(text[i:]) for i in order] == sorted(tuple(text[i:]) for i in range(len(text)))


def test_a_query_finds_the_longest_stretch_a_training_tune_played_and_what_followed() -> None:
    index = TuneIndex.build(TRAIN)
    # ... C G F: the first tune went on to E
    length, counts = index.query(np.array([40, 26, 33, 31]))
    assert length == 3 and counts.nonzero()[0].tolist() == [30] and counts[30] == 1
    # E: followed by C (tune 1), F (tune 2), D (tune 1, later) and the end of tune 3 (nothing)
    length, counts = index.query(np.array([30]))
    assert length == 1 and {i: int(c) for i, c in enumerate(counts) if c} == {26: 1, 28: 1, 31: 1}
    # the rest is a token like any other
    assert index.query(np.array([26, 1]))[1].nonzero()[0].tolist() == [28]
    # nothing matched: a note no tune plays, a note only ever last, an empty melody
    for context in ([50], [35, 40], []):
        assert index.query(np.array(context, np.int64))[0] == 0
    # tune 1 ends on D and tune 2 starts on E F: "D E F" is no stretch of one tune, "E F" is
    length, counts = index.query(np.array([28, 30, 31]))
    assert length == 2 and counts.nonzero()[0].tolist() == [33]


def test_queries_agree_with_a_brute_force_search() -> None:
    rng = np.random.default_rng(1)
    melodies = [rng.integers(1, 6, int(rng.integers(1, 40))) for _ in range(30)]
    index = TuneIndex.build(melodies)
    for _ in range(300):
        context = rng.integers(1, 6, int(rng.integers(0, 25)))
        length, counts = index.query(context)
        expected_length, expected = brute_force(melodies, context)
        assert length == expected_length
        if expected is not None:
            assert counts.tolist() == expected.tolist()


def test_queries_agree_with_a_brute_force_search_at_the_edges_of_the_token_range() -> None:
    # the first two steps read a table of token pairs: the lowest and highest ids (1, 63)
    # and long shared stretches exercise its boundaries and the bisections after it
    rng = np.random.default_rng(2)
    alphabet = np.array([1, 2, 31, 32, 62, 63])
    melodies = [alphabet[rng.integers(0, 6, int(rng.integers(1, 60)))] for _ in range(40)]
    melodies += [np.full(20, 63), np.full(20, 1), np.array([63, 1] * 10)]
    index = TuneIndex.build(melodies)
    contexts = [alphabet[rng.integers(0, 6, int(rng.integers(0, 25)))] for _ in range(400)]
    contexts += [np.full(k, 63) for k in range(6)] + [np.full(k, 1) for k in range(6)]
    for context in contexts:
        length, counts = index.query(context)
        expected_length, expected = brute_force(melodies, context)
        assert length == expected_length, context
        if expected is not None:
            assert counts.tolist() == expected.tolist(), context


def test_an_index_survives_saving_and_loading(tmp_path) -> None:
    index = TuneIndex.build(TRAIN)
    index.save(tmp_path / "tunes.npz")
    again = TuneIndex.load(tmp_path / "tunes.npz")
    for context in ([26, 33, 31], [30], [26, 1]):
        assert (
            again.query(np.array(context))[1].tolist() == index.query(np.array(context))[1].tolist()
        )


def test_indexes_are_written_stored_and_deflated_ones_still_load(tmp_path) -> None:
    """Every process that loads the model reads its indexes whole: stored, not deflated."""
    index = TuneIndex.build(TRAIN)
    index.save(tmp_path / "tunes.npz")
    mixture = TuneMixture(
        (TuneExpert(TuneTokens("pitch"), ((0.0, 0.5),) * 2, ((0.0, 0.5),) * 2, index),), "m.npz"
    )
    mixture.save(tmp_path / "m.npz")
    for written in ("tunes.npz", "m.npz"):
        members = zipfile.ZipFile(tmp_path / written).infolist()
        assert members and {m.compress_type for m in members} == {zipfile.ZIP_STORED}
    np.savez_compressed(tmp_path / "old.npz", **index.arrays())  # an index written before
    assert zipfile.ZipFile(tmp_path / "old.npz").infolist()[0].compress_type == zipfile.ZIP_DEFLATED
    again = TuneIndex.load(tmp_path / "old.npz")
    assert (
        again.query(np.array([26, 33, 31]))[1].tolist()
        == index.query(np.array([26, 33, 31]))[1].tolist()
    )


def test_the_shipped_indexes_are_stored() -> None:
    shipped = Path(__file__).resolve().parents[2] / "models" / "notegen.tunes.npz"
    members = zipfile.ZipFile(shipped).infolist()
    assert len(members) == 10 and {m.compress_type for m in members} == {zipfile.ZIP_STORED}


def test_em_trusts_the_index_where_it_is_right_and_not_where_it_is_wrong() -> None:
    n = 400
    served = np.full(2 * n, 0.2)
    index = np.concatenate([np.full(n, 0.9), np.full(n, 0.01)])  # long matches right, short wrong
    lengths = np.concatenate([np.full(n, 16), np.full(n, 1)])
    alone, copied = fit_tune_weights(served, index, lengths, np.zeros(2 * n, bool))
    assert alone[0] == 0.0 and copied[0] == 0.0  # nothing matched: nothing to weigh
    assert alone[-1] > 0.9 and alone[1] < 0.05
    assert copied[-1] == pytest.approx(copied[1])  # no data: every cell the pooled weight


def with_tunes(card: Path, directory: Path, alone: float, heard: float) -> Path:
    """A copy of the tiny model that knows TRAIN's pitches with these weights in every
    length cell."""
    directory.mkdir(exist_ok=True)
    shutil.copy(card.with_suffix(".onnx"), directory / card.with_suffix(".onnx").name)
    rows = len(LENGTH_EDGES) + 1

    def cells(w: float):
        return ((0.0, *[w] * (rows - 1)), (0.0, *[w] * (rows - 1)))

    expert = TuneExpert(TuneTokens("pitch"), cells(alone), cells(heard), TuneIndex.build(TRAIN))
    mixture = TuneMixture((expert,), "tiny.tunes.npz")
    mixture.save(directory / "tiny.tunes.npz")
    spec = json.loads(card.read_text())
    spec["tune_mixture"] = mixture.to_card()
    out = directory / card.name
    out.write_text(json.dumps(spec))
    return out


def events(ids: list[int]) -> list[Event]:
    return [Event(None if i == 1 else 34 + i, 1.0) for i in ids]


def test_a_training_tune_s_phrase_is_completed_as_the_tune_went_on(model, tiny, tmp_path) -> None:
    """After C G F the first training tune went on to E (and after F the tunes went on to E
    twice, to G once): the served distribution gives E more than half (the tiny network
    alone: about one chance in sixty); heard with
    another voice the card's other weights (here none) apply; evaluation scores it."""
    from notegen_training.corpus import Melody
    from notegen_training.evaluate import score_stateful

    knowing = MelodyModel.load(with_tunes(tiny[0], tmp_path / "tunes", 0.7, 0.0))
    phrase = events([40, 26, 33, 31, 30])
    served, _ = knowing.log_probs(phrase)
    plain, _ = model.log_probs(phrase)
    assert np.exp(served[4, 30]) > 0.5 > 0.1 > np.exp(plain[4, 30])
    cache = ContextCache(knowing)
    assert int(cache.prime(phrase[:4]).pitch_logits.argmax()) == 30
    other = Setting(others=(VoiceTimes.of([Event(48, 8.0)]),))
    assert np.allclose(knowing.log_probs(phrase, other)[0], model.log_probs(phrase, other)[0])
    assert np.allclose(cache.prime(phrase[:4], setting=other).pitch_logits, plain[4], atol=1e-6)
    scores = score_stateful(knowing.path.with_suffix(".json"), [Melody("t#0", phrase)])
    rows = served[:5, 1:] - np.log(np.exp(served[:5, 1:]).sum(axis=1, keepdims=True))
    truth = np.array([knowing.pitch_id(e.pitch) for e in phrase])
    bits = -rows[np.arange(5), truth - 1].mean() / np.log(2)
    assert scores["model"].summary()["pitch_bits"] == round(float(bits), 4)


def test_notes_scored_together_past_the_first_rows_are_heard_without_the_tunes(
    model, tiny, tmp_path
) -> None:
    """The first ``tunes_rows`` notes scored after a context are served with the training
    tunes, as each context primed alone is; the rest without them, as the plain model
    serves them (the copy model and the imitation expert still)."""
    knowing = MelodyModel.load(with_tunes(tiny[0], tmp_path / "tunes", 0.7, 0.0))
    phrase = events([40, 26, 33])
    notes = events([31, 30, 26, 33])
    cache = ContextCache(knowing)
    got = cache.pitches_after_each(cache.ids(phrase), cache.ids(notes), tunes_rows=2)
    for row, note in enumerate(notes):
        served = knowing if row < 2 else model
        want = ContextCache(served).prime([*phrase, note]).pitch_logits
        np.testing.assert_allclose(got[row], want, atol=1e-6)
    with_all = cache.pitches_after_each(cache.ids(phrase), cache.ids(notes))
    assert not np.allclose(with_all[2:], got[2:], atol=1e-3)  # (the tunes have a say there)


def test_a_card_whose_index_is_missing_fails_to_load_naming_the_file(tiny, tmp_path) -> None:
    card = with_tunes(tiny[0], tmp_path / "gone", 0.5, 0.5)
    (card.parent / "tiny.tunes.npz").unlink()
    with pytest.raises(ModelError, match=r"tiny\.tunes\.npz"):
        MelodyModel.load(card)
    (card.parent / "tiny.tunes.npz").write_bytes(b"not an index")
    with pytest.raises(ModelError, match=r"tiny\.tunes\.npz"):
        MelodyModel.load(card)


def test_tune_tunes_indexes_the_training_melodies_and_fits_on_validation(tiny, tmp_path) -> None:
    """Validation melodies that are variants of training tunes: long matches get a high
    weight, the card records the fit, and the index beside the card serves the model."""
    from notegen_training.cli import main
    from notegen_training.corpus import Melody, write_jsonl

    folder = tmp_path / "fit"
    folder.mkdir()
    card = folder / tiny[0].name
    shutil.copy(tiny[0], card)
    shutil.copy(tiny[0].with_suffix(".onnx"), folder / tiny[0].with_suffix(".onnx").name)
    rng = np.random.default_rng(0)
    tunes = [(60 + np.cumsum(rng.integers(-2, 3, 40))).clip(40, 90) for _ in range(12)]
    train = [Melody(f"t{i}", [Event(int(p), 1.0) for p in t]) for i, t in enumerate(tunes)]
    valid = []
    for i, t in enumerate(tunes[:8]):
        variant = t.copy()
        variant[20] += 1  # one note changed
        valid.append(Melody(f"v{i}", [Event(int(p), 1.0) for p in variant]))
    write_jsonl(tmp_path / "train.jsonl.gz", train)
    write_jsonl(tmp_path / "valid.jsonl.gz", valid)
    args = [
        "--train",
        str(tmp_path / "train.jsonl.gz"),
        "--valid",
        str(tmp_path / "valid.jsonl.gz"),
    ]
    assert main(["tune-tunes", str(card), *args]) == 0
    spec = json.loads(card.read_text())["tune_mixture"]
    assert spec["file"] == "tiny.tunes.npz" and (folder / "tiny.tunes.npz").is_file()
    kinds = [e["kind"] for e in spec["experts"]]
    assert kinds == [
        "pitch_duration",
        "interval_duration",
        "pitch",
        "interval",
        "melody_interval",
    ]
    # 16 notes of a training tune: it goes on (the first view mixed takes the long matches)
    assert spec["experts"][0]["weights"]["alone"][0][-1] > 0.8
    fit = spec["fit"]["alone"]
    assert (
        fit["bits_after"] < fit["bits_before"] - 1
        and fit["bits_held_out_halves"] < fit["bits_before"]
        and len(fit["bits_after_each"]) == 5
    )
    assert spec["melodies"] == 12 and spec["indexed"] == [str(tmp_path / "train.jsonl.gz")]
    loaded = MelodyModel.load(card)
    assert loaded.tunes is not None and len(loaded.tunes.experts) == 5
    assert loaded.tunes.index is not None and loaded.tunes.index.size == 12 * 41 + 1

    # refit with one view, the validation melodies indexed after the fit
    only = ["--kinds", "interval", "--index-valid"]
    assert main(["tune-tunes", str(card), *args, *only]) == 0
    spec = json.loads(card.read_text())["tune_mixture"]
    assert [e["kind"] for e in spec["experts"]] == ["interval"] and spec["melodies"] == 20
    assert spec["fitted_with_index_of"] == [str(tmp_path / "train.jsonl.gz")]
    assert spec["indexed"] == [str(tmp_path / f"{n}.jsonl.gz") for n in ("train", "valid")]
    loaded = MelodyModel.load(card)
    assert loaded.tunes is not None and loaded.tunes.index is not None
    assert loaded.tunes.index.size == 20 * 41 + 1


def test_length_buckets_are_the_edges_searched_from_the_right() -> None:
    for length in range(-2, 40):
        assert length_bucket(length) == np.searchsorted(LENGTH_EDGES, length, side="right")
    assert [length_bucket(n) for n in (0, 1, 2, 3, 16, 17)] == [0, 1, 1, 2, 7, 7]


def brute_levels(melodies: list[np.ndarray], context: np.ndarray, count: int = 4):
    """The ``count`` longest matched lengths that some melody followed, with the counts."""
    found = []
    for k in range(min(16, len(context)), 0, -1):
        tail = list(context[len(context) - k :])
        after = [
            int(m[i + k]) for m in melodies for i in range(len(m) - k) if list(m[i : i + k]) == tail
        ]
        if after:
            found.append((k, np.bincount(after, minlength=256).tolist()))
        if len(found) == count:
            break
    return found


def test_long_runs_of_suffixes_narrowed_token_by_token_agree_with_a_brute_force_search() -> None:
    # three tokens in 8,000: the runs sharing a query's first 3-6 tokens hold hundreds of
    # suffixes, each narrowed by bisection (a run of at most 48 is searched all at once)
    rng = np.random.default_rng(4)
    melodies = [rng.integers(1, 4, int(rng.integers(40, 120))) for _ in range(100)]
    index = TuneIndex.build(melodies)
    for _ in range(150):
        context = rng.integers(1, 4, int(rng.integers(3, 12)))
        found = [(k, c.tolist()) for k, c in index.levels(context)]
        assert found == brute_levels(melodies, context)


def test_an_index_past_65536_tokens_reads_every_suffix_position_back_exactly(tmp_path) -> None:
    # positions are kept as their low 16 bits and the rest: past 65,536 tokens both count
    rng = np.random.default_rng(6)
    melodies = [rng.integers(1, 5, int(rng.integers(200, 400))) for _ in range(300)]
    index = TuneIndex.build(melodies)
    assert index.size > 1 << 16
    text = index.arrays()["text"]
    order = index.arrays()["suffixes"]
    assert sorted(order.tolist()) == list(range(index.size))
    assert order.dtype == np.int32 and order.max() >= 1 << 16
    tails = [tuple(text[i : i + 24]) for i in order[::97]]
    assert tails == sorted(tails)  # in suffix order, as far as 24 tokens tell
    for _ in range(40):
        context = rng.integers(1, 5, int(rng.integers(3, 14)))
        found = [(k, c.tolist()) for k, c in index.levels(context)]
        assert found == brute_levels_fast(melodies, context)
    index.save(tmp_path / "tunes.npz")
    assert np.array_equal(TuneIndex.load(tmp_path / "tunes.npz").arrays()["suffixes"], order)


def brute_levels_fast(melodies: list[np.ndarray], context: np.ndarray, count: int = 4):
    """:func:`brute_levels` with each melody's windows compared at once (many tokens)."""
    found = []
    for k in range(min(16, len(context)), 0, -1):
        tail = np.asarray(context[len(context) - k :])
        after = [
            w[agree, k]
            for m in melodies
            if len(m) > k
            for w in [np.lib.stride_tricks.sliding_window_view(m, k + 1)]
            for agree in [(w[:, :k] == tail).all(axis=1)]
        ]
        followers = np.concatenate(after) if after else np.zeros(0, np.int64)
        if len(followers):
            found.append((k, np.bincount(followers, minlength=256).tolist()))
        if len(found) == count:
            break
    return found


def test_the_four_longest_matched_lengths_agree_with_a_brute_force_search() -> None:
    rng = np.random.default_rng(3)
    melodies = [rng.integers(1, 5, int(rng.integers(1, 40))) for _ in range(30)]
    melodies += [rng.integers(200, 256, 30)]  # tokens past 6 bits (the duration views)
    index = TuneIndex.build(melodies)
    for _ in range(300):
        context = rng.integers(1, 5, int(rng.integers(0, 25)))
        if rng.random() < 0.2:
            context = rng.integers(200, 256, 5)
        found = [(k, c.tolist()) for k, c in index.levels(context)]
        assert found == brute_levels(melodies, context)


def test_kept_follower_counts_answer_as_counting_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import notegen.model.tunes as tunes

    rng = np.random.default_rng(4)
    melodies = [rng.integers(1, 4, int(rng.integers(1, 40))) for _ in range(40)]
    index = TuneIndex.build(melodies)
    contexts = [rng.integers(1, 4, int(rng.integers(0, 12))) for _ in range(200)]
    counted = [[(k, c.tolist()) for k, c in index.levels(c)] for c in contexts]
    monkeypatch.setattr(tunes, "_MEMO_SPAN", 3)  # nearly every span kept
    monkeypatch.setattr(tunes, "_MEMO_SIZE", 40)
    for _ in range(2):  # kept the first time, read back the second
        assert [[(k, c.tolist()) for k, c in index.levels(c)] for c in contexts] == counted
    assert len(index._memo) == 40
    kept = next(iter(index._memo.values()))
    with pytest.raises(ValueError):  # a caller cannot change what later calls read
        kept[1] = 0


def test_a_token_the_view_lacks_stops_the_match() -> None:
    index = TuneIndex.build(TRAIN)
    # ... C G F is followed by E; with an unknown event (0) before G only "G F" matches
    assert index.query(np.array([26, 33, 31]))[0] == 3
    length, counts = index.query(np.array([26, 0, 33, 31]))
    assert length == 2 and counts.nonzero()[0].tolist() == [30]


def test_followers_of_shorter_matches_fill_in_as_witten_bell_says() -> None:
    long = np.zeros(8)
    long[3] = 1  # the longest match: seen once, followed by 3
    short = np.zeros(8)
    short[[3, 5]] = [1, 3]  # a shorter one: 3 once, 5 three times
    p = blend([(4, long), (2, short)])
    # one follower of one kind: half the mass stays with the shorter match's followers
    assert p is not None and p[3] == pytest.approx(0.5 + 0.5 * 0.25)
    assert p[5] == pytest.approx(0.5 * 0.75) and p.sum() == pytest.approx(1.0)
    assert blend([(2, short)]).tolist() == (short / 4).tolist()
    assert blend([]) is None


# pitch ids: 1 rest, 2 + (midi - 36); duration ids as the model numbers them
C4, D4, E4, F4, G4 = 26, 28, 30, 31, 33


def test_the_interval_view_hears_a_training_tune_in_another_key() -> None:
    view = TuneTokens("interval")
    tune = np.array([C4, D4, E4, C4, G4, F4, E4, D4])
    assert view.tokens(tune, np.ones(8)).tolist() == [2, 30, 30, 24, 35, 26, 27, 26]
    expert = TuneExpert(
        view, ((0.0,) * 8,) * 2, ((0.0,) * 8,) * 2, TuneIndex.build([view.tokens(tune, np.ones(8))])
    )
    up = tune[:7] + 2  # the same tune a tone higher, so far ... G F E (+2): it goes on to E
    length, q = expert.distribution(view.tokens(up, np.ones(7)), int(up[-1]), 63)
    assert length == 7 and q is not None and q.nonzero()[0].tolist() == [D4 + 2]
    # a rest is a token, and the interval over it is from the last note
    assert view.tokens(np.array([C4, 1, E4]), np.ones(3)).tolist() == [2, 1, 32]
    assert view.tokens(np.array([1, E4]), np.ones(2), before=C4).tolist() == [1, 32]


def test_the_duration_views_tell_the_same_notes_in_another_rhythm_apart() -> None:
    quick, slow = np.array([3, 3, 3, 3]), np.array([5, 5, 5, 5])
    tune_a, tune_b = np.array([C4, D4, E4, F4]), np.array([C4, D4, E4, G4])
    view = TuneTokens.fit("pitch_duration", [(tune_a, quick), (tune_b, slow)])
    assert view.pairs is not None and len(view.pairs) == 8
    index = TuneIndex.build([view.tokens(tune_a, quick), view.tokens(tune_b, slow)])
    expert = TuneExpert(view, ((0.0,) * 8,) * 2, ((0.0,) * 8,) * 2, index)
    # C D E quick went on to F, slow to G; the pitch view alone could not tell
    for durations, then in ((quick, F4), (slow, G4)):
        length, q = expert.distribution(view.tokens(tune_a[:3], durations[:3]), E4, 63)
        assert length == 3 and q is not None and q.nonzero()[0].tolist() == [then]
    # a pair no training melody played has no token
    assert view.tokens(np.array([C4]), np.array([7])).tolist() == [0]


def test_a_long_melody_s_tail_has_the_tokens_of_the_whole_melody_s_end() -> None:
    rng = np.random.default_rng(4)
    for kind in ("pitch", "interval", "interval_duration"):
        pids = np.where(rng.random(200) < 0.2, 1, rng.integers(20, 40, 200))
        dids = rng.integers(1, 6, 200)
        view = TuneTokens.fit(kind, [(pids, dids)])
        for end in (0, 1, 5, 17, 200):
            whole = view.tokens(pids[:end], dids[:end])
            assert view.tail(pids[:end], dids[:end], 16).tolist() == whole[-16:].tolist()


def test_a_card_of_one_pitch_index_written_before_the_views_still_loads(tiny, tmp_path) -> None:
    folder = tmp_path / "old"
    card = with_tunes(tiny[0], folder, 0.7, 0.0)
    spec = json.loads(card.read_text())
    weights = spec["tune_mixture"].pop("experts")[0]["weights"]
    spec["tune_mixture"]["weights"] = weights
    card.write_text(json.dumps(spec))
    TuneIndex.build(TRAIN).save(folder / "tiny.tunes.npz")  # arrays named text, suffixes
    old = MelodyModel.load(card)
    new = MelodyModel.load(with_tunes(tiny[0], tmp_path / "new", 0.7, 0.0))
    phrase = events([40, 26, 33, 31, 30])
    assert np.allclose(old.log_probs(phrase)[0], new.log_probs(phrase)[0])


def test_a_phrase_the_melody_played_at_another_pitch_goes_on_as_it_went() -> None:
    """C D E F G, then the same steps from D: D E F# G goes on to A (a sequence)."""
    view = TuneTokens("melody_interval")
    melody = np.array([C4, D4, E4, F4, G4, 1, D4, E4, F4 + 1, G4])
    expert = TuneExpert(view, ((0.0,) * 8,) * 2, ((0.0,) * 8,) * 2)
    length, q = expert.distribution(view.tokens(melody, np.ones(10)), G4, 63)
    assert length == 3 and q is not None and q.nonzero()[0].tolist() == [G4 + 2]
    # C D E: the step up came before, followed by a step up; C D: nothing came before
    length, q = expert.distribution(view.tokens(melody[:3], np.ones(3)), E4, 63)
    assert length == 1 and q is not None and q.nonzero()[0].tolist() == [E4 + 2]
    assert expert.distribution(view.tokens(melody[:2], np.ones(2)), D4, 63) == (0, None)


def test_the_melody_s_own_matches_agree_with_a_brute_force_search() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        z = rng.integers(1, 4, int(rng.integers(0, 40)))
        found = [(k, c.tolist()) for k, c in own_levels(z)]
        expected = []
        for k in range(min(16, len(z) - 1), 0, -1):
            tail = list(z[len(z) - k :])
            after = [int(z[j]) for j in range(k, len(z)) if list(z[j - k : j]) == tail]
            if after:
                expected = [(k, np.bincount(after, minlength=256).tolist())]
                break
        assert found == expected, z


def test_a_tune_index_that_is_a_fifo_is_refused_before_it_is_opened(tiny, tmp_path) -> None:
    """Opening a FIFO waits for a writer: the model never finished loading, and every hover
    and completion waited for it."""
    card = with_tunes(tiny[0], tmp_path / "m", 0.5, 0.5)
    fifo = tmp_path / "m" / "tiny.tunes.npz"
    fifo.unlink()
    os.mkfifo(fifo)
    errors: list[str] = []

    def load() -> None:
        try:
            MelodyModel.load(card)
        except ModelError as exc:
            errors.append(str(exc))

    loading = threading.Thread(target=load, daemon=True)
    loading.start()
    loading.join(10)
    if loading.is_alive():  # blocked in open(): a writer lets it go on (and fail)
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("loading the model waited on the FIFO")
    assert len(errors) == 1 and "tiny.tunes.npz: the card's tune index is a FIFO" in errors[0]


def test_a_tune_index_that_unpacks_too_big_is_refused(tiny, tmp_path, monkeypatch) -> None:
    """A few kB of zip can claim gigabytes, read whole into memory when unpacked."""
    card = with_tunes(tiny[0], tmp_path / "m", 0.5, 0.5)
    bomb = tmp_path / "m" / "tiny.tunes.npz"
    np.savez_compressed(bomb, **{"pitch.text": np.zeros(1_000_000, np.uint8)})
    assert bomb.stat().st_size < 10_000
    monkeypatch.setattr(model_module, "MAX_TUNES_BYTES", 100_000)
    with pytest.raises(ModelError, match=r"tiny\.tunes\.npz: the card's tune index unpacks to 1"):
        MelodyModel.load(card)


def test_a_span_counted_in_chunks_counts_what_followed_each_suffix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Big spans are counted a chunk of suffixes at a time (few temporaries): the same
    counts as the followers of every suffix of the span, whatever the chunks' size."""
    import notegen.model.tunes as tunes

    rng = np.random.default_rng(5)
    melodies = [rng.integers(1, 6, int(rng.integers(1, 60))) for _ in range(300)]
    index = TuneIndex.build(melodies)
    contexts = [rng.integers(1, 6, int(rng.integers(1, 6))) for _ in range(60)]
    counted = [[(k, c.tolist()) for k, c in index.levels(c)] for c in contexts]
    for chunk in (1, 7, 64):
        monkeypatch.setattr(tunes, "_COUNT_CHUNK", chunk)
        index._memo.clear()
        assert [[(k, c.tolist()) for k, c in index.levels(c)] for c in contexts] == counted
    for lo, hi in [(0, index.size), (5, index.size - 3), (100, 101)]:
        at_once = np.bincount(index._text[index._positions(lo, hi) - 1], minlength=256)
        at_once[0] = 0  # (the melody ended there)
        assert index._followers(lo, hi).tolist() == at_once.tolist()


def test_the_big_spans_of_one_token_or_a_pair_are_counted_when_the_index_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every short match reads them: a fresh cursor finds their counts kept, the same counts
    as counting them again."""
    import notegen.model.tunes as tunes

    rng = np.random.default_rng(6)
    melodies = [rng.integers(1, 5, int(rng.integers(1, 50))) for _ in range(80)]
    counted = TuneIndex.build(melodies)  # (no span of this index is over _MEMO_SPAN)
    assert not counted._memo
    monkeypatch.setattr(tunes, "_MEMO_SPAN", 20)
    index = TuneIndex.build(melodies)
    starts = index._starts
    big = {(int(starts[t << 8]), int(starts[(t + 1) << 8])) for t in range(1, 5)} | {
        (int(starts[a << 8 | b]), int(starts[(a << 8 | b) + 1]))
        for a in range(1, 5)
        for b in range(1, 5)
    }
    big = {(lo, hi) for lo, hi in big if hi - lo > 20}
    assert big and set(index._memo) == big
    reads: list[tuple[int, int]] = []
    original = TuneIndex._positions
    monkeypatch.setattr(
        TuneIndex,
        "_positions",
        lambda self, lo, hi: (self is index and reads.append((lo, hi))) or original(self, lo, hi),
    )
    for context in ([1], [2, 3], [4, 4]):
        found = index.levels(np.array(context))
        assert [(k, c.tolist()) for k, c in found] == [
            (k, c.tolist()) for k, c in counted.levels(np.array(context))
        ]
    assert not [r for r in reads if r in big]  # kept, not counted again
