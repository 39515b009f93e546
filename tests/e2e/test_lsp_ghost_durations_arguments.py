"""``notegen.addGhostDurations`` with nothing to add, or arguments the server never makes,
sends no edit and says it applied nothing.

Empty ``text`` and ``durations`` on a complete voice answered ``{"applied": True, "added": 0}``
and sent ``workspace/applyEdit`` inserting ``", "`` into ``b1[0]=[1,1,1]`` (``[, 1,1,1]``, which
does not parse); a duration or separator was written into the array verbatim, code included.
"""

from __future__ import annotations

from typing import Any

import pytest
from fixtures.lsp_editor import Editor

COMMAND = "notegen.addGhostDurations"
SONG = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4]\nb1[0]=[1,1,1]\n"
ACCEPTED = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4, :A4, :B4]\nb1[0]=[1,1,1]\n"
AFTER_G4 = {"line": 2, "character": len("a1[0]=[:C4,:E4,:G4")}


async def run(editor: Editor, document: str, **arguments: Any) -> tuple[dict, str, int]:
    """Open ``document`` at version 2 (as if ghost text from version 1 was accepted), run
    the command; its reply, the document after it, and how many edits the server sent."""
    uri = editor.open(document)
    editor.change(uri, document)
    before = len(editor.applied)
    outcome = await editor.command(COMMAND, {"uri": uri, "version": 1, **arguments})
    return outcome, editor.texts[uri], len(editor.applied) - before


@pytest.mark.parametrize("position", [{"line": 2, "character": 7}, AFTER_G4])
async def test_nothing_to_add_sends_no_edit(editor, position):
    outcome, text, edits = await run(editor, SONG, position=position, text="", durations=[])

    assert outcome == {"applied": False, "added": 0, "reason": "no durations to add"}
    assert edits == 0 and text == SONG


MALFORMED = {
    "a negative duration": {"durations": [1, -1]},
    "a zero duration": {"durations": [0, 1]},
    "a word": {"durations": ["one", "1"]},
    "code as a duration": {"durations": ["1]; system('ls'); [", "1"]},
    "code as a separator": {"durations": ["1", "1"], "separator": "]; system('ls'); ["},
    "durations as a string": {"durations": "1, 1"},
    "null": {"durations": [None, 1]},
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_arguments_the_server_never_makes_change_nothing(editor, name):
    arguments = {"position": AFTER_G4, "text": ", :A4, :B4", **MALFORMED[name]}
    outcome, text, edits = await run(editor, ACCEPTED, **arguments)

    assert outcome == {"applied": False, "added": 0, "reason": "malformed arguments"}
    assert edits == 0 and text == ACCEPTED


async def test_the_accepted_notes_durations_are_still_added(editor):
    outcome, text, edits = await run(
        editor, ACCEPTED, position=AFTER_G4, text=", :A4, :B4", durations=["0.5", 2]
    )

    assert outcome == {"applied": True, "added": 2, "reason": ""}
    assert edits == 1 and text.endswith("b1[0]=[1,1,1, 0.5, 2]\n")
