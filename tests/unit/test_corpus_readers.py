"""Corpus readers: MIDI, MusicXML, ABC and Sonic Pi files become voices aligned in beats.

Each track or part is a voice with the other voices as its context; drums and empty tracks are
skipped; tempo and time signature are kept for the metre inputs; a file that cannot be read
raises :class:`UnreadableFile` with a reason a user understands.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mido")
pytest.importorskip("music21")

from fixtures.music_files import (
    ABC_BOOK,
    MALFORMED,
    write_midi,
    write_midi_chords,
    write_musicxml,
)
from notegen_training.corpora.errors import UnreadableFile
from notegen_training.corpora.files import CorpusPathError, expand
from notegen_training.corpora.read import read_file


def test_midi_tracks_are_voices_drums_and_empty_tracks_skipped(tmp_path: Path) -> None:
    pieces, skipped = read_file(write_midi(tmp_path / "song.mid"), "midi", "song.mid")
    (piece,) = pieces
    assert [v.name for v in piece.voices] == ["t1", "t2"]  # t0: tempo map, t3: drums
    assert skipped == {"drum_tracks": 1, "empty_tracks": 1}
    melody, bass = piece.voices
    assert melody.pitches == [72, 74, 76, 77, 79, 77]
    assert melody.durations == [1, 0.5, 0.5, 1, 2, 1]
    assert melody.onsets == [0, 1, 1.5, 2, 3, 5]
    assert bass.pitches == [48, 43, 48] and bass.onsets == [0, 2, 4]
    assert piece.tempos == [(0, 90)] and piece.time_signatures == [(0, (3, 4))]


def test_a_voice_example_carries_the_other_voices_and_the_bar_position(tmp_path: Path) -> None:
    (piece,), _ = read_file(write_midi(tmp_path / "song.mid"), "midi", "song.mid")
    melody, bass = piece.examples()
    assert melody["id"] == "song.mid#t1"
    # the bass sounds 48 under beats 0-2, 43 under 2-4, 48 under 4-6
    assert melody["context_count"] == [1, 1, 1, 1, 1, 1]
    assert melody["context_pitch"] == [48, 48, 48, 43, 43, 48]
    assert melody["onset"] == [0, 1, 1.5, 2, 3, 5]
    assert melody["bar_position"] == [0, 1, 1.5, 2, 0, 2]  # 3/4: bars of 3 beats
    assert bass["context_pitch"] == [72, 77, 79]
    assert melody["bpm"] == 90 and melody["time_signature"] == [3, 4]


def test_a_voice_example_carries_the_models_conditioning_rows(tmp_path: Path) -> None:
    from notegen.model import conditioning as cond

    (piece,), _ = read_file(write_midi(tmp_path / "song.mid"), "midi", "song.mid")
    melody = piece.examples()[0]
    rows = np.asarray(melody["conditioning"]).reshape(-1, cond.COND_DIM)
    assert rows.shape == (6, cond.COND_DIM)
    bass_classes = [int(np.argmax(r[cond.BASS])) for r in rows]
    assert bass_classes == [0, 0, 0, 7, 7, 0]  # C, C, C, G, G, C under the melody
    assert rows[:, cond.ALONE].tolist() == [0] * 6
    bars = [int(np.argmax(r[cond.BAR])) for r in rows]
    assert bars == [0, 1, 1, 2, 0, 2]  # beat of the 3/4 bar at each onset
    lone = read_file(write_midi(tmp_path / "solo.mid", {"x": (0, [(60, 1), (62, 1)])}), "midi", "x")
    (solo,) = lone[0][0].examples()
    solo_rows = np.asarray(solo["conditioning"]).reshape(-1, cond.COND_DIM)
    assert solo_rows[:, cond.ALONE].tolist() == [1, 1]


def test_midi_chords_give_their_top_note_and_gaps_give_rests(tmp_path: Path) -> None:
    (piece,), _ = read_file(write_midi_chords(tmp_path / "chords.mid"), "midi", "chords.mid")
    (voice,) = piece.voices
    assert voice.pitches == [67, None, 72]
    assert voice.durations == [2, 1, 2]


def test_a_file_with_only_drums_is_unreadable_with_that_reason(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "beat.mid", {"kit": (9, [(36, 1), (38, 1)])})
    with pytest.raises(UnreadableFile, match="no notes outside the drum channel"):
        read_file(path, "midi", "beat.mid")


@pytest.mark.parametrize("suffix", [".musicxml", ".mxl"])
def test_musicxml_parts_are_voices_with_ties_merged_and_chords_topped(
    tmp_path: Path, suffix: str
) -> None:
    path = write_musicxml(
        tmp_path / f"duet{suffix}",
        [["C5", "D5~", "D5", "r", "E5+G5"], ["C3", "G2", "C3", "G2", "C3"]],
        meter="2/4",
    )
    (piece,), _ = read_file(path, "musicxml", path.name)
    upper, lower = piece.voices
    assert upper.pitches == [72, 74, None, 79]
    assert upper.durations == [1, 2, 1, 1]
    assert lower.pitches == [48, 43, 48, 43, 48]
    assert piece.time_signatures == [(0, (2, 4))]
    assert piece.examples()[0]["bar_position"] == [0, 1, 1, 0]


def test_abc_tune_book_gives_each_tune_and_keeps_going_past_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "book.abc"
    path.write_text(ABC_BOOK)
    pieces, skipped = read_file(path, "abc", "book.abc")
    assert [p.id for p in pieces] == ["book.abc#0", "book.abc#2"]
    assert skipped == {"bad_tunes": 1}
    jig, reel = pieces
    assert jig.voices[0].pitches == [67, 69, 71, 72, 74, 76, 74, 71]
    assert jig.voices[0].durations == [0.5] * 6 + [1.5, 1.5]  # L:1/8 from the file header
    assert jig.time_signatures == [(0, (6, 8))]
    assert reel.time_signatures == [(0, (4, 4))]  # its own M: wins over the header's


def test_sonic_pi_voices_start_together(tmp_path: Path) -> None:
    path = tmp_path / "piece.rb"
    path.write_text(
        "a1=[];b1=[]\na1[0]=[:c4,:d4,:e4]\nb1[0]=[1,1,2]\n"
        "a2=[];b2=[]\na2[0]=[:c3,:g2]\nb2[0]=[2,2]\n"
    )
    (piece,), _ = read_file(path, "sonicpi", "piece.rb")
    examples = {e["id"]: e for e in piece.examples()}
    assert examples["piece.rb#a1"]["context_pitch"] == [48, 48, 43]
    assert examples["piece.rb#a2"]["context_pitch"] == [60, 64]


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("broken.mid", "midi", "not a readable MIDI file"),
        ("broken.musicxml", "musicxml", "not readable MusicXML"),
        ("broken.abc", "abc", "no readable ABC tune"),
    ],
)
def test_malformed_files_are_unreadable_with_a_reason(
    tmp_path: Path, name: str, kind: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(MALFORMED[name])
    with pytest.raises(UnreadableFile) as caught:
        read_file(path, kind, name)
    assert caught.value.reason.startswith(reason)


def test_corpus_paths_take_files_folders_and_globs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    write_midi(tmp_path / "a" / "one.mid")
    (tmp_path / "a" / "cover.jpg").write_bytes(b"\xff")
    (tmp_path / "a" / "deep").mkdir()
    (tmp_path / "a" / "deep" / "tune.abc").write_text(ABC_BOOK)
    write_midi(tmp_path / "two.MIDI")
    (tmp_path / "notes.txt").write_text("hello")
    found = list(
        expand([tmp_path / "a", str(tmp_path / "*.MIDI"), tmp_path / "notes.txt", tmp_path / "a"])
    )
    assert [(p.relative_to(tmp_path).as_posix(), k) for p, k in found] == [
        ("a/deep/tune.abc", "abc"),
        ("a/one.mid", "midi"),
        ("two.MIDI", "midi"),
        ("notes.txt", None),  # named explicitly: reported as skipped, not silently dropped
    ]
    with pytest.raises(CorpusPathError, match="no such file or folder"):
        list(expand([tmp_path / "missing"]))
    with pytest.raises(CorpusPathError, match="no file matches"):
        list(expand([str(tmp_path / "*.xml")]))
