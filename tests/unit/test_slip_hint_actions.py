"""Slip hints' quick fixes act only on the element their hint was made for.

An editor shows a hint, and sends it back with a request for code actions, until the server
publishes the next version's. Text typed before the note since then shifts it out of the
hint's range: the fix must not rewrite whatever is there now.
"""

from __future__ import annotations

from lsprotocol import types
from notegen.lsp.documents import DocumentView
from notegen.lsp.slip_hints import CODE, SOURCE, actions

TEXT = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:Gs4,:C5]\nb1[0]=[1,1,1,1]\n"


def hint(line: int, start: int, end: int, was: str = ":Gs4") -> types.Diagnostic:
    """The hint the server published on ``:Gs4`` (line 2, columns 15-19)."""
    return types.Diagnostic(
        range=types.Range(types.Position(line, start), types.Position(line, end)),
        message="A♭4 against G–B–D in the other voices; G4 is likelier",
        severity=types.DiagnosticSeverity.Hint,
        source=SOURCE,
        code=CODE,
        data={"fixes": [{"text": ":G4", "midi": 67}], "index": 2, "was": was},
    )


def titles(text: str, diag: types.Diagnostic) -> list[str]:
    return [a.title for a in actions(DocumentView("file:///s.rb", 2, text), [diag], True)]


def test_a_hint_on_its_note_offers_the_fix_and_ignore_here() -> None:
    assert titles(TEXT, hint(2, 15, 19)) == ["Change :Gs4 to :G4", "Ignore here (keep :Gs4)"]


def test_a_hint_of_an_older_text_offers_nothing() -> None:
    typed = TEXT.replace("a1[0]=[", "a1[0]=[:D4,")  # four characters before the note
    assert titles(typed, hint(2, 15, 19)) == []
    shifted_by_six = TEXT.replace("a1[0]=[", "a1[0]=[:D4, ,")
    assert titles(shifted_by_six, hint(2, 15, 19)) == []


def test_a_range_that_is_not_a_place_in_the_text_offers_nothing() -> None:
    assert titles(TEXT, hint(2, 19, 15)) == []  # ends before it starts
    assert titles(TEXT, hint(2, 40, 44)) == []  # past the line's end
    assert titles(TEXT, hint(9, 0, 4)) == []  # past the document
    assert titles(TEXT, hint(2, 15, 19, was=":A4")) == []  # another element's hint
