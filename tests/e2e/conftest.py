"""End-to-end fixtures: the real ``notegen-lsp`` process over stdio, driven by pytest-lsp.

The server runs ``python -m notegen.cli --model <tiny model>``: a small seeded ONNX model built
for the session (``tests/fixtures/tiny_model.py``), so these tests exercise the real inference
path without depending on training. ``Editor`` plays the part of an editor: it keeps its own
copy of each document, applies the server's ``workspace/applyEdit`` requests to it and sends the
resulting ``didChange`` back, as VS Code or Neovim would.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    card, _ = build_tiny_model(tmp_path_factory.mktemp("model"), seed=3)
    return card


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits (UTF-16 positions; here ASCII) the way an editor does."""
    lines = text.split("\n")

    def offset(pos: types.Position) -> int:
        if pos.line >= len(lines):
            return len(text)
        return sum(len(line) + 1 for line in lines[: pos.line]) + min(
            pos.character, len(lines[pos.line])
        )

    spans = sorted((offset(e.range.start), offset(e.range.end), e.new_text) for e in edits)
    out, last = [], 0
    for start, end, new in spans:
        out.append(text[last:start])
        out.append(new)
        last = end
    out.append(text[last:])
    return "".join(out)


class Editor:
    """A minimal editor around a pytest-lsp client: documents, versions, applied edits."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.reject_edits = False

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def on_apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return self._apply(params)

    def _apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.applied.append(params)
        if self.reject_edits:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="rejected")
        for change in params.edit.document_changes or []:
            uri, version = change.text_document.uri, change.text_document.version
            if version is not None and version != self.versions.get(uri):
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="stale")
            self.change(uri, apply_text_edits(self.texts[uri], list(change.edits)))
        for uri, edits in (params.edit.changes or {}).items():
            self.change(uri, apply_text_edits(self.texts[uri], list(edits)))
        return types.ApplyWorkspaceEditResult(applied=True)

    def open(self, text: str, name: str = "song.rb") -> str:
        uri = f"file:///tmp/notegen-e2e/{name}"
        self.texts[uri] = text
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=uri, language_id="ruby", version=1, text=text)
            )
        )
        return uri

    def change(self, uri: str, text: str) -> None:
        self.texts[uri] = text
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def insert(self, uri: str, line: int, character: int, text: str) -> None:
        """An incremental edit, as editors send while typing."""
        lines = self.texts[uri].split("\n")
        lines[line] = lines[line][:character] + text + lines[line][character:]
        self.texts[uri] = "\n".join(lines)
        self.versions[uri] += 1
        pos = types.Position(line, character)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=types.Range(pos, pos), text=text)
                ],
            )
        )

    async def complete(
        self, uri: str, line: int, character: int, trigger: str | None = None
    ) -> list[types.CompletionItem]:
        context = (
            types.CompletionContext(
                trigger_kind=types.CompletionTriggerKind.TriggerCharacter,
                trigger_character=trigger,
            )
            if trigger
            else types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked)
        )
        result = await self.client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri),
                position=types.Position(line, character),
                context=context,
            )
        )
        if result is None:
            return []
        return list(result.items if isinstance(result, types.CompletionList) else result)

    async def command(self, name: str, *arguments: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(arguments))
        )

    async def diagnostics(self, uri: str, timeout: float = 10.0) -> list[types.Diagnostic]:
        """Wait for diagnostics of the current version of ``uri``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            if uri in self.client.diagnostics:
                return list(self.client.diagnostics[uri])
        raise TimeoutError(f"no diagnostics for {uri}")


async def start_editor(
    command: list[str], init_options: dict[str, Any] | None = None
) -> tuple[LanguageClient, Editor]:
    client = await ClientServerConfig(server_command=command).start()
    editor = Editor(client)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options=init_options,
            root_uri="file:///tmp/notegen-e2e",
        )
    )
    return client, editor


def server_command(model: Path | str) -> list[str]:
    return [sys.executable, "-m", "notegen.cli", "--model", str(model)]


@pytest_asyncio.fixture
async def editor(tiny_model: Path) -> AsyncIterator[Editor]:
    client, ed = await start_editor(server_command(tiny_model))
    yield ed
    await client.shutdown_session()
    await client.stop()
