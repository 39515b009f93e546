"""MIDI files: the notes and durations of a melody, readable by any MIDI tool (mido here)."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest
from notegen.melody import Event
from notegen.playback.midi_file import Step, build_midi, read_midi, steps_from_arrays, write_midi
from notegen.playback.play_cli import main, melody_voices
from notegen.sonicpi import render_block


def test_notes_and_durations_read_back_the_same(tmp_path: Path) -> None:
    steps = steps_from_arrays([60, 62, None, 67.0, [60, 64, 67]], [0.5, 0.25, 1, 1.5, 2], bpm=70)
    out = write_midi(tmp_path / "m.mid", {"voice 1": steps})
    voices, bpm = read_midi(out)
    assert bpm == pytest.approx(70)
    assert voices["voice 1"] == [
        Step((60.0,), 0.5, bpm),
        Step((62.0,), 0.25, bpm),
        Step((), 1.0, bpm),
        Step((67.0,), 1.5, bpm),
        Step((60.0, 64.0, 67.0), 2.0, bpm),
    ]
    assert mido.MidiFile(str(out)).length == pytest.approx(5.25 * 60 / 70)


def test_voices_become_tracks_and_keep_their_own_timing_at_another_bpm() -> None:
    midi = build_midi({"voice 1": [Step((60.0,), 1, 60)], "voice 2": [Step((72.0,), 1, 120)]})
    assert midi.type == 1 and len(midi.tracks) == 2
    assert midi.length == pytest.approx(1.0)  # voice 2's beat at 120 bpm lasts 0.5 s
    channels = {m.channel for t in midi.tracks for m in t if m.type == "note_on"}
    assert channels == {0, 1}


def test_a_trailing_rest_keeps_the_file_long_enough(tmp_path: Path) -> None:
    out = write_midi(tmp_path / "r.mid", {"v": steps_from_arrays([60, None], [1, 1])})
    assert mido.MidiFile(str(out)).length == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("notes", "durations", "message"),
    [
        ([60, 62], [1], "2 notes but 1 durations"),
        ([60], [0], "positive"),
        ([60], [float("nan")], "positive"),
    ],
)
def test_arrays_sonic_pi_could_not_play_are_refused(notes, durations, message) -> None:
    with pytest.raises(ValueError, match=message):
        steps_from_arrays(notes, durations)


def test_out_of_range_and_empty_melodies_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the MIDI range"):
        build_midi({"v": [Step((130.0,), 1)]})
    with pytest.raises(ValueError, match="empty"):
        build_midi({"v": []})


def test_a_sonic_pi_file_renders_to_midi_without_sonic_pi(tmp_path: Path, capsys) -> None:
    source = tmp_path / "tune.rb"
    source.write_text(
        render_block(1, [[Event(60, 0.5), Event(None, 0.5)], [Event(64, 1)]], [120, 60])
        + render_block(2, [[Event(48, 2)]], 60)
    )
    out = tmp_path / "tune.mid"
    assert main(["render", str(source), "--midi", str(out)]) == 0
    voices, bpm = read_midi(out)
    assert bpm == pytest.approx(120)
    # voice 1: 0.5 + 0.5 beats at 120, then 1 beat at 60 = 2 beats at 120; voice 2: 4 beats
    assert voices["voice 1"] == [
        Step((60.0,), 0.5, bpm),
        Step((), 0.5, bpm),
        Step((64.0,), 2.0, bpm),
    ]
    assert voices["voice 2"] == [Step((48.0,), 4.0, bpm)]
    assert "wrote" in capsys.readouterr().out


def test_an_invalid_note_names_file_and_line(tmp_path: Path) -> None:
    text = "a1=[]\nb1=[]\na1[0]=[:C4,\n:Hx4]\nb1[0]=[1,1]\n"
    with pytest.raises(ValueError, match=r"tune.rb:4: .*Hx4"):
        melody_voices(text, "tune.rb")


def test_render_without_an_output_or_of_a_missing_file_says_so(tmp_path: Path, capsys) -> None:
    assert main(["render", str(tmp_path / "tune.rb")]) == 2
    assert "--wav" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="cannot read"):
        main(["render", str(tmp_path / "missing.rb"), "--midi", str(tmp_path / "x.mid")])
