"""Hover on a number Sonic Pi cannot play, through the real server: answered, no frequency.

``1e308`` in a note array made ``midi_to_hz`` overflow: the server logged an OverflowError
traceback and answered null; ``9999`` answered with a 3,000-digit frequency. Sonic Pi's notes
are MIDI 0-231; beyond them the hover names the number and says so.
"""

from __future__ import annotations

from itertools import count
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import started


@pytest.fixture
def client(tiny_model: Path, tmp_path: Path) -> Any:
    c = started(tiny_model, tmp_path, "server")
    yield c
    c.close()


OPENED = count()


def hover(client: Any, tmp_path: Path, text: str, line: int, character: int) -> str:
    """Open ``text`` and hover at (line, character); the reply's markdown."""
    uri = (tmp_path / f"song{next(OPENED)}.rb").as_uri()
    client.did_open(uri, text)
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    result = client.request("textDocument/hover", params, timeout=30)
    assert result is not None, f"no hover for {text!r}"
    return result["contents"]["value"]


VOICE = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,{}]\nb1[0]=[1,1,1]\n"
ON_THIRD = (2, len("a1[0]=[:C4,:E4,") + 1)


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("1e308", "**1e308** — MIDI 1e+308"),
        ("9999", "**9999** — MIDI 9999"),
        ("-5", "**-5** — MIDI -5"),
    ],
)
def test_hover_on_a_number_outside_sonic_pis_notes_names_it_without_a_frequency(
    client: Any, tmp_path: Path, number: str, says: str
) -> None:
    value = hover(client, tmp_path, VOICE.format(number), *ON_THIRD)

    assert value.startswith(says), value
    assert "outside Sonic Pi's notes (MIDI 0–231)" in value
    assert "Hz" not in value and len(value) < 300


def test_hover_on_a_number_no_float_holds_says_so(client: Any, tmp_path: Path) -> None:
    value = hover(client, tmp_path, VOICE.format("10**400"), *ON_THIRD)

    assert value.startswith("**10**400** — too big a number for a note or beats"), value
    assert "Hz" not in value and len(value) < 300


def test_hover_on_play_of_a_huge_number_is_answered(client: Any, tmp_path: Path) -> None:
    value = hover(client, tmp_path, "live_loop :x do\n  play 1e308\n  sleep 1\nend\n", 1, 7)
    assert value.startswith("**1e308** — MIDI 1e+308") and "Hz" not in value


def test_a_chord_gives_the_frequencies_of_its_playable_notes(client: Any, tmp_path: Path) -> None:
    value = hover(client, tmp_path, VOICE.format("[:A4, 1e308]"), *ON_THIRD)
    assert value.startswith("**chord** — MIDI 69 (440.00 Hz), 1e+308 (outside 0–231)"), value


def test_no_hover_logs_a_traceback(client: Any, tmp_path: Path) -> None:
    for number in ("1e308", "-1e308", "9999", "[1e308, -1e308]"):
        hover(client, tmp_path, VOICE.format(number), *ON_THIRD)
    assert "Traceback" not in (tmp_path / "server.log").read_text()
