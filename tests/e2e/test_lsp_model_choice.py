"""Style per piece through the real server: several models side by side, chosen per document.

The server gets a default model (``--model``) and a models folder (``modelsDir``) holding a
second model, ``baroque``. A document chooses it with ``# notegen: model=baroque``, or by
lying in a folder that ``folderModels`` maps to it; hover and the ``notegen/model``
notification say which model serves the document; an unknown name is a warning diagnostic on
the comment and the document is served by the default model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_asyncio
from fixtures.lsp_editor import Editor, server_command, start_editor
from fixtures.tiny_model import build_tiny_model
from lsprotocol import types

TUNE = "a1=[];b1=[]\na1[0]=[:C4,:E4,:G4,:E4,:C4, ]\nb1[0]=[1,1,1,1,1]\n"
CURSOR = (1, TUNE.splitlines()[1].index(", ]") + 2)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    build_tiny_model(folder, name="baroque", seed=11)
    return folder


@pytest_asyncio.fixture
async def editor(tiny_model: Path, models_dir: Path):
    options = {
        "modelsDir": str(models_dir),
        "folderModels": {"/tmp/notegen-e2e/baroque-pieces": "baroque"},
    }
    client, ed = await start_editor(server_command(tiny_model), options)
    yield ed
    await client.shutdown_session()
    await client.stop()


async def ranking(editor: Editor, uri: str) -> list[tuple[str, str | None]]:
    items = await editor.complete_with_phrases(uri, *CURSOR, trigger=" ")
    return [(i.label, i.detail) for i in items]


async def hover_text(editor: Editor, uri: str) -> str:
    line = TUNE.splitlines()[1]
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(
            types.TextDocumentIdentifier(uri), types.Position(1, line.index(":E4") + 1)
        )
    )
    assert hover is not None
    return hover.contents.value


async def test_a_magic_comment_chooses_the_model(editor: Editor) -> None:
    plain = editor.open(TUNE, "plain.rb")
    chosen = editor.open("# notegen: model=baroque\n" + TUNE, "chosen.rb")
    in_folder = editor.open(TUNE, "baroque-pieces/fugue.rb")
    await editor.diagnostics(chosen)
    shifted = (CURSOR[0] + 1, CURSOR[1])
    items = await editor.complete_with_phrases(chosen, *shifted, trigger=" ")
    by_comment = [(i.label, i.detail) for i in items]
    by_default = await ranking(editor, plain)
    by_folder = await ranking(editor, in_folder)
    assert by_comment and by_default
    assert by_comment != by_default  # another network answers
    assert by_folder == by_comment  # the folder setting chose the same model
    assert "Served by model **tiny** (the default model)" in await hover_text(editor, plain)
    line = ("# notegen: model=baroque\n" + TUNE).splitlines()[2]
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(
            types.TextDocumentIdentifier(chosen), types.Position(2, line.index(":E4") + 1)
        )
    )
    assert hover is not None
    assert "Served by model **baroque** (chosen by `# notegen: model=`" in hover.contents.value
    assert "chosen by the notegen.folderModels setting" in await hover_text(editor, in_folder)
    assert await editor.diagnostics(chosen) == []


async def test_an_unknown_model_is_a_diagnostic_and_the_default_serves(editor: Editor) -> None:
    plain = editor.open(TUNE, "plain.rb")
    text = "# notegen: model=rococo\n" + TUNE
    missing = editor.open(text, "missing.rb")
    diagnostics = await editor.diagnostics(missing)
    (warning,) = [d for d in diagnostics if d.code == "unknown-model"]
    assert warning.range.start.line == 0
    assert warning.severity == types.DiagnosticSeverity.Warning
    assert "no model named 'rococo'" in warning.message
    assert "baroque" in warning.message and "tiny" in warning.message  # what there is
    items = await editor.complete_with_phrases(missing, CURSOR[0] + 1, CURSOR[1], trigger=" ")
    assert [(i.label, i.detail) for i in items] == await ranking(editor, plain)


async def test_the_model_notification_names_the_model_of_each_document(editor: Editor) -> None:
    """What an editor's status item shows: ``notegen/model`` after a document's reading."""
    notices = []
    for text, name in (("# notegen: model=baroque\n" + TUNE, "chosen.rb"), (TUNE, "plain.rb")):
        waiting = editor.client.protocol.wait_for_notification_async("notegen/model")
        uri = editor.open(text, name)
        notice = await asyncio.wait_for(waiting, timeout=30)
        notices.append((notice.uri == uri, notice.model, notice.source, notice.error))
    assert notices == [(True, "baroque", "comment", None), (True, "tiny", "default", None)]
