"""Hover on a number no instrument can sound (``1e308``, ``9999``, ``10**400``): an answer
without a frequency, never an OverflowError or a 3,000-digit figure.

Sonic Pi's notes are MIDI 0-231 (:data:`notegen.notes.MAX_SONIC_PI_NOTE`, as the snippet and
melody checks say); beyond them a frequency means nothing, and ``2.0 ** (midi / 12)`` of a
huge number overflows.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from notegen.lsp.hover import describe
from notegen.notes import midi_to_hz, playable_hz
from notegen.sonicpi.types import NoteToken, Span

HUGE_INT = 10**400  # a pitch no float holds (the reader flags ``10**400``; hover stays total)


def hover_text(text: str, midi: Any, chord: tuple[Any, ...] | None = None) -> str:
    """The hover of one token, with no model loaded (the model's line is another test's)."""
    token = NoteToken(text=text, span=Span(0, len(text)), midi=midi, chord=chord)
    engine = SimpleNamespace(model=None, cache=None, error="")
    return describe(engine, None, token)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("midi", "hz"),
    [(1e308, math.inf), (HUGE_INT, math.inf), (-1e308, 0.0), (-HUGE_INT, 0.0)],
)
def test_midi_to_hz_saturates_as_ruby_floats_do(midi: float, hz: float) -> None:
    assert midi_to_hz(midi) == hz


@pytest.mark.parametrize(
    ("midi", "hz"), [(0, 8.18), (60, 261.63), (69, 440.0), (231, 440.0 * 2**13.5)]
)
def test_a_note_sonic_pi_plays_has_its_frequency(midi: int, hz: float) -> None:
    assert playable_hz(midi) == pytest.approx(hz, abs=0.01)


@pytest.mark.parametrize("midi", [-0.5, -5, 231.5, 9999, 1e308, -1e308, HUGE_INT, math.nan])
def test_a_number_outside_sonic_pis_notes_has_no_frequency(midi: float) -> None:
    assert playable_hz(midi) is None


@pytest.mark.parametrize(
    ("text", "midi", "says"),
    [
        ("1e308", 1e308, "MIDI 1e+308"),
        ("9999", 9999, "MIDI 9999"),
        ("-5", -5, "MIDI -5"),
        ("10**400", HUGE_INT, "**10**400** — MIDI over 1e+308"),
        ("-10**400", -HUGE_INT, "**-10**400** — MIDI under -1e+308"),
    ],
)
def test_hover_on_a_number_outside_sonic_pis_notes_says_so_without_a_frequency(
    text: str, midi: Any, says: str
) -> None:
    value = hover_text(text, midi)
    assert says in value
    assert "outside Sonic Pi's notes (MIDI 0–231)" in value
    assert "Hz" not in value
    assert len(value) < 200  # not a 3,000-digit figure


def test_hover_on_a_note_still_shows_its_frequency() -> None:
    assert hover_text(":A4", 69) == "**:A4** — MIDI 69 · 440.00 Hz"


def test_a_chord_names_the_frequency_of_the_notes_sonic_pi_plays_only() -> None:
    value = hover_text("[:C4, 1e308, 10**400]", HUGE_INT, chord=(60, 1e308, HUGE_INT))
    assert value.startswith(
        "**chord** — MIDI 60 (261.63 Hz), 1e+308 (outside 0–231), over 1e+308 (outside 0–231);"
    )
    assert value.count("outside 0–231") == 2 and value.count("Hz") == 1
