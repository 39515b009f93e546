"""Conditioning rows: what a voice hears of the others, its beat and bar, and how far the end is.

The same function builds the rows for training and for the server, so these tests pin down
what the network is told about a melody's place in a piece.
"""

from __future__ import annotations

import numpy as np
import pytest
from notegen.melody import Event
from notegen.model.conditioning import (
    ALONE,
    BAR,
    BASS,
    BEAT,
    BEATS_LEFT,
    COND_DIM,
    NOTES_LEFT,
    OTHERS,
    REGISTER,
    Metre,
    Setting,
    VoiceTimes,
    alone,
    condition_row,
    condition_rows,
    onsets_of,
    transpose_rows,
    unknown_end,
)

C, E, G = 60, 64, 67


def bass_and_alto() -> tuple[VoiceTimes, ...]:
    """A bass holding C3 for 2 beats then G2; an alto E4 for 1 beat, a rest, then G4."""
    bass = VoiceTimes.of([Event(48, 2.0), Event(43, 2.0)])
    alto = VoiceTimes.of([Event(E, 1.0), Event(None, 1.0), Event(G, 2.0)])
    return bass, alto


def pitch_classes(row: np.ndarray) -> set[int]:
    return {int(i) for i in np.nonzero(row[OTHERS])[0]}


def test_other_voices_sounding_at_each_onset() -> None:
    rows = condition_rows(np.array([0.0, 1.0, 1.5, 2.0, 3.5]), bass_and_alto())
    assert rows.shape == (5, COND_DIM)
    assert pitch_classes(rows[0]) == {0, 4}  # C3 and E4
    assert pitch_classes(rows[1]) == {0}  # the alto rests, the bass still holds C3
    assert pitch_classes(rows[2]) == {0}
    assert pitch_classes(rows[3]) == {7}  # G2 and G4: one pitch class
    assert int(np.argmax(rows[3][BASS])) == 7
    assert rows[0][REGISTER].tolist() == [pytest.approx(-1.0), pytest.approx(4 / 12)]
    assert not rows[:, ALONE].any()


def test_after_the_piece_ends_nothing_sounds_and_alone_is_not_claimed() -> None:
    (row,) = condition_rows(np.array([10.0]), bass_and_alto())
    assert not row[OTHERS].any() and not row[BASS].any() and row[ALONE] == 0


def test_a_melody_without_voices_is_alone() -> None:
    rows = condition_rows(np.array([0.0, 0.5]))
    assert rows[:, ALONE].tolist() == [1.0, 1.0]
    assert not rows[:, OTHERS].any()


def test_beat_and_bar_positions() -> None:
    times = np.array([0.0, 0.5, 0.75, 1.0, 1 / 3, 3.0])
    rows = condition_rows(times, metre=Metre(3.0, phase=2.0))  # a one-beat pickup in 3/4
    assert [int(np.argmax(r[BEAT])) for r in rows] == [0, 2, 3, 0, 4, 0]
    assert [int(np.argmax(r[BAR])) for r in rows] == [2, 2, 2, 0, 2, 2]
    unknown = condition_rows(times)
    assert unknown[:, BAR.start + 6].all()


def test_distance_to_the_end_in_events_and_beats() -> None:
    rows = condition_rows(np.array([0.0, 3.0, 7.5]), notes_left=np.array([20, 3, 1]), end=8.0)
    assert [int(np.argmax(r[NOTES_LEFT])) for r in rows] == [7, 3, 1]  # 17+, three, last
    # 8 beats left: "<= 8"; 5: "<= 6"; 0.5: "<= 1"
    assert [int(np.argmax(r[BEATS_LEFT])) for r in rows] == [6, 5, 1]
    hidden = unknown_end(rows)
    assert hidden[:, NOTES_LEFT.start].all() and hidden[:, BEATS_LEFT.start].all()


def test_transposing_rows_moves_the_harmony_with_the_notes() -> None:
    rows = condition_rows(np.array([0.0]), bass_and_alto())
    up = transpose_rows(rows, 2)
    assert pitch_classes(up[0]) == {2, 6}
    assert int(np.argmax(up[0][BASS])) == 2
    assert up[0][REGISTER][0] == pytest.approx(rows[0][REGISTER][0] + 2 / 12)
    assert alone(rows)[0][ALONE] == 1 and not alone(rows)[0][OTHERS].any()


def test_setting_rows_follow_the_melody_from_any_step() -> None:
    events = [Event(C, 1.0), Event(E, 0.5), Event(G, 0.5), Event(C, 2.0)]
    setting = Setting(bass_and_alto(), total_notes=4)
    beats = np.array([e.duration for e in events])
    whole = setting.rows(beats, 0, 5)
    assert np.array_equal(setting.rows(beats, 2, 3), whole[2:])
    onsets = onsets_of(events)
    assert np.array_equal(whole, condition_rows(onsets, setting.others, None, 4 - np.arange(5)))
    open_end = Setting(bass_and_alto())
    later = open_end.later(1.0).rows(beats[1:], 0, 1)[0]
    assert later.tolist() == open_end.rows(beats, 1, 1)[0].tolist()


def test_rows_looked_up_per_stretch_are_the_rows_computed_voice_by_voice() -> None:
    """The server looks the other voices up in a compact per-stretch table (one per voice of a
    piece, kept while the piece is open): it must tell the network exactly what reading every
    voice at that time would, at onsets, ends, between them, before and after the piece,
    with rests, overlapping notes and microtones."""
    from notegen.model.conditioning import _direct_harmony, harmony_rows

    rng = np.random.default_rng(12)
    for _ in range(50):
        voices = []
        for _voice in range(int(rng.integers(1, 5))):
            n = int(rng.integers(0, 30))
            beats = rng.choice([0.25, 0.5, 1.0, 1.5], n)
            onsets = rng.uniform(0, 3) + np.concatenate([[0.0], np.cumsum(beats)[:-1]])[:n]
            pitches = rng.choice([np.nan, 60.0, 61.5, 47.0, 72.0, 30.0, 127.0], n)
            voices.append(VoiceTimes(onsets, onsets + beats, pitches))
        edges = np.concatenate([[0.0], *(v.onsets for v in voices), *(v.ends for v in voices)])
        times = np.concatenate([rng.uniform(-1, 40, 200), edges, edges - 1e-7, edges + 1e-7])
        looked_up = harmony_rows(tuple(voices), times)
        assert np.array_equal(looked_up, _direct_harmony(voices, times))
        assert np.array_equal(harmony_rows(tuple(voices), times[:1]), looked_up[:1])


def test_the_stretches_boundaries_are_every_onset_and_end_once_in_order() -> None:
    """The table's boundaries are ``np.unique`` of the voices' onsets and ends, found by a
    stable sort: voices laid out pass after pass, unsorted and empty arrays, arrays ending in
    NaNs (what a NaN duration leaves in every later onset: kept once, last, as ``np.unique``
    keeps it)."""
    from notegen.model.conditioning import sorted_unique

    rng = np.random.default_rng(7)
    loop = [Event(int(p), 0.25) for p in rng.integers(55, 80, 25)]
    tiled = [VoiceTimes.of(loop, start=-6.25 * 9, default=0.0, repeat=19) for _ in range(3)]
    cases = [[v.onsets for v in tiled] + [v.ends for v in tiled]]
    for _ in range(500):
        arrays = []
        for _array in range(int(rng.integers(1, 6))):
            n = int(rng.integers(0, 30))
            values = np.cumsum(rng.choice([0.0, 0.1, 0.25, 1 / 3, 0.5], n)) - rng.choice(
                [0, 0.1, 3]
            )
            if n and rng.random() < 0.2:
                values[int(rng.integers(0, n)) :] = np.nan
            arrays.append(rng.permutation(values) if rng.random() < 0.2 else values)
        cases.append(arrays)
    for arrays in cases:
        assert np.array_equal(
            sorted_unique(arrays), np.unique(np.concatenate(arrays)), equal_nan=True
        )


def test_loops_laid_out_pass_after_pass_are_looked_up_as_read_voice_by_voice() -> None:
    """A live_loop hears the other loops laid out pass after pass (thousands of events made of
    a few): their table tells what reading every voice would, across the passes' joins."""
    from notegen.model.conditioning import _direct_harmony, harmony_rows

    rng = np.random.default_rng(3)
    beats = rng.choice([0.25, 0.5, 0.75], 8)  # (one pass: 8 events, every loop as long)
    length = float(beats.sum())
    loops = tuple(
        VoiceTimes.of(
            [
                Event(None if p < 50 else int(p), float(d))
                for p, d in zip(pitches, beats, strict=True)
            ],
            start=-length * 5,
            default=0.0,
            repeat=11,
        )
        for pitches in rng.integers(45, 80, (4, 8))
    )
    times = np.concatenate([rng.uniform(-length * 6, length * 7, 500), loops[0].onsets])
    assert np.array_equal(harmony_rows(loops, times), _direct_harmony(loops, times))


def test_a_table_keeps_whole_notes_in_a_byte_and_microtones_as_they_are() -> None:
    """Note names and MIDI numbers are whole: the table's lowest and highest pitches take a
    byte each then (a 20-voice piece keeps a table per voice), and the rows are the same."""
    from notegen.model.conditioning import _direct_harmony, harmony_rows, harmony_table

    onsets = np.array([0.0, 1.0, 2.0, 3.0])
    for pitches, small in (([60.0, 127.0, np.nan, 0.0], True), ([60.0, 61.5, 47.0, 72.0], False)):
        voices = (
            VoiceTimes(onsets, onsets + 1, np.array(pitches)),
            VoiceTimes(onsets + 0.5, onsets + 1.5, np.array([48.0, 55.0, 52.0, 55.0])),
        )
        table = harmony_table(voices)
        assert (table.high.itemsize == 1) is small  # type: ignore[attr-defined]
        times = np.concatenate([np.arange(-1.0, 6.0, 0.25), onsets + 1e-7, onsets + 0.5 - 1e-7])
        assert np.array_equal(harmony_rows(voices, times), _direct_harmony(voices, times))


def test_looking_up_a_readings_voices_does_not_keep_them_alive() -> None:
    """The server reads the piece again after each pause in typing; the voices of the
    readings it dropped (and their tables) must go, however many readings came before."""
    import gc
    import weakref

    readings = []
    for _ in range(5):
        others = bass_and_alto()
        Setting(others=others).key()
        condition_rows(np.array([0.0, 1.0]), others)
        readings.append(weakref.ref(others[0]))
        del others
    gc.collect()
    assert [r() for r in readings] == [None] * 5


def test_the_row_of_one_generated_step_is_the_row_of_a_whole_stretch() -> None:
    """A generated note asks for one row at a time (:func:`condition_row`, a few scalar
    steps): every value is what :func:`condition_rows` computes for many times at once, with
    other voices or alone, metre known or not, the end known or not."""
    rng = np.random.default_rng(4)
    for case in range(40):
        voices = []
        for _voice in range(int(rng.integers(0, 4))):
            n = int(rng.integers(1, 30))
            beats = rng.choice([0.25, 0.5, 1.0, 1.0 / 3], n)
            onsets = rng.uniform(0, 3) + np.concatenate([[0.0], np.cumsum(beats)[:-1]])
            voices.append(VoiceTimes(onsets, onsets + beats, rng.choice([np.nan, 60.0, 47.5], n)))
        others = tuple(voices)
        metre = Metre(3.0, 0.5) if case % 2 else None
        end = 12.0 if case % 3 else None
        times = np.concatenate([rng.uniform(-1, 15, 30), *(v.onsets for v in voices)])
        left = rng.integers(-1, 20, len(times))
        whole = condition_rows(times, others, metre, left, end)
        for t, n, expected in zip(times.tolist(), left.tolist(), whole, strict=True):
            assert condition_row(t, others, metre, n, end).tolist() == expected.tolist()


def test_a_table_per_voices_is_reused_while_they_live_and_dropped_with_them() -> None:
    """The memo of the other voices' tables answers the same tuple from its entry, another
    tuple (even of the same voices) with its own, and forgets an entry once a voice dies."""
    import gc

    from notegen.model.conditioning import _PerVoices

    memo: _PerVoices[int] = _PerVoices()
    made: list[tuple[VoiceTimes, ...]] = []

    def make(others: tuple[VoiceTimes, ...]) -> int:
        made.append(others)
        return len(made)

    first = bass_and_alto()
    assert memo.get(first, make) == memo.get(first, make) == 1
    again = tuple(first)[::-1][::-1]  # the same voices in a new tuple
    assert again is not first and memo.get(again, make) == 2
    other = bass_and_alto()
    assert memo.get(other, make) == 3 and len(memo) == 3
    made.clear()
    del first, again
    gc.collect()
    assert len(memo) == 1 and memo.get(other, make) == 3


def test_a_voice_played_over_and_over_is_the_voice_of_its_events_repeated() -> None:
    events = [Event(60, 0.5), Event(None, 0.25), Event(64, None), Event(67, 0.3), Event(62, 0)]
    once = VoiceTimes.of(events * 41, start=-12.3, default=0.0)
    repeated = VoiceTimes.of(events, start=-12.3, default=0.0, repeat=41)
    for a, b in ((once.onsets, repeated.onsets), (once.ends, repeated.ends)):
        assert a.tobytes() == b.tobytes()
    assert np.array_equal(once.pitches, repeated.pitches, equal_nan=True)


def test_the_sorted_onsets_name_their_voices_in_the_narrowest_integers() -> None:
    from notegen.model.conditioning import SortedOnsets

    rng = np.random.default_rng(3)
    widths = set()
    for count in (5, 127, 128, 160, 300):
        voices = []
        for _ in range(count):
            lengths = rng.choice([0.25, 0.5, 1.0], int(rng.integers(0, 6)))
            ends = np.cumsum(lengths)
            voices.append(VoiceTimes(ends - lengths, ends, np.full(len(lengths), 60.0)))
        order = SortedOnsets(tuple(voices))
        heard = [k for k, v in enumerate(voices) if len(v.onsets)]
        assert order.owners.itemsize == (1 if len(heard) <= 127 else 2)
        widths.add(order.owners.itemsize)
        whole = np.concatenate([voices[k].onsets for k in heard])
        owners = np.repeat(np.arange(len(heard)), [len(voices[k].onsets) for k in heard])
        ranked = np.argsort(whole, kind="stable")
        assert order.owners.tolist() == owners[ranked].tolist()
        assert order.onsets.tolist() == whole[ranked].tolist()
    assert widths == {1, 2}


def test_onsets_kept_as_places_among_the_harmony_boundaries_are_counted_alike() -> None:
    """Where the voices' harmony table is made, the sorted onsets are kept as places among
    its boundaries: every count below or up to a point is the sorted values' own."""
    from notegen.model.conditioning import SortedOnsets, harmony_table

    rng = np.random.default_rng(9)
    for case in range(12):
        voices = []
        for k in range(1 + case % 5):
            lengths = rng.choice([0.25, 0.5, 1.0 / 3, 1.5], int(rng.integers(0, 40)))
            ends = 0.5 * k + np.cumsum(lengths)
            voices.append(VoiceTimes(ends - lengths, ends, np.full(len(lengths), 60.0 + k)))
        others = tuple(voices)
        plain = SortedOnsets(others)
        harmony_table(others)  # (memoised for these voices)
        placed = SortedOnsets(others)
        assert placed._values is None or not len(placed)  # (kept as places)
        assert placed.onsets.tobytes() == plain.onsets.tobytes()
        assert placed.owners.tolist() == plain.owners.tolist()
        values = plain.onsets
        points = np.concatenate(
            [values, values - 1e-9, values + 1e-9, np.nextafter(values, -np.inf), [-1.0, 1e9]]
        )
        for point in points.tolist():
            assert placed.count_below(point) == int(values.searchsorted(point))
            assert placed.count_to(point) == int(values.searchsorted(point, side="right"))
