"""Consonance with the other voices: the rule, its weight, and voices generated with it."""

from __future__ import annotations

import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from notegen.melody import Event
from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
from notegen.model.consonance import ConsonanceBias, consonant_notes, fit_weight
from notegen.model.generate import generate_block
from notegen.model.generate_options import GenerateOptions
from notegen.model.network import MelodyModel

C3, G2, G3, C4, D4, E4, F4, G4, C5 = 48, 43, 55, 60, 62, 64, 65, 67, 72


def test_a_note_is_consonant_with_every_note_sounding_and_no_fourth_over_the_bass() -> None:
    over_c_and_e = consonant_notes(np.array([G4, F4, C5, D4, np.nan]), np.array([C3, E4]))
    assert over_c_and_e.tolist() == [True, False, True, False, False]
    # a fourth above a voice that is not the bass is consonant, a fourth over the bass is not
    over_c_and_g = consonant_notes(np.array([C4, G2]), np.array([C3, G3]))
    assert over_c_and_g.tolist() == [True, False]
    # nothing else sounding: every note is
    assert consonant_notes(np.array([F4, np.nan]), np.array([np.nan])).tolist() == [True, False]


def test_the_weight_makes_the_distributions_as_consonant_as_the_voices_they_predict() -> None:
    # half the mass on consonant notes, three notes in four consonant: odds tilted by 3
    assert math.isclose(fit_weight([0.5] * 4, [True, True, True, False]), math.log(3), abs_tol=1e-6)
    assert fit_weight([0.8, 0.6], [True, False]) < 0  # a model keener on consonance than voices
    assert fit_weight([], []) == 0.0


def with_consonance(card: Path, directory: Path, weight: float) -> Path:
    directory.mkdir(exist_ok=True)
    spec = json.loads(card.read_text())
    shutil.copy(card.with_suffix(".onnx"), directory / card.with_suffix(".onnx").name)
    spec["consonance_bias"] = ConsonanceBias(weight).to_card()
    out = directory / card.name
    out.write_text(json.dumps(spec))
    return out


def consonant_share(events: list[Event], others: tuple[VoiceTimes, ...]) -> float:
    from notegen.model.conditioning import sounding

    voice = VoiceTimes.of(events)
    heard = sounding(others, voice.onsets)
    hits = [
        bool(consonant_notes(np.array([p]), row)[0])
        for p, row in zip(voice.pitches, heard, strict=True)
        if np.isfinite(p) and np.isfinite(row).any()
    ]
    return float(np.mean(hits))


def test_a_new_voice_against_a_piece_clashes_less_with_the_cards_weight(tmp_path) -> None:
    """A bass and a tenor hold C-major and G-major chords; a 64-note voice generated against
    them with the card's weight is consonant at more of its onsets than without it, the same
    seed gives the same voice, and a voice alone is what it was."""
    from fixtures.tiny_model import build_tiny_model

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    plain = MelodyModel.load(card)
    weighted = MelodyModel.load(with_consonance(card, tmp_path / "weighted", 2.0))
    chords = [(C3, E4), (G2, D4)] * 16
    others = (
        VoiceTimes.of([Event(low, 2.0) for low, _ in chords]),
        VoiceTimes.of([Event(high, 2.0) for _, high in chords]),
    )
    setting = Setting(others=others)
    options = GenerateOptions(length=64, seed=5, key="c", scale="major")
    before = generate_block(plain, options, setting=setting).events
    after = generate_block(weighted, options, setting=setting).events
    assert consonant_share(after, others) > consonant_share(before, others) + 0.15
    assert generate_block(weighted, options, setting=setting).events == after
    assert generate_block(weighted, options).events == generate_block(plain, options).events


def test_tune_consonance_fits_the_weight_on_voices_that_move_in_thirds(tmp_path) -> None:
    from fixtures.tiny_model import build_tiny_model
    from notegen_training.cli import main
    from notegen_training.voices_corpus import Piece, Voice

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    rng = np.random.default_rng(0)
    path = tmp_path / "thirds.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        for i in range(4):
            low = (60 + np.cumsum(rng.integers(-2, 3, 20))).tolist()
            upper = [int(p) + (4 if k % 10 else 2) for k, p in enumerate(low)]  # 1 in 10 clashes
            voices = [
                Voice("T", 0.0, [Event(int(p), 1.0) for p in low]),
                Voice("A", 0.0, [Event(p, 1.0) for p in upper]),
            ]
            piece = Piece(f"fixture/thirds{i}#0", voices, "fixture", bar_beats=4.0)
            handle.write(json.dumps(piece.to_json()) + "\n")
    assert main(["tune-consonance", str(card), str(path)]) == 0
    spec = json.loads(card.read_text())["consonance_bias"]
    bias = MelodyModel.load(card).consonance
    assert bias is not None and bias.weight == spec["weight"] > 1.0
    assert spec["consonant_real"] > spec["consonant_sampled_before"]
    assert spec["fitted_on"] == [str(path)]


def thirds_piece(path: Path, clash_every: int) -> Path:
    """Two voices in ``a1``/``a2`` arrays, the upper a major third above the lower except
    every ``clash_every``-th note (a minor second)."""
    from notegen.notes import spell

    rng = np.random.default_rng(1)
    low = (60 + np.cumsum(rng.integers(-2, 3, 40))).tolist()
    upper = [int(p) + (1 if k % clash_every == 0 else 4) for k, p in enumerate(low)]

    def array(notes: list[int]) -> str:
        return "[" + ",".join(spell(int(n)) for n in notes) + "]"

    ones = ",".join(["1"] * len(low))
    path.write_text(
        f"a1=[]\nb1=[]\na2=[]\nb2=[]\nc1=[90]\nc2=[90]\n"
        f"a1[0]={array(low)}\nb1[0]=[{ones}]\na2[0]={array(upper)}\nb2[0]=[{ones}]\n"
    )
    return path


def test_tune_consonance_also_reads_voices_from_sonic_pi_files(tmp_path) -> None:
    """A piece written as ``a1``/``a2`` arrays, the upper voice a third above the lower: the
    weight fitted on the file's voices (heard as the server hears them) favours consonance."""
    from fixtures.tiny_model import build_tiny_model
    from notegen_training.cli import main

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    piece = thirds_piece(tmp_path / "thirds.rb", clash_every=10)
    assert main(["tune-consonance", str(card), str(piece)]) == 0
    spec = json.loads(card.read_text())["consonance_bias"]
    assert spec["weight"] > 1.0
    assert spec["onsets"] == 80  # every note of both voices, each heard against the other
    assert spec["fitted_on"] == [str(piece)]


def test_the_matched_weight_makes_generated_voices_as_consonant_as_the_pieces(tmp_path) -> None:
    """Each voice replaced by a generated one: with the matched weight the new voices are as
    consonant (within the bisection's step and the draws' noise) as the piece's own two."""
    from fixtures.tiny_model import build_tiny_model
    from notegen_training.cli import main
    from notegen_training.consonance_match import file_lines, generated_consonance

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    piece = thirds_piece(tmp_path / "thirds.rb", clash_every=3)
    assert main(["tune-consonance", str(card), str(piece), "--match-generated"]) == 0
    spec = json.loads(card.read_text())["consonance_bias"]
    assert spec["consonant_pieces"] == pytest.approx(2 / 3, abs=0.02)
    assert spec["consonant_generated"] == pytest.approx(spec["consonant_pieces"], abs=0.05)
    model = MelodyModel.load(card)
    pieces = file_lines([piece])
    matched = generated_consonance(model, pieces, [1, 2, 3])
    assert matched == pytest.approx(spec["consonant_generated"], abs=1e-4)  # the card's weight
    model.consonance = ConsonanceBias(0.0)
    unweighted = generated_consonance(model, pieces, [1, 2, 3])
    assert abs(unweighted - spec["consonant_pieces"]) > 0.05  # so the weight did the matching


def test_match_generated_refuses_chorale_files_and_leaves_the_card_alone(tmp_path) -> None:
    from fixtures.tiny_model import build_tiny_model
    from notegen_training.cli import main

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    before = card.read_bytes()
    voices = tmp_path / "v.jsonl.gz"
    with gzip.open(voices, "wt") as handle:
        handle.write("")
    assert main(["tune-consonance", str(card), str(voices), "--match-generated"]) == 2
    piece = thirds_piece(tmp_path / "thirds.rb", clash_every=3)
    assert (
        main(["tune-consonance", str(card), str(piece), "--match-generated", "--seeds", "x"]) == 2
    )
    assert card.read_bytes() == before


def test_what_sounds_is_read_per_stretch_as_the_whole_table_reads_it() -> None:
    """The lazily read stretches give, at every onset, what reading every stretch up front
    gives (random voices with rests, overlaps and shared onsets; at, between and around
    every boundary). Notes of a voice may overlap their successors, a voice may be empty,
    and a voice whose onsets are out of order is read voice by voice."""
    from notegen.model.conditioning import _EPS, sounding
    from notegen.model.consonance import _Sounding

    rng = np.random.default_rng(5)
    for case in range(60):
        others = []
        for _v in range(int(rng.integers(1, 6))):
            beats = rng.choice([0.25, 0.5, 1.0, 1.5, 2.0], size=int(rng.integers(0, 40)))
            onsets = np.concatenate([[0.0], np.cumsum(beats)[:-1]]) + float(rng.integers(0, 3))
            ends = onsets + beats * rng.choice([0.5, 1.0, 1.7], size=len(beats))
            pitches = rng.integers(40, 80, size=len(beats)).astype(np.float64)
            pitches[rng.random(len(beats)) < 0.2] = np.nan
            others.append(VoiceTimes(onsets[: len(beats)], ends, pitches))
        unordered = case % 6 == 5 and len(others[0].onsets) > 1
        if unordered:
            order = rng.permutation(len(others[0].onsets))
            v = others[0]
            others[0] = VoiceTimes(v.onsets[order], v.ends[order], v.pitches[order])
        voices = tuple(others)
        edges = np.unique(np.concatenate([v.onsets for v in voices] + [v.ends for v in voices]))
        points = np.concatenate([[-1e9], edges])
        # (a search in a voice out of order depends on the other points searched with it)
        whole = [sounding(voices, points[i : i + 1])[0] for i in range(len(points))]
        if not unordered:
            whole = list(sounding(voices, points))
        expected = [tuple(sorted(row[np.isfinite(row)].tolist())) for row in whole]
        table = _Sounding(voices)
        any_notes = any(v.onsets.size for v in voices)
        assert (table.voices is not None) == (any_notes and not unordered)
        probes = np.concatenate([edges, edges - _EPS, edges + 2 * _EPS, edges + 0.1, [-5.0]])
        for onset in rng.permutation(probes):
            index = int(np.searchsorted(edges, onset + _EPS, side="right"))
            assert table.at(voices, float(onset)) == expected[index]


def test_what_sounds_is_looked_up_in_the_harmony_table_s_own_stretches() -> None:
    """Voices whose harmony table is kept (a piece's settings keep one per voice) lend it
    their stretch boundaries: one sorted array per listening voice, not two; voices with
    none get the same array made anew."""
    from notegen.model.conditioning import harmony_table
    from notegen.model.consonance import _Sounding

    rng = np.random.default_rng(3)
    voices = []
    for _v in range(3):
        beats = rng.choice([0.5, 1.0, 1.5], size=30)
        onsets = np.concatenate([[0.0], np.cumsum(beats)[:-1]])
        voices.append(VoiceTimes(onsets, onsets + beats, rng.integers(50, 70, 30) * 1.0))
    kept, fresh = tuple(voices), tuple(voices[::-1])
    table = harmony_table(kept)
    assert _Sounding(kept).boundaries is table.boundaries  # type: ignore[attr-defined]
    unique = np.unique(np.concatenate([v.onsets for v in fresh] + [v.ends for v in fresh]))
    assert _Sounding(fresh).boundaries.tolist() == unique.tolist()


def test_the_sampling_weight_is_the_rule_read_one_heard_pitch_at_a_time() -> None:
    """The weight generation adds (kept per heard pitch and bass) is ``consonant_notes``
    times the card's weight: random pitches heard (doubled, microtonal, over and under the
    notes), a vocabulary with rests (NaN) and a microtone."""
    from notegen.model.consonance import _bias

    rng = np.random.default_rng(11)
    midi = np.array([np.nan, np.nan, *range(36, 97), 61.5])
    for case in range(300):
        heard = rng.integers(20, 110, size=int(rng.integers(1, 20))).astype(np.float64)
        if case % 3 == 0:
            heard = np.concatenate([heard, heard[:3]])  # doubled voices
        if case % 5 == 0:
            heard[0] += 0.5
        ordered = tuple(sorted(heard.tolist()))
        got = _bias(midi.tobytes(), len(midi), ordered, 0.73)
        assert got.tolist() == (consonant_notes(midi, heard) * 0.73).tolist()


def test_what_many_voices_sound_is_counted_from_checkpoints_as_searched_voice_by_voice() -> None:
    """Twenty voices of a few hundred notes (many checkpoints of the sorted onsets): what the
    table reads at each onset, end, just around them and between them is what a search in
    every voice finds."""
    from notegen.model.conditioning import _EPS, sounding
    from notegen.model.consonance import _Concatenated

    rng = np.random.default_rng(8)
    voices = []
    for _v in range(20):
        beats = rng.choice([0.25, 0.5, 1.0, 1.0 / 3, 2.0], size=int(rng.integers(0, 300)))
        onsets = np.concatenate([[0.0], np.cumsum(beats)[:-1]])[: len(beats)] + rng.integers(0, 4)
        pitches = rng.integers(40, 80, size=len(beats)).astype(np.float64)
        pitches[rng.random(len(beats)) < 0.2] = np.nan
        voices.append(VoiceTimes(onsets, onsets + beats * rng.choice([0.5, 1.0]), pitches))
    others = tuple(voices)
    table = _Concatenated.of(others)
    assert table is not None and len(table.checkpoints) > 20
    edges = np.unique(np.concatenate([v.onsets for v in others] + [v.ends for v in others]))
    probes = np.concatenate([edges, edges - _EPS, edges + _EPS, edges + 0.01, [-3.0, 1e6]])
    for point in probes.tolist():
        expected = sounding(others, np.array([point]))[0]
        assert np.array_equal(table.sounding(point), expected, equal_nan=True)


def _moved_piece(seed: int, microtones: bool = False) -> tuple[VoiceTimes, ...]:
    """What the first of eight voices hears of the others: voices of a few tempi that change
    from section to section, moved onto its beats (as a document's reading moves them)."""
    from notegen.model.ensemble import VoiceLine, setting_for

    rng = np.random.default_rng(seed)
    lines = []
    for number in range(1, 9):
        line = VoiceLine(number)
        for _section in range(int(rng.integers(1, 5))):
            line.section_starts.append(len(line.events))
            line.bpms.append(float(rng.choice([60, 70, 90, 120, 135])))
            for _ in range(int(rng.integers(1, 60))):
                pitch = None if rng.random() < 0.2 else float(rng.integers(36, 90))
                if pitch is not None and microtones and rng.random() < 0.1:
                    pitch += 0.5
                line.events.append(Event(pitch, float(rng.choice([0.25, 0.5, 1.0, 1 / 3, 1.5]))))
        lines.append(line)
    return setting_for(lines, 1).others


def test_what_moved_voices_sound_is_what_a_search_in_each_voice_finds() -> None:
    """Voices moved onto the listener's beats: the table keeps none of their ends itself (it
    moves the few it reads from the voices' own ends in seconds) and, with whole MIDI notes,
    their pitches in one byte each; what it reads at every onset and end of theirs, just
    around them and between them is what a search in every voice finds."""
    from notegen.model.conditioning import _EPS, sounding
    from notegen.model.consonance import _Concatenated

    for seed in range(6):
        for microtones in (False, True):
            others = _moved_piece(seed, microtones)
            table = _Concatenated.of(others)
            assert table is not None
            assert table.ends is None and table.time_map is not None
            assert table.pitches.dtype == (np.float64 if microtones else np.int8)
            assert table.checkpoints.dtype == np.uint16 and len(table.checkpoints) > 1
            edges = np.unique(np.concatenate([v.onsets for v in others] + [v.ends for v in others]))
            probes = np.concatenate([edges, edges - _EPS, edges + _EPS, edges + 0.01, [-3.0, 1e6]])
            for point in probes.tolist():
                expected = sounding(others, np.array([point]))[0]
                assert np.array_equal(table.sounding(point), expected, equal_nan=True)


def test_the_consonance_and_rhythm_experts_search_one_copy_of_the_sorted_onsets() -> None:
    from notegen.model.conditioning import Setting as Place
    from notegen.model.consonance import _Concatenated
    from notegen.model.rhythm import rhythm_context

    others = _moved_piece(3)
    table = _Concatenated.of(others)
    context = rhythm_context(Place(others=others), np.array([0.25, 0.5, 1.0, 2.0]))
    assert table is not None and context is not None
    assert context.onsets is table.sorted_onsets
    every = np.concatenate([v.onsets for v in others])
    assert context.onsets.onsets.tolist() == np.sort(every, kind="stable").tolist()


def test_listeners_of_one_tempo_hear_voices_moved_by_one_time_line() -> None:
    """Voices of one length at one tempo (every listener's tempo map the same): each
    listener's others are moved by one time line object, though some of them were moved for
    an earlier listener, so every listener's table moves the ends it reads instead of
    keeping them all."""
    from notegen.model.consonance import _Concatenated
    from notegen.model.ensemble import VoiceLine, setting_for

    lines = []
    for number in range(1, 5):
        line = VoiceLine(number, [Event(60 + number, 0.5)] * 20, [0], [90.0])
        lines.append(line)
    shared: dict = {}
    for number in range(1, 5):
        others = setting_for(lines, number, shared=shared).others
        assert len({id(v.timeline) for v in others}) == 1  # type: ignore[attr-defined]
        table = _Concatenated.of(others)
        assert table is not None and table.ends is None


def test_voices_whose_onsets_go_back_are_searched_voice_by_voice() -> None:
    """An onset that goes back (or is not finite): no concatenated table, and what sounds is
    still what a search in every voice finds."""
    from notegen.model.conditioning import sounding
    from notegen.model.consonance import _Concatenated, _Sounding

    steady = VoiceTimes(
        np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]), np.array([60.0, 62, 64])
    )
    for onsets in ([0.0, 2.0, 1.0], [0.0, np.nan, 2.0]):
        odd = VoiceTimes(np.array(onsets), np.array(onsets) + 1.0, np.array([48.0, 50, 52]))
        others = (steady, odd)
        assert _Concatenated.of(others) is None
        table = _Sounding(others)
        for point in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5):
            heard = sounding(others, np.array([point]))[0]
            assert table.at(others, point) == tuple(sorted(heard[np.isfinite(heard)].tolist()))
