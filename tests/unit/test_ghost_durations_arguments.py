"""``notegen.addGhostDurations`` writes into the user's ``bN[k]`` only numbers of beats.

Its arguments come from the client (the server made them, but anything may send the
command): nothing to add, or anything that is not what the server would have sent, plans no
edit. Before, empty durations inserted a bare ``", "`` (``b1[0]=[, 1,1,1]``, which does not
parse), and a duration or separator was written verbatim, code included.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from notegen.lsp.documents import DocumentView
from notegen.lsp.ghost_durations import plan

ACCEPTED = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4, :A4, :B4]\nb1[0]=[1,1,1]\n"
"""The document once ghost text ``, :A4, :B4`` was accepted after ``:G4``."""
AT = {"line": 2, "character": len("a1[0]=[:C4,:E4,:G4")}
COMPLETE = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4]\nb1[0]=[1,1,1]\n"


def arguments(**changed: Any) -> dict[str, Any]:
    """What the ghost text's command carries, with ``changed`` fields (``...``: left out)."""
    args = {
        "uri": "file:///song.rb",
        "version": 1,
        "position": AT,
        "text": ", :A4, :B4",
        "durations": ["1", "0.5"],
        "separator": ", ",
    }
    args.update(changed)
    return {k: v for k, v in args.items() if v is not ...}


def planned(text: str, args: dict[str, Any]) -> tuple[list[str], str]:
    """The new texts the command would insert into version 2 of ``text``, and its reason."""
    found = plan(DocumentView("file:///song.rb", 2, text), args)
    return [edit.new_text for edit in found.edits], found.reason


def test_the_durations_of_the_accepted_notes_are_added() -> None:
    assert planned(ACCEPTED, arguments()) == ([", 1, 0.5"], "")


@pytest.mark.parametrize(
    ("durations", "written"),
    [([1, 0.5], ", 1, 0.5"), ([2.0, 0.25], ", 2, 0.25"), (["1.0", "1.5e-7"], ", 1.0, 1.5e-7")],
)
def test_durations_may_be_numbers_or_the_numbers_the_server_writes(
    durations: list[Any], written: str
) -> None:
    assert planned(ACCEPTED, arguments(durations=durations)) == ([written], "")


@pytest.mark.parametrize("separator", [",", ", ", ",\t", ...])
def test_the_separator_is_a_comma_and_spacing(separator: Any) -> None:
    edits, _ = planned(ACCEPTED, arguments(separator=separator))
    assert edits and edits[0].replace(" ", "").replace("\t", "") == ",1,0.5"


def test_empty_durations_and_text_on_a_complete_voice_add_nothing() -> None:
    """The reproducer: a bare ``", "`` was inserted into ``b1[0]=[1,1,1]``."""
    for position in ({"line": 2, "character": 7}, {"line": 2, "character": 18}):
        edits, reason = planned(COMPLETE, arguments(position=position, text="", durations=[]))
        assert edits == [] and reason == "no durations to add"


def test_accepted_text_that_is_empty_adds_nothing() -> None:
    """Empty text is at every place: it proves nothing was accepted there."""
    voice = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4, :A4, :B4]\nb1[0]=[1,1,1]\n"
    edits, reason = planned(voice, arguments(text=""))
    assert edits == [] and reason == "no accepted text"


MALFORMED = {
    "durations not a list": {"durations": "1, 0.5"},
    "durations a dict": {"durations": {"0": 1, "1": 0.5}},
    "durations missing": {"durations": ...},
    "a negative number": {"durations": [1, -0.5]},
    "zero": {"durations": [0, 1]},
    "NaN": {"durations": [math.nan, 1]},
    "infinity": {"durations": [math.inf, 1]},
    "true": {"durations": [True, 1]},
    "null": {"durations": [None, 1]},
    "a nested list": {"durations": [[1], 1]},
    "a negative string": {"durations": ["-1", "1"]},
    "a word": {"durations": ["one", "1"]},
    "an empty string": {"durations": ["", "1"]},
    "code": {"durations": ["1]; system('rm -rf ~'); [", "1"]},
    "a fraction Ruby divides as integers": {"durations": ["1/2", "1"]},
    "an octal-looking number": {"durations": ["010", "1"]},
    "a string past a float": {"durations": ["1e400", "1"]},
    "spaces around a number": {"durations": [" 1", "1"]},
    "a separator of code": {"separator": "]; system('x'); ["},
    "a separator without a comma": {"separator": " "},
    "a separator with a line break": {"separator": ",\n"},
    "a separator not a string": {"separator": 1},
    "text not a string": {"text": 5},
    "version infinite": {"version": math.inf},
    "version a string": {"version": "1"},
    "version true": {"version": True},
    "position not an object": {"position": "2:18"},
    "position negative": {"position": {"line": -1, "character": 0}},
    "position a float": {"position": {"line": 2.0, "character": 18}},
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_arguments_change_nothing(name: str) -> None:
    assert planned(ACCEPTED, arguments(**MALFORMED[name])) == ([], "malformed arguments")


def test_the_durations_comment_is_removed_only_within_its_own_line() -> None:
    """An accepted ``  # durations`` comment is removed up to the end of the accepted text,
    never across a line break, a lone ``\\r`` included."""
    voice = "a1=[]\rb1=[]\ra1[0]=[:C4,:E4,:G4, :A4, :B4]  # durations 1,0.5\rb1[0]=[1,1,1]\r"
    text = ", :A4, :B4]  # durations 1,0.5\rb1[0]=[1,1,1]"
    at = {"line": 2, "character": len("a1[0]=[:C4,:E4,:G4")}
    edits, _ = planned(voice, arguments(text=text, position=at))
    assert edits == [", 1, 0.5"]  # (no edit deleting the comment and the next line)
