"""The training tunes' index: what training melodies played after the melody's last notes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from notegen.conditioning import Setting, VoiceTimes
from notegen.generate import ContextCache
from notegen.melody import Event
from notegen.model import MelodyModel, ModelError
from notegen.tunes import (
    LENGTH_EDGES,
    TuneIndex,
    TuneMixture,
    fit_tune_weights,
    length_bucket,
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
            return k, np.bincount(after, minlength=64)
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
    # the first four steps read a table of token pairs and 6-bit codes packed in 16 bits:
    # the lowest and highest ids (1, 63) and long shared stretches exercise every boundary
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
    """A copy of the tiny model that knows TRAIN with these weights in every length cell."""
    directory.mkdir(exist_ok=True)
    shutil.copy(card.with_suffix(".onnx"), directory / card.with_suffix(".onnx").name)
    TuneIndex.build(TRAIN).save(directory / "tiny.tunes.npz")
    rows = len(LENGTH_EDGES) + 1

    def cells(w: float):
        return ((0.0, *[w] * (rows - 1)), (0.0, *[w] * (rows - 1)))

    spec = json.loads(card.read_text())
    spec["tune_mixture"] = TuneMixture(cells(alone), cells(heard), None, "tiny.tunes.npz").to_card()
    out = directory / card.name
    out.write_text(json.dumps(spec))
    return out


def events(ids: list[int]) -> list[Event]:
    return [Event(None if i == 1 else 34 + i, 1.0) for i in ids]


def test_a_training_tune_s_phrase_is_completed_as_the_tune_went_on(model, tiny, tmp_path) -> None:
    """After C G F the first training tune went on to E: the served distribution gives E at
    least the index's weight (the tiny network alone: about one chance in sixty); heard with
    another voice the card's other weights (here none) apply; evaluation scores it."""
    from notegen_training.corpus import Melody
    from notegen_training.evaluate import score_stateful

    knowing = MelodyModel.load(with_tunes(tiny[0], tmp_path / "tunes", 0.7, 0.0))
    phrase = events([40, 26, 33, 31, 30])
    served, _ = knowing.log_probs(phrase)
    plain, _ = model.log_probs(phrase)
    assert np.exp(served[4, 30]) >= 0.7 > 0.1 > np.exp(plain[4, 30])
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
    assert spec["weights"]["alone"][0][-1] > 0.8  # 16 notes of a training tune: it goes on
    fit = spec["fit"]["alone"]
    assert (
        fit["bits_after"] < fit["bits_before"] - 1
        and fit["bits_held_out_halves"] < fit["bits_before"]
    )
    loaded = MelodyModel.load(card)
    assert loaded.tunes is not None and loaded.tunes.index is not None


def test_length_buckets_are_the_edges_searched_from_the_right() -> None:
    for length in range(-2, 40):
        assert length_bucket(length) == np.searchsorted(LENGTH_EDGES, length, side="right")
    assert [length_bucket(n) for n in (0, 1, 2, 3, 16, 17)] == [0, 1, 1, 2, 7, 7]
