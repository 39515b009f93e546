"""Slip hints: a four-voice chorale in C, played twice, with one wrong note in the second pass.

The evidence is the shipped model's (``models/notegen.json``), the other voices sounding with
the note, and the first pass, which the slip breaks. Spec: the planted slip is found with the
fix that restores it and a message in musical terms; the clean piece gets no hint; an ignore
comment on the line silences it; a single voice is not checked unless asked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from notegen.lsp.config import SlipSettings, parse_settings
from notegen.melody import Event
from notegen.model.conditioning import BASS as BASS_CLASS
from notegen.model.conditioning import OTHERS, Setting, VoiceTimes
from notegen.model.copying import log_softmax
from notegen.model.duration_slips import duration_slips, in_step
from notegen.model.harmony import parts_by_section, sounding
from notegen.model.motifs import MotifTable
from notegen.model.network import MelodyModel
from notegen.model.slips import (
    CONTEXT_EVENTS,
    DELTAS,
    WEIGHTS,
    conditioning_rows,
    document_steps,
    find_slips,
    ignored_lines,
    section_features,
    section_key,
    spelled_fix,
    threshold_for,
)
from notegen.notes import infer_style
from notegen.sonicpi import read

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"

# One beat per chord: C F G C | Am Dm G C | C F G C | F G C C
SOPRANO = "E5 F5 D5 C5 C5 D5 B4 C5 E5 F5 D5 E5 F5 D5 E5 C5"
ALTO = "G4 A4 G4 G4 A4 A4 G4 G4 G4 A4 G4 G4 A4 G4 G4 E4"
TENOR = "E4 C4 B3 E4 E4 F4 D4 E4 C4 C4 B3 C4 C4 B3 E4 G3"
BASS = "C3 F3 G3 C3 A2 D3 G2 C3 C3 F3 G3 C3 F3 G3 C3 C3"
SLIP_INDEX = 16 + 14  # the second pass's E5 over C–E–G (tenor E4, alto G4, bass C3)


def chorale(second_pass_note: str = "E5", voices: int = 4, comment: str = "") -> str:
    """The chorale as Robin Newman writes pieces: one ``aN[0]``/``bN[0]`` pair per voice."""
    soprano = SOPRANO.split()
    second = list(soprano)
    second[14] = second_pass_note
    parts = [soprano + second, ALTO.split() * 2, TENOR.split() * 2, BASS.split() * 2]
    lines = []
    for number, notes in enumerate(parts[:voices], start=1):
        symbols = ",".join(":" + n for n in notes)
        tail = comment if number == 1 else ""
        lines.append(f"a{number}[0]=[{symbols}]{tail}")
        lines.append(f"b{number}[0]=[{','.join(['1'] * len(notes))}]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def shipped() -> MelodyModel:
    return MelodyModel.load(SHIPPED)


def test_a_flattened_note_against_the_chord_is_hinted_with_its_fix(shipped):
    text = chorale("Ef5")
    slips = find_slips(shipped, text)
    assert [(s.voice, s.section, s.index) for s in slips] == [(1, 0, SLIP_INDEX)]
    slip = slips[0]
    assert text[slip.span.start : slip.span.end] == ":Ef5"
    assert slip.fixes[0].midi == 76  # E5
    assert spelled_fix(slip.fixes[0], infer_style(text)) == ":E5"
    assert slip.message.startswith("E♭5 against C–E–G in the other voices; E5 is ")
    assert slip.message.endswith("× more likely here")


def test_a_note_a_step_too_high_is_hinted_and_fixed(shipped):
    slips = find_slips(shipped, chorale("F5"))
    assert [(s.index, s.fixes[0].midi) for s in slips] == [(SLIP_INDEX, 76)]


def test_the_clean_chorale_gets_no_hint(shipped):
    assert find_slips(shipped, chorale()) == []


def test_higher_sensitivity_reports_more_than_lower(shipped):
    text = chorale("D5")  # a scale step down: a weaker case
    high = find_slips(shipped, text, threshold=threshold_for("high"))
    low = find_slips(shipped, text, threshold=threshold_for("low"))
    assert threshold_for("high") < WEIGHTS.threshold < threshold_for("low")
    assert len(high) >= len(low)


def test_an_ignore_comment_on_the_line_silences_the_hint(shipped):
    assert find_slips(shipped, chorale("Ef5", comment=" # notegen: ignore")) == []
    assert find_slips(shipped, chorale("Ef5", comment=f" # notegen: ignore {SLIP_INDEX}")) == []
    other = find_slips(shipped, chorale("Ef5", comment=" # notegen: ignore 3"))
    assert [s.index for s in other] == [SLIP_INDEX]


def test_plain_voices_are_checked_as_one_section(shipped):
    text = chorale("Ef5").replace("[0]=", "=")  # a1=[...], b1=[...]: no sections
    assert [(s.voice, s.section, s.index) for s in find_slips(shipped, text)] == [
        (1, 0, SLIP_INDEX)
    ]


def test_ignore_comments_are_read_from_comments_only():
    text = 'a = "# notegen: ignore"\nb = 1 # notegen: ignore 4, 7\nc = 2 # notegen: ignore\n'
    assert ignored_lines(text) == {1: {4, 7}, 2: None}


def test_a_single_voice_is_not_checked_by_default(shipped):
    text = chorale("Ef5", voices=1)
    assert find_slips(shipped, text) == []
    parts = parts_by_section(read(text))
    assert list(parts[0]) == [1]  # the voice is read; only the check is off


def test_sections_are_cached_by_content(shipped):
    text = chorale("Ef5")
    cache: dict = {}

    def run(source: str) -> list:
        steps = document_steps(shipped, source, read(source), cache=cache)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    first = run(text)
    assert len(cache) == 1
    moved = "# a comment above moves every offset\n" + text
    again = run(moved)
    assert len(cache) == 1  # same notes: no new evidence computed
    assert [moved[s.span.start : s.span.end] for s in again] == [":Ef5"]
    assert [s.index for s in again] == [s.index for s in first]
    key = section_key(list(parts_by_section(read(text))[0].values()), {})
    assert key in cache


def test_other_voices_sounding_at_an_onset():
    parts = parts_by_section(read(chorale()))[0]
    here = sounding(parts[1], [parts[2], parts[3], parts[4]])[14]
    assert sorted(here.pitches) == [48.0, 64.0, 67.0]  # C3, E4, G4
    assert all(here.attack)


def test_the_sensitivity_setting_is_validated():
    settings, warnings = parse_settings({"slips": {"sensitivity": "high", "allPieces": True}})
    assert settings.slips == SlipSettings(sensitivity="high", allPieces=True)
    settings, warnings = parse_settings({"slips": {"sensitivity": "very"}})
    assert settings.slips.sensitivity == "default"
    assert warnings and "notegen.slips.sensitivity" in warnings[0]


def test_a_duration_that_puts_one_voice_out_of_step_is_hinted():
    text = chorale()
    durations = ",".join(["1"] * 32)
    slipped = durations.replace("1,1,1,1,1,1", "1,1,1,1,1,0.5", 1)  # the tenor's 6th note
    text = text.replace(f"b3[0]=[{durations}]", f"b3[0]=[{slipped}]")
    parts = list(parts_by_section(read(text))[0].values())
    found = duration_slips(parts)
    assert [(d.voice, d.written, d.fix) for d in found] == [(3, 0.5, 1.0)]
    assert text[found[0].span.start : found[0].span.end] == "0.5"
    assert found[0].message == (
        "0.5 beats makes voice 3 0.5 beats shorter than the other voices in this section; "
        "1 beat keeps it in step with them"
    )
    # the tenor is heard and checked up to where its notes stop fitting (just after the slip)
    kept = {p.voice: len(p) for p in in_step(parts)}
    assert kept[1] == kept[2] == kept[4] == 32 and 6 <= kept[3] < 32


def test_a_clean_piece_has_no_duration_hint():
    assert duration_slips(list(parts_by_section(read(chorale()))[0].values())) == []


def test_the_model_hears_the_other_voices_at_each_onset(shipped):
    parts = list(parts_by_section(read(chorale()))[0].values())
    rows = conditioning_rows(shipped, parts, {})
    assert [len(r) for r in rows] == [33] * 4  # a row per note, then one for what follows
    soprano_e5 = rows[0][SLIP_INDEX]
    assert np.flatnonzero(soprano_e5[OTHERS]).tolist() == [0, 4, 7]  # C, E, G
    assert np.flatnonzero(soprano_e5[BASS_CLASS]).tolist() == [0]  # C3 in the bass


def test_the_previous_sections_tail_is_heard_before_the_section(shipped):
    text = chorale() + chorale().replace("[0]", "[1]")
    sections = parts_by_section(read(text))
    parts, previous = list(sections[1].values()), sections[0]
    rows = conditioning_rows(shipped, parts, previous)
    tail = CONTEXT_EVENTS  # the soprano reads the last 32 notes of section 0 first
    assert len(rows[0]) == tail + 32 + 1
    # the last chord of section 0 (C–E–G over C), then section 1's first (C–E–G over C)
    assert np.flatnonzero(rows[0][tail - 1, OTHERS]).tolist() == [0, 4, 7]
    assert np.flatnonzero(rows[0][tail + 1, OTHERS]).tolist() == [0, 5, 9]  # F–A–C: chord 2


def test_the_evidence_after_a_note_is_the_next_two_notes_with_the_alternative_in_place(shipped):
    parts = list(parts_by_section(read(chorale("F5")))[0].values())
    features = section_features(shipped, parts)
    t = 26  # the soprano's D5 in the second pass: E5 and F5 follow it
    row = int(np.flatnonzero((features.part_of == 0) & (features.index == t))[0])
    others = tuple(
        VoiceTimes.of([Event(p, d) for p, d in zip(q.pitches, q.durations, strict=True)])
        for q in parts[1:]
    )
    soprano = parts[0]
    for column, delta in enumerate([0, *DELTAS.tolist()]):
        pitches = soprano.pitches.copy()
        pitches[t] += delta
        events = [Event(int(p), float(d)) for p, d in zip(pitches, soprano.durations, strict=True)]
        logits, _, _ = shipped.run(events, setting=Setting(others=others))
        lp = log_softmax(logits)
        after = [shipped.pitch_id(int(pitches[t + k])) for k in (1, 2)]
        # The check reads every alternative as a row of one call; the shipped graph's int8
        # LSTM rounds hidden states over the rows (MelodyModel.quantized): within 0.05 nats
        # of each alternative read alone (the float graph: within 1e-3).
        close = 0.05 if shipped.quantized else 1e-3
        assert features.right[row, column] == pytest.approx(lp[t + 1, after[0]], abs=close)
        assert features.right2[row, column] == pytest.approx(lp[t + 2, after[1]], abs=close)


def test_a_cached_sections_repeats_follow_edits_elsewhere_in_the_piece(shipped):
    def piece(first_section_note: str) -> str:
        return (
            chorale(first_section_note)
            + chorale().replace("[0]", "[1]")
            + chorale("Ef5").replace("[0]", "[2]")
        )

    cache: dict = {}

    def run(source: str) -> list:
        steps = document_steps(shipped, source, read(source), cache=cache)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def motif_columns(features) -> list:
        return [features.motif_long, features.motif_short, features.motif_exact]

    before, after = piece("E5"), piece("D5")  # only section 0 differs
    run(before)
    sections = parts_by_section(read(after))
    key = section_key(list(sections[2].values()), sections[1])
    cached_before = motif_columns(cache[key])
    run(after)
    assert len(cache) == 5  # sections 0 and 1 (read after 0's tail) rescored, 2 kept ...
    every_part = [p for s in sections.values() for p in s.values()]
    fresh = section_features(
        shipped, list(sections[2].values()), sections[1], motifs=MotifTable(every_part)
    )
    # ... with its repeats counted in the piece as it is now
    for kept, now in zip(motif_columns(cache[key]), motif_columns(fresh), strict=True):
        assert np.array_equal(kept, now)
    changed = zip(motif_columns(fresh), cached_before, strict=True)
    assert any(not np.array_equal(now, then) for now, then in changed)
