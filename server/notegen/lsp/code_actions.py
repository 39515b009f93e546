"""Code actions: the commands where they apply, for editors that show a light bulb menu.

* inside a note array: "Continue melody" (``notegen.continueMelody``, ``phraseLength`` notes);
* anywhere: "Generate melody" (``notegen.generateMelody``: a new voice on the cursor's line
  when it is blank, else at the end of the document, where it cannot split other code); in a
  document with play/sleep lines also as a ``live_loop``.

Each action carries its command with the same single argument object a user would pass.
"""

from __future__ import annotations

from lsprotocol import types

from notegen.lsp.config import Settings
from notegen.model.generate_options import GenerateOptions

from .commands import CONTINUE, GENERATE

GENERATE_LENGTH = GenerateOptions().length  # one default everywhere: palette, CLI, README
KIND_GENERATE = types.CodeActionKind.Refactor + ".notegen.generate"
KIND_CONTINUE = types.CodeActionKind.Refactor + ".notegen.continue"
KINDS = [types.CodeActionKind.Refactor, KIND_GENERATE, KIND_CONTINUE]


def actions(
    uri: str,
    position: types.Position,
    in_array: bool,
    line_blank: bool,
    settings: Settings,
    live_coding: bool = False,
) -> list[types.CodeAction]:
    """``live_coding``: the document writes melodies as play/sleep lines, so a generated
    ``live_loop`` is offered too."""
    where = {"line": position.line, "character": position.character}
    out: list[types.CodeAction] = []
    if in_array:
        continue_args = {"uri": uri, "position": where, "count": settings.phraseLength}
        out.append(
            types.CodeAction(
                title=f"Continue melody ({settings.phraseLength} notes)",
                kind=KIND_CONTINUE,
                command=types.Command(
                    title="Continue melody", command=CONTINUE, arguments=[continue_args]
                ),
            )
        )
    args: dict = {"uri": uri, "length": GENERATE_LENGTH}
    if line_blank:
        args["position"] = {"line": position.line, "character": 0}
    out.append(
        types.CodeAction(
            title=f"Generate melody ({GENERATE_LENGTH} notes, new voice)",
            kind=KIND_GENERATE,
            command=types.Command(title="Generate melody", command=GENERATE, arguments=[args]),
        )
    )
    if live_coding:
        loop_args = {**args, "form": "live_loop"}
        out.append(
            types.CodeAction(
                title=f"Generate melody ({GENERATE_LENGTH} notes, live_loop)",
                kind=KIND_GENERATE,
                command=types.Command(
                    title="Generate melody", command=GENERATE, arguments=[loop_args]
                ),
            )
        )
    return out
