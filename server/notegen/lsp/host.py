"""What a feature module may ask of the server: documents, settings, the engine, and the
few messages it sends back to the client.

Feature modules (commands, play, code actions...) take a :class:`Host` instead of importing
``server.py``: only ``server.py`` knows pygls, wires handlers to features and implements this
protocol. A test can hand a feature any object with the same attributes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol, TypeVar

from lsprotocol import types

from notegen.lsp.config import Settings

from .documents import DocumentView
from .engine import Engine
from .reading import Reading

T = TypeVar("T")


class Host(Protocol):
    """The server as the features see it (implemented by ``server.NotegenServer``)."""

    settings: Settings
    engine: Engine

    def engine_for(self, uri: str) -> Engine:
        """The engine of the model that serves ``uri`` (``model_choice``)."""

    def view(self, uri: str) -> DocumentView | None:
        """The current version of an open document (``None`` if it is not open)."""

    def current_version(self, uri: str) -> int | None:
        """The open document's version, without building a view."""

    def is_current(self, view: DocumentView) -> bool:
        """Whether ``view`` is still the open document (its version and its text: versions
        start again when a document is opened again)."""

    def while_open(self, uri: str, work: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """``work``, stopped when ``uri`` is closed before it ends (``ContentModified``)."""

    def latest_reading(self, uri: str) -> Reading | None:
        """The latest whole-file reading of ``uri`` (maybe a few edits old)."""

    def client_capabilities_or_none(self) -> types.ClientCapabilities | None:
        """What the client said it supports (``None`` before ``initialize``)."""

    def workspace_apply_edit_async(
        self, params: types.ApplyWorkspaceEditParams
    ) -> Awaitable[types.ApplyWorkspaceEditResult]:
        """Ask the client to apply an edit (``workspace/applyEdit``)."""

    def window_show_message(self, params: types.ShowMessageParams) -> None:
        """Show the user a message (``window/showMessage``)."""

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        """Replace a document's diagnostics (``textDocument/publishDiagnostics``)."""
