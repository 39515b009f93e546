"""The writer renders playable voices that Ruby accepts and the reader reads back unchanged."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notegen.melody import Event
from notegen.notes import NoteStyle
from notegen.sonicpi import format_duration, next_free_voice, read, render_block

FLATS = NoteStyle(accidental="flat", flat_letter="f", case="upper")


def test_block_in_robin_newmans_form() -> None:
    block = render_block(
        3, [[Event(60, 1.0), Event(None, 0.5), Event(63, 0.25)]], [70], style=FLATS
    )
    assert block == (
        "a3=[]\n"
        "b3=[]\n"
        "a3[0]=[:C4,:r,:Ef4]\n"
        "b3[0]=[1,0.5,0.25]\n"
        "c3=[70]\n"
        "in_thread do\n"
        "  for i in 0..a3.length-1\n"
        "    use_bpm c3[i]\n"
        "    for j in 0..a3[i].length-1\n"
        "      play a3[i][j], sustain: b3[i][j]*0.9, release: b3[i][j]*0.1\n"
        "      sleep b3[i][j]\n"
        "    end\n"
        "  end\n"
        "end\n"
    )


def test_long_arrays_wrap_after_commas_within_the_width() -> None:
    melody = [Event(60 + (k % 12), 0.25) for k in range(100)]
    block = render_block(1, [melody], [96], width=60)
    array_lines = block[: block.index("in_thread")].splitlines()
    assert max(len(line) for line in array_lines) <= 60  # the loop's lines are fixed
    assert block.count("\n") > 10
    (arr,) = read(block)
    assert [n.midi for n in arr.notes] == [e.pitch for e in melody]


def test_several_sections_with_their_own_tempo() -> None:
    sections = [[Event(60, 1.0)], [Event(62, 2.0), Event(64, 0.5)], []]
    block = render_block(2, sections, [70, 80.5, 60])
    assert "c2=[70,80.5,60]" in block
    found = read(block)
    assert [(a.section, a.bpm, a.events()) for a in found] == [
        (0, 70.0, [Event(60, 1.0)]),
        (1, 80.5, [Event(62, 2.0), Event(64, 0.5)]),
        (2, 60.0, []),
    ]


def test_negative_octaves_are_quoted_so_ruby_does_not_subtract() -> None:
    block = render_block(1, [[Event(-5, 1.0), Event(0, 1.0)]], [60])
    assert 'a1[0]=[:"G-2",:"C-1"]' in block
    assert [n.midi for n in read(block)[0].notes] == [-5, 0]


def test_missing_durations_use_the_default() -> None:
    block = render_block(1, [[Event(60), Event(62)]], 60, default_duration=0.5)
    assert "b1[0]=[0.5,0.5]" in block


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (0.25, "0.25"),
        (0.1 + 0.2, "0.3"),
        (4, "4"),
        (1 / 3, "0.3333333333"),
        (1e-7, "1.0e-7"),
        (220.0, "220"),
    ],
)
def test_durations_are_compact(value: float, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"voice": 0}, "voice numbers start at 1"),
        ({"bpm": [60, 70]}, "bpm values"),
        ({"bpm": [float("nan")]}, "bpm must be a positive number"),
        ({"sections": [[Event(float("inf"), 1.0)]]}, "not a MIDI note"),
        ({"sections": [[Event(60, float("nan"))]]}, "cannot write"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs: dict, message: str) -> None:
    args = {"voice": 1, "sections": [[Event(60, 1.0)]], "bpm": [60]} | kwargs
    with pytest.raises(ValueError, match=message):
        render_block(**args)


def test_next_free_voice_is_one_past_the_highest() -> None:
    assert next_free_voice("") == 1
    assert next_free_voice("play 60\n") == 1
    assert next_free_voice("a1=[]\nb1=[]\nc1=[70]\na3[0]=[:C4]\n") == 4
    assert next_free_voice("x = 1\n# a7[0]=[:C4] kept for later\n") == 8
    assert next_free_voice("data1 = [1]\nfoo_a9 = 2\n") == 1


# --- Ruby accepts what we write -------------------------------------------------------------

BLOCKS = {
    "rests": [[Event(None, 1.0), Event(60, 0.5), Event(None, 0.5)]],
    "long": [[Event(40 + (k * 7) % 40, [0.25, 0.5, 1.0, 1.5][k % 4]) for k in range(300)]],
    "sections": [[Event(60, 1.0)] * 3, [Event(67, 0.5)] * 40, [Event(None, 4.0)]],
    "extremes": [[Event(-24, 0.125), Event(0, 3), Event(127, 1 / 3), Event(140, 8), Event(61.5)]],
    "empty": [[]],
}


def test_ruby_accepts_every_block_written(tmp_path: Path) -> None:
    ruby = shutil.which("ruby")
    assert ruby is not None, "ruby is required (it is in .ci/apt-packages.txt)"
    for k, (name, sections) in enumerate(BLOCKS.items()):
        style = [FLATS, NoteStyle(case="lower", rest=":rest")][k % 2]
        bpm = [60 + 10 * i for i in range(len(sections))]
        path = tmp_path / f"{name}.rb"
        path.write_text(render_block(k + 1, sections, bpm, style=style, width=72))
        proc = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and "Syntax OK" in proc.stdout, (name, proc.stderr)


def test_ruby_rejects_a_broken_block(tmp_path: Path) -> None:
    """The check above can fail: a block with a bracket missing is refused."""
    ruby = shutil.which("ruby")
    assert ruby is not None
    path = tmp_path / "broken.rb"
    path.write_text(render_block(1, [[Event(60, 1.0)]], [60]).replace("]\n", "\n", 1))
    proc = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0


# --- round trip -----------------------------------------------------------------------------

pitch = st.one_of(st.none(), st.integers(-24, 140))
duration = st.one_of(
    st.sampled_from([0.125, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 1 / 3]),
    st.floats(0.01, 64, allow_nan=False),
)
events = st.builds(Event, pitch, duration)
styles = st.builds(
    NoteStyle,
    st.sampled_from(["sharp", "flat"]),
    st.sampled_from(["f", "b"]),
    st.sampled_from(["upper", "lower"]),
    st.sampled_from([":r", ":rest"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    voice=st.integers(1, 40),
    sections=st.lists(st.lists(events, max_size=60), min_size=1, max_size=4),
    style=styles,
    width=st.integers(20, 140),
    data=st.data(),
)
def test_reading_a_written_block_gives_the_same_melody(
    voice: int, sections: list[list[Event]], style: NoteStyle, width: int, data: st.DataObject
) -> None:
    bpm = data.draw(st.lists(st.integers(20, 300), min_size=len(sections), max_size=len(sections)))
    prefix = data.draw(st.sampled_from(["", "use_synth :piano\n", "a1=[]\nb1=[]\n"]))
    text = prefix + render_block(voice, sections, bpm, style=style, width=width)
    found = [a for a in read(text) if a.voice == voice]
    assert [a.section for a in found] == list(range(len(sections)))
    for arr, written, tempo in zip(found, sections, bpm, strict=True):
        assert arr.bpm == tempo
        got = arr.events()
        assert [e.pitch for e in got] == [e.pitch for e in written]
        for g, w in zip(got, written, strict=True):
            assert g.duration is not None and w.duration is not None
            assert math.isclose(g.duration, w.duration, rel_tol=1e-9)
    assert next_free_voice(text) == max(voice, 1 if prefix.startswith("a1") else 0) + 1


def test_a_plain_block_in_the_pieces_layout_reads_back():
    style = NoteStyle(separator=", ", whole_float=True)
    events = [Event(60, 1.0), Event(None, 0.5), Event(70, 2.0)]
    text = render_block(4, [events], 120, style, form="plain", comment="notegen: voice 4")
    assert text.splitlines()[:3] == [
        "# notegen: voice 4",
        "a4=[:C4, :r, :As4]",
        "b4=[1.0, 0.5, 2.0]",
    ]
    (arr,) = [a for a in read(text) if a.kind == "voice"]
    assert [t.midi for t in arr.notes] == [60, None, 70]
    assert [v.value for v in arr.durations.values] == [1.0, 0.5, 2.0]
    assert "use_bpm 120" in text
