"""Multi-voice pieces from music21 scores, and the examples a conditioned fit trains on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from notegen.melody import Event
from notegen.model.conditioning import ALONE, OTHERS
from notegen_training.conditioned import melody_example, piece_examples
from notegen_training.corpus import Melody, split_of
from notegen_training.tokens import Vocab
from notegen_training.voices_corpus import (
    Piece,
    piece_of_score,
    read_pieces,
    split_pieces,
    write_pieces,
)


def two_part_score():  # type: ignore[no-untyped-def]
    """3/4 with a one-beat pickup: soprano G4 | B4 (tied over two notes) D5 ... ; bass enters
    a beat late after a rest, with a chord (its top note counts) and a grace note (dropped)."""
    from music21 import chord, meter, note, stream

    soprano, bass = stream.Part(), stream.Part()
    soprano.partName, bass.partName = "Soprano", "Bass"
    pickup_s = stream.Measure(number=0)
    pickup_s.append(meter.TimeSignature("3/4"))
    pickup_s.append(note.Note("G4", quarterLength=1))
    pickup_s.paddingLeft = 2.0
    bar_s = stream.Measure(number=1)
    first, second = note.Note("B4", quarterLength=1), note.Note("B4", quarterLength=1)
    first.tie, second.tie = tie_pair()
    bar_s.append([first, second, note.Note("D5", quarterLength=1)])
    soprano.append([pickup_s, bar_s])
    pickup_b = stream.Measure(number=0)
    pickup_b.append(meter.TimeSignature("3/4"))
    pickup_b.append(note.Rest(quarterLength=1))
    pickup_b.paddingLeft = 2.0
    bar_b = stream.Measure(number=1)
    grace = note.Note("A2", quarterLength=0).getGrace()
    bar_b.append(
        [grace, chord.Chord(["G2", "D3"], quarterLength=2), note.Note("G2", quarterLength=1)]
    )
    bass.append([pickup_b, bar_b])
    score = stream.Score([soprano, bass])
    return score


def tie_pair():  # type: ignore[no-untyped-def]
    from music21 import tie

    return tie.Tie("start"), tie.Tie("stop")


def test_a_score_becomes_aligned_voices_with_its_metre() -> None:
    piece = piece_of_score(two_part_score(), "test/score#0", "test")
    assert piece is not None
    soprano, bass = piece.voices
    assert (soprano.name, soprano.start) == ("Soprano", 0.0)
    assert soprano.events == [Event(67, 1.0), Event(71, 2.0), Event(74, 1.0)]  # tie merged
    assert (bass.name, bass.start) == ("Bass", 1.0)  # enters after its rest
    assert bass.events == [Event(50, 2.0), Event(43, 1.0)]  # chord's top note, grace dropped
    assert (piece.meter, piece.bar_beats, piece.bar_phase) == ("3/4", 3.0, 2.0)


def test_every_voice_of_a_piece_is_in_the_split_of_the_piece_id(tmp_path: Path) -> None:
    piece = piece_of_score(two_part_score(), "bach/bwv10.7#0", "bach")
    assert piece is not None and piece.split == split_of("bach/bwv10.7#0") == "train"
    other = Piece("x#6", piece.voices)
    assert split_pieces([piece, other]) == {"train": [piece], "valid": [], "test": [other]}
    write_pieces(tmp_path / "p.jsonl.gz", [piece])
    (back,) = read_pieces(tmp_path / "p.jsonl.gz")
    assert [v.events for v in back.voices] == [v.events for v in piece.voices]
    assert (back.bar_beats, back.bar_phase, back.voices[1].start) == (3.0, 2.0, 1.0)


def test_each_voice_trains_with_the_others_and_melodies_alone() -> None:
    piece = piece_of_score(two_part_score(), "t#0", "test")
    assert piece is not None
    vocab = Vocab()
    (s_p, _, s_rows), (_, _, b_rows) = piece_examples(piece, vocab)
    assert s_rows.shape == (3, 57) and len(s_p) == 3
    # soprano's B4 starts at beat 1 over the bass's D3 (top of the G2-D3 chord)
    assert np.nonzero(s_rows[1][OTHERS])[0].tolist() == [2]
    # the bass's first note starts at beat 1 under the soprano's B4
    assert np.nonzero(b_rows[0][OTHERS])[0].tolist() == [11]
    melody = Melody("m#0", [Event(60, 1.0), Event(62, 1.0)])
    _, _, rows = melody_example(melody, vocab)
    assert rows[:, ALONE].all()
