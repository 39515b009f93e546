"""Workspace edits pinned to the document version they were computed from.

Commands compute text against one version of a document and send it with
``workspace/applyEdit``; the edit names that version, so a client whose document moved on
rejects it instead of inserting text at the wrong place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from .documents import DocumentView

if TYPE_CHECKING:
    from .context import NoteContext


def text_edit(view: DocumentView, start: int, end: int, new_text: str) -> types.TextEdit:
    """A text edit replacing ``[start, end)`` (``str`` offsets of ``view``) by ``new_text``."""
    sl, sc = view.position_at(start)
    el, ec = view.position_at(end)
    return types.TextEdit(
        range=types.Range(types.Position(sl, sc), types.Position(el, ec)), new_text=new_text
    )


def workspace_edit(
    view: DocumentView, edits: list[types.TextEdit], document_changes: bool = True
) -> types.WorkspaceEdit:
    """Edits for one document; versioned (``documentChanges``) when the client supports it."""
    if document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=view.uri, version=view.version
                    ),
                    edits=list(edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={view.uri: list(edits)})


def client_supports_document_changes(capabilities: types.ClientCapabilities | None) -> bool:
    """Whether the client accepts versioned ``documentChanges`` in a workspace edit."""
    try:
        workspace = capabilities.workspace if capabilities else None
        edit = workspace.workspace_edit if workspace else None
        return bool(edit and edit.document_changes)
    except AttributeError:
        return False


def lsp_range(view: DocumentView, start: int, end: int) -> types.Range:
    sl, sc = view.position_at(start)
    el, ec = view.position_at(end)
    return types.Range(types.Position(sl, sc), types.Position(el, ec))


def cursor_range(view: DocumentView, nc: NoteContext) -> types.Range:
    """What completion items and ghost text replace: the note being typed at the cursor (up
    to the cursor, if it reaches past the note), else nothing at the cursor."""
    span = nc.local.partial_span
    if not nc.partial:
        return lsp_range(view, nc.local.offset, nc.local.offset)
    return lsp_range(view, span.start, max(span.end, nc.local.offset))
