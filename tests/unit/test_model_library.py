"""Models side by side: the library (shipped + models folder), ``notegen-melody models``, and
which model a document asks for (magic comment, folder setting, default)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.tiny_model import build_tiny_model
from notegen.cli import main
from notegen.lsp.config import parse_settings
from notegen.lsp.engine import Engine
from notegen.lsp.model_choice import ModelChoice, hover_line, requested_model
from notegen.model.library import ModelLibrary


@pytest.fixture
def shelf(tmp_path: Path) -> tuple[Path, Path]:
    """A default model ``house`` and a models folder with ``folk`` (metrics in its card) and
    ``baroque``, plus a JSON file that is not a model card."""
    shipped, _ = build_tiny_model(tmp_path / "shipped", name="house", seed=1)
    models = tmp_path / "models"
    folk, _ = build_tiny_model(models, name="folk", seed=2, units=24)
    card = json.loads(folk.read_text())
    card["data"] = {"train_melodies": 1200, "sources": ["~/folk/"]}
    card["metrics"] = {"valid": {"model": {"pitch_bits": 2.25}}}
    folk.write_text(json.dumps(card))
    build_tiny_model(models, name="baroque", seed=3)
    (models / "notes.json").write_text('{"not": "a card"}')
    return shipped, models


def test_the_library_holds_the_default_and_the_folders_models(shelf: tuple[Path, Path]) -> None:
    shipped, models = shelf
    library = ModelLibrary(models, shipped)
    assert sorted(library.entries()) == ["baroque", "folk", "house"]
    assert library.find("house").shipped and not library.find("folk").shipped
    assert library.find("folk").summary["train_melodies"] == 1200
    assert library.find("folk").summary["pitch_bits"] == {"valid": 2.25}
    build_tiny_model(models, name="jazz", seed=4)  # a model exported while the server runs
    assert "jazz" in library.entries()


def test_notegen_models_lists_names_data_and_metrics(
    shelf: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped, models = shelf
    monkeypatch.setenv("NOTEGEN_MODEL", str(shipped))
    assert main(["models", "--models-dir", str(models)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"models folder: {models}"
    folk = next(line for line in lines if line.startswith("folk "))
    assert "1200 melodies" in folk and "2.250" in folk and "24" in folk
    assert any(line.startswith("house (shipped)") for line in lines)
    assert main(["models", "--models-dir", str(models), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [m["name"] for m in listed] == ["house", "baroque", "folk"]


@pytest.mark.parametrize(
    ("text", "uri", "expected"),
    [
        ("# notegen: model=baroque\na1=[]\n", "file:///x/a.rb", ("baroque", "comment", 0)),
        ("use_bpm 60\n  #notegen:model = folk\n", "file:///x/a.rb", ("folk", "comment", 1)),
        ("a1=[]\n", "file:///music/baroque/fugue.rb", ("baroque", "folder", None)),
        ("a1=[]\n", "file:///music/baroque/bach/bwv.rb", ("bach", "folder", None)),  # longest
        ("# notegen: model=folk\n", "file:///music/baroque/x.rb", ("folk", "comment", 0)),
        ("a1=[]\n", "file:///elsewhere/x.rb", (None, "default", None)),
        ("\n" * 5000 + "# notegen: model=folk\n", "file:///x/a.rb", (None, "default", None)),
    ],
)
def test_what_a_document_asks_for(text: str, uri: str, expected: tuple) -> None:  # type: ignore[type-arg]
    folders = (("/music/baroque", "baroque"), ("/music/baroque/bach", "bach"))
    assert requested_model(text, uri, folders) == expected


def test_an_unknown_name_falls_back_to_the_default_with_a_reason(
    shelf: tuple[Path, Path],
) -> None:
    shipped, models = shelf
    settings, warnings = parse_settings({"modelsDir": str(models), "folderModels": {"/m": "folk"}})
    assert warnings == [] and settings.folderModels == (("/m", "folk"),)
    engine = Engine()
    engine.load(shipped)
    choice = ModelChoice(engine)
    try:
        missing = choice.choose(settings, "file:///x.rb", "# notegen: model=rococo\n")
        assert (missing.model, missing.requested) == ("house", "rococo")
        assert "no model named 'rococo' (models: baroque, folk, house" in (missing.error or "")
        assert choice.engine(settings, missing) is engine
        assert "not found, so the default" in hover_line(missing)
        folk = choice.choose(settings, "file:///m/tune.rb", "a1=[]\n")
        assert (folk.model, folk.source, folk.error) == ("folk", "folder", None)
        assert choice.engine(settings, folk) is not engine
        assert choice.engine(settings, folk) is choice.engine(settings, folk)  # loaded once
        same = choice.choose(settings, "file:///x.rb", "# notegen: model=house\n")
        assert choice.engine(settings, same) is engine  # the default, not a second copy
    finally:
        choice.shutdown()
        engine.shutdown()


def test_bad_model_settings_are_reported_and_replaced() -> None:
    settings, warnings = parse_settings({"folderModels": ["/m"], "modelsDir": 3})
    assert settings.folderModels == () and settings.modelsDir is None
    assert len(warnings) == 2 and "folderModels must be an object" in warnings[0]
