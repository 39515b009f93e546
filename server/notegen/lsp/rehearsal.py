"""A fresh server's rehearsal: one completion made and encoded as an answer is, before the
client's first request is served.

What a process makes on its first answer (cattrs' converters of the messages' and the items'
types, the reader's, the experts' and the sampler's first calls) is then made here, not in
the user's first completion.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.protocol import JsonRPCNotification

from notegen.lsp.config import Settings
from notegen.melody import Event

from . import completion, ghost_durations
from .context import note_context
from .documents import DocumentView
from .edits import cursor_range
from .engine import Engine
from .model_choice import NOTIFICATION
from .protocol import NotegenProtocol

log = logging.getLogger(__name__)


REHEARSAL = (
    "a1=[]\nb1=[]\n"
    "a1[0]=[:C4,:E4,:G4,:E4,:D4,:F4,:A4,:G4,:E4,:C4,:D4,:r,:B3,:C4,]\n"
    "b1[0]=[0.5,0.5,1,0.5,0.5,0.5,1,1,0.5,0.5,1,0.5,0.5]\n"
)
"""A small piece :func:`rehearse` completes in: a voice with its durations one short, so the
items carry every part a real answer may (phrases, their durations' command)."""

REHEARSAL_ROUNDS = 3
"""Rounds of encoding in :func:`rehearse`: a converter cattrs makes for one type can drop those
it made for others before (made again at their next use: seen at a first real completion and
at first diagnostics), and a round that makes none drops none."""


def rehearse(engine: Engine, settings: Settings, protocol: NotegenProtocol) -> None:
    """One completion in :data:`REHEARSAL`, made and encoded as an answer is, on the inference
    thread once the model is loaded (before the client's first request is served there).

    What a process makes on its first answer is then made here: cattrs' converters of the
    items' types (generated at their first encoding, ~5-8 ms), the reader's, the experts' and
    the sampler's first calls. Without it the user's first completion paid them: a 200,000-note
    file's first completion right after it opened took ~22-34 ms. Nothing of it is kept but a
    few of the model's states (its context is nobody's) and those converters."""
    if engine.model is None:
        return
    view = DocumentView("notegen:rehearsal", 0, REHEARSAL)
    line = 2
    character = view.line_text(line).rindex("]")
    try:
        nc = note_context(view, line, character, None, settings.maxContext)
        if nc is None:
            return
        edit_range = cursor_range(view, nc)

        def then(text: str, events: list[Event]) -> types.Command | None:
            return ghost_durations.command_for(view, nc, text, events, edit_range)

        full = completion.complete(engine, nc, settings, edit_range, then)
        notes = completion.complete(engine, nc, settings, edit_range, then, phrase_later=True)
        sent = [
            *_answers(view.uri, edit_range),
            *(types.CompletionList(is_incomplete=True, items=items) for items in (full, notes)),
        ]
        for _ in range(REHEARSAL_ROUNDS):
            for message in rehearsal_messages(view.uri, line, character):
                protocol.structure_message(message)
            for answer in sent:
                protocol.prepare(answer)
    except Exception:  # a rehearsal's failure must not stop the server
        log.exception("the rehearsal completion failed")


def _answers(uri: str, where: types.Range) -> list[Any]:
    """What else the server sends, with every part it may send: its first diagnostics cost
    the event loop ~5 ms of converters, made while a completion ran beside them."""
    here = types.Location(uri=uri, range=where)
    diagnostic = types.Diagnostic(
        range=where,
        message="rehearsal",
        severity=types.DiagnosticSeverity.Warning,
        code="notegen",
        source="notegen",
        code_description=types.CodeDescription(href="https://example.org"),
        related_information=[types.DiagnosticRelatedInformation(location=here, message="x")],
        tags=[types.DiagnosticTag.Unnecessary],
        data={"notes": [60]},
    )
    command = types.Command(title="rehearsal", command="notegen.rehearsal", arguments=[uri])
    return [
        types.PublishDiagnosticsNotification(
            params=types.PublishDiagnosticsParams(uri=uri, diagnostics=[diagnostic], version=1)
        ),
        JsonRPCNotification(method=NOTIFICATION, jsonrpc="2.0", params={"uri": uri}),
        types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="x"), range=where
        ),
        types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text="x", range=where, command=command)]
        ),
        [types.CodeAction(title="x", kind=types.CodeActionKind.QuickFix, command=command)],
    ]


def rehearsal_messages(uri: str, line: int, character: int) -> list[dict[str, Any]]:
    """The messages of a keystroke and the requests at it, as a client sends them: cattrs
    makes its structuring of each type at its first message (~4-5 ms for an opening and a
    completion, measured), which :func:`rehearse` makes instead."""
    document = {"uri": uri}
    at = {"line": line, "character": character}
    where = {"textDocument": document, "position": at}
    change = {"range": {"start": at, "end": at}, "rangeLength": 0, "text": ":C4,"}
    return [
        {"jsonrpc": "2.0", "method": method, "params": params, **({"id": 1} if asks else {})}
        for method, params, asks in (
            (
                types.TEXT_DOCUMENT_DID_OPEN,
                {"textDocument": {**document, "languageId": "ruby", "version": 1, "text": ""}},
                False,
            ),
            (
                types.TEXT_DOCUMENT_DID_CHANGE,
                {"textDocument": {**document, "version": 2}, "contentChanges": [change]},
                False,
            ),
            (types.TEXT_DOCUMENT_COMPLETION, {**where, "context": {"triggerKind": 1}}, True),
            (types.TEXT_DOCUMENT_HOVER, where, True),
            (
                types.TEXT_DOCUMENT_INLINE_COMPLETION,
                {**where, "context": {"triggerKind": 2}},
                True,
            ),
        )
    ]
