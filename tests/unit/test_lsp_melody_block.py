"""generateMelody's block (``jobs.melody_block``) made with the server's reading of the same
text is the block made without it: the reading only spares making the other voices' setting
again."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from notegen.lsp.documents import DocumentView
from notegen.lsp.jobs import melody_block
from notegen.lsp.reading import Reading
from notegen.melody import Event
from notegen.model.ensemble import piece_lines, setting_for
from notegen.model.generate_options import GenerateOptions
from notegen.model.network import MelodyModel
from notegen.notes import infer_style
from notegen.sonicpi.lexer import Token
from notegen.sonicpi.piece import piece_of

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"

PIECE = """\
a1=[]
b1=[]
c1=[72]
a1[0]=[:C4,:E4,:G4,:E4,:D4,:C4,:D4,:E4]
b1[0]=[1,0.5,0.5,1,1,2,1,1]
a2=[]
b2=[]
a2[0]=[:C3,:G2,:C3,:G2,:F2,:G2]
b2[0]=[2,2,1,1,1,1]
"""


@pytest.fixture(scope="module")
def shipped() -> MelodyModel:
    return MelodyModel.load(SHIPPED)


@pytest.mark.parametrize("position", [None, (3, 10)])
def test_the_block_made_with_the_reading_is_the_block_made_without_it(
    shipped: MelodyModel, position: tuple[int, int] | None
) -> None:
    assert shipped.cond_dim  # (a model that hears the other voices: the setting matters)
    view = DocumentView("file:///piece.rb", 3, PIECE)
    options = GenerateOptions(length=16, seed=5)
    alone = melody_block(shipped, view, position, options, "voice", True)
    reading = Reading(3, view.arrays(), infer_style(PIECE), PIECE)
    reading = pickle.loads(pickle.dumps(reading))  # (as the server gets it from its child)
    helped = melody_block(shipped, view, position, options, "voice", True, reading)
    assert helped == alone
    assert len(alone.block.events) == 16


@pytest.mark.parametrize(
    ("text", "form"),
    [
        (PIECE, "voice"),
        ("live_loop :tune do\n  play :e4\n  sleep 0.5\n  play :g4\n  sleep 1\nend\n", "live_loop"),
        ("", "voice"),
    ],
    ids=["voices", "play-lines", "empty"],
)
def test_with_no_form_asked_the_block_takes_the_documents_own(
    shipped: MelodyModel, text: str, form: str
) -> None:
    view = DocumentView("file:///piece.rb", 1, text)
    made = melody_block(shipped, view, None, GenerateOptions(length=8, seed=2), None, False)
    assert made.form == form
    assert ("live_loop :notegen do" in made.block.text) == (form == "live_loop")
    asked = melody_block(shipped, view, None, GenerateOptions(length=8, seed=2), form, False)
    assert asked == made


def test_the_readings_setting_for_a_new_voice_is_the_one_made_from_the_piece(
    shipped: MelodyModel,
) -> None:
    """What a new voice hears: the served distributions of any melody are the same to the
    bit with either, and not those of a voice alone."""
    view = DocumentView("file:///piece.rb", 3, PIECE)
    reading = pickle.loads(pickle.dumps(Reading(3, view.arrays(), infer_style(PIECE), PIECE)))
    made = setting_for(piece_lines(piece_of(PIECE, view.arrays())), None)
    melody = [Event(60 + 2 * (k % 5), 0.5 * (1 + k % 3)) for k in range(24)]
    pitches, durations = shipped.log_probs(melody, made)
    from_reading = shipped.log_probs(melody, reading.setting(None))
    assert np.array_equal(from_reading[0], pitches)
    assert np.array_equal(from_reading[1], durations)
    assert not np.array_equal(shipped.log_probs(melody)[0], pitches)  # the others are heard


def test_a_block_for_a_view_not_read_yet_parses_its_text_once(
    shipped: MelodyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block needs the text's tokens (where a new voice goes, what never runs) and its
    arrays: one parse gives both (the server forgets a view's arrays after each reading)."""
    from notegen.sonicpi import reader

    parses = []
    tokenize = reader.tokenize

    def counted(text: str) -> list[Token]:
        parses.append(len(text))
        return tokenize(text)

    monkeypatch.setattr(reader, "tokenize", counted)
    view = DocumentView("file:///piece.rb", 3, PIECE)
    melody_block(shipped, view, None, GenerateOptions(length=8, seed=1), "voice", False)
    assert parses == [len(PIECE)]
    assert view.arrays_ready
