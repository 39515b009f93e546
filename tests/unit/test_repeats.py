"""Repeated notes in generated melodies: held near the training tunes' rate, runs bounded."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import pytest
from notegen.melody import Event
from notegen.model.generate import generate_block
from notegen.model.generate_options import GenerateOptions
from notegen.model.network import MelodyModel, ModelError
from notegen.model.repeats import RepeatControl, RepeatCounter, training_rate


def counted(pids: list[int], before: list[int] | None = None) -> RepeatCounter:
    counter = RepeatCounter(before or [])
    for pid in pids:
        counter.played(pid)
    return counter


def test_the_counter_sees_pairs_repeats_and_the_run_the_last_note_is_in() -> None:
    counter = counted([5, 5, 7, 7, 7])
    assert (counter.pairs, counter.repeats, counter.run) == (4, 3, 3)
    # the context's own final run counts towards the run, not towards the rate
    after_context = counted([9, 9], before=[3, 9, 9, 9])
    assert (after_context.pairs, after_context.repeats, after_context.run) == (2, 2, 5)


def test_a_melody_behind_the_rate_is_pushed_towards_repeating_and_one_ahead_away() -> None:
    control = RepeatControl(rate=0.25, gain=1.0, bound=3.0, max_run=0)
    behind = counted([1, 2, 3, 4, 5, 6, 7, 8, 9])  # 8 pairs, 0 repeats: 2 behind
    odds = 0.1 / 0.9 * math.exp(2.0)
    assert control.adjust(0.1, behind) == pytest.approx(odds / (1 + odds))
    ahead = counted([1, 1, 1, 1, 2])  # 4 pairs, 3 repeats: 2 ahead
    assert control.adjust(0.5, ahead) == pytest.approx(1 / (1 + math.exp(2.0)))
    far_behind = counted(list(range(100)))  # 99 pairs, 24.75 behind: the bound holds
    odds = 0.1 / 0.9 * math.exp(3.0)
    assert control.adjust(0.1, far_behind) == pytest.approx(odds / (1 + odds))
    on_rate = counted([1, 1, 2, 3, 4])  # 4 pairs, 1 repeat: on the rate, nothing moves
    assert control.adjust(0.3, on_rate) == pytest.approx(0.3)


def test_a_run_at_its_longest_is_never_extended() -> None:
    control = RepeatControl(rate=0.9, gain=1.0, bound=3.0, max_run=3)
    assert control.adjust(0.99, counted([4, 4, 4])) == 0.0
    assert control.adjust(0.9, counted([1, 2, 4, 4])) > 0.9  # one repeat in three: behind


def test_the_rate_is_measured_on_pitched_notes_only() -> None:
    # C C (rest) C D: the rest neither breaks nor makes a pair: 3 pairs, 2 repeats
    assert training_rate([[60, 60, None, 60, 62], [70]]) == (pytest.approx(2 / 3), 3)


def with_repeats(card: Path, directory: Path, control: RepeatControl | None) -> Path:
    directory.mkdir(exist_ok=True)
    spec = json.loads(card.read_text())
    shutil.copy(card.with_suffix(".onnx"), directory / card.with_suffix(".onnx").name)
    if control is None:
        spec.pop("repeats", None)
    else:
        spec["repeats"] = control.to_card()
    out = directory / card.name
    out.write_text(json.dumps(spec))
    return out


def repeats_and_longest_run(events: list[Event]) -> tuple[float, int]:
    pitches = [e.pitch for e in events if e.pitch is not None]
    same = [a == b for a, b in itertools.pairwise(pitches)]
    run = longest = 1
    for s in same:
        run = run + 1 if s else 1
        longest = max(longest, run)
    return sum(same) / len(same), longest


@pytest.fixture(scope="module")
def tiny_card(tmp_path_factory) -> Path:
    from fixtures.tiny_model import build_tiny_model

    card, _ = build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=4)
    return card


def test_generated_blocks_repeat_at_the_cards_rate_whatever_the_network_prefers(
    tiny_card, tmp_path
) -> None:
    """The same untrained network, three cards: 128-note blocks in a six-note scale repeat
    about as often as each card's rate says (the bound wide enough to get there), not as
    often as the network alone would."""
    options = GenerateOptions(length=128, seed=11, key="c", scale="whole_tone", top_p=1.0)
    shares = {}
    for rate in (0.1, 0.3):
        control = RepeatControl(rate=rate, gain=1.0, bound=6.0, max_run=0)
        model = MelodyModel.load(with_repeats(tiny_card, tmp_path / f"r{rate}", control))
        shares[rate] = repeats_and_longest_run(generate_block(model, options).events)[0]
        assert shares[rate] == pytest.approx(rate, abs=0.05)
    alone = MelodyModel.load(with_repeats(tiny_card, tmp_path / "none", None))
    network_share = repeats_and_longest_run(generate_block(alone, options).events)[0]
    assert abs(network_share - 0.1) > 0.05 or abs(network_share - 0.3) > 0.05


def test_no_run_is_longer_than_the_cards_longest_even_when_repeats_are_wanted(
    tiny_card, tmp_path
) -> None:
    options = GenerateOptions(length=96, seed=2, key="c", scale="minor_pentatonic", top_p=1.0)
    eager = RepeatControl(rate=0.9, gain=3.0, bound=8.0, max_run=0)
    unbounded = MelodyModel.load(with_repeats(tiny_card, tmp_path / "eager", eager))
    assert repeats_and_longest_run(generate_block(unbounded, options).events)[1] > 4
    bounded = RepeatControl(rate=0.9, gain=3.0, bound=8.0, max_run=4)
    model = MelodyModel.load(with_repeats(tiny_card, tmp_path / "bounded", bounded))
    events = generate_block(model, options).events
    assert repeats_and_longest_run(events)[1] == 4
    assert generate_block(model, options).events == events  # still reproducible


def test_a_bad_repeats_section_names_the_model_and_the_section(tiny_card, tmp_path) -> None:
    card = with_repeats(tiny_card, tmp_path / "bad", None)
    spec = json.loads(card.read_text())
    spec["repeats"] = {"rate": 1.5}
    card.write_text(json.dumps(spec))
    with pytest.raises(ModelError, match=r"tiny\.onnx: the card's repeats section .*rate"):
        MelodyModel.load(card)


def test_tune_repeats_writes_the_training_melodies_rate_into_the_card(tiny_card, tmp_path) -> None:
    from notegen_training.cli import main
    from notegen_training.corpus import Melody, write_jsonl

    card = with_repeats(tiny_card, tmp_path / "card", None)
    melodies = tmp_path / "train.jsonl.gz"
    # 5 pitched pairs, 2 of them repeats (the rest in the second tune breaks nothing)
    write_jsonl(
        melodies,
        [
            Melody("a#0", [Event(60, 1.0), Event(60, 1.0), Event(62, 1.0), Event(64, 1.0)]),
            Melody("b#0", [Event(67, 1.0), Event(None, 1.0), Event(67, 1.0), Event(65, 1.0)]),
            Melody("c#0", [Event(72, 1.0)]),
        ],
    )
    assert main(["tune-repeats", str(card), str(melodies), "--max-run", "7"]) == 0
    spec = json.loads(card.read_text())["repeats"]
    assert spec["rate"] == pytest.approx(2 / 5, abs=1e-6)
    assert (spec["pairs"], spec["melodies"], spec["max_run"]) == (5, 3, 7)
    assert spec["command"].startswith("notegen-train tune-repeats ")
    assert MelodyModel.load(card).repeats == RepeatControl(2 / 5, 1.0, 3.0, 7)
