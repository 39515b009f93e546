"""Listing the models folder: bounded, incremental, and (in the server) off the event loop.

A scan reads a card only when it is new or changed, and only up to
:data:`~notegen.model.library.LISTED_CARD_BYTES`; every ``NAME.json`` it cannot list keeps a
reason naming the file. In the server's mode (``ModelChoice(background=True)``) a document is
answered from the last finished listing while the next one is read on a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.tiny_model import build_tiny_model
from notegen.cli import main
from notegen.lsp.config import parse_settings
from notegen.lsp.engine import Engine
from notegen.lsp.model_choice import ModelChoice, hover_line
from notegen.model import library as model_library
from notegen.model.library import LISTED_CARD_BYTES, ModelLibrary


@pytest.fixture
def shelf(tmp_path: Path) -> tuple[Path, Path]:
    """A default model ``house`` and a models folder holding ``baroque``."""
    shipped, _ = build_tiny_model(tmp_path / "shipped", name="house", seed=1)
    models = tmp_path / "models"
    build_tiny_model(models, name="baroque", seed=3)
    return shipped, models


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the cards each scan reads, in order."""
    seen: list[str] = []
    read = model_library._summary

    def counted(card_path: Path) -> dict[str, Any]:
        seen.append(card_path.stem)
        return read(card_path)

    monkeypatch.setattr(model_library, "_summary", counted)
    return seen


def test_a_card_over_the_listing_bound_is_refused_unread(shelf: tuple[Path, Path]) -> None:
    shipped, models = shelf
    card = {"onnx": "big.onnx", "pitch_vocab": ["<bos>", "rest", 60], "pad": ""}
    card["pad"] = "x" * (LISTED_CARD_BYTES - len(json.dumps(card)) + 1)
    (models / "big.json").write_text(json.dumps(card))
    listing = ModelLibrary(models, shipped).scan()
    assert sorted(listing.entries) == ["baroque", "house"]
    assert listing.refused["big"] == (
        f"{models / 'big.json'}: model card is {LISTED_CARD_BYTES + 1} bytes, "
        f"over the {LISTED_CARD_BYTES}-byte limit"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"not": "a card"}', 'not a model card (no "onnx" and "pitch_vocab" fields)'),
        ('{"onnx": "x.onnx", "pitch_vocab": [', "model card is not valid JSON"),
        (b'{"onnx": "\xff"}', "model card is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "model card is not valid JSON"),
        (None, "model card is a FIFO, not a regular file"),  # never opened: no writer comes
    ],
)
def test_a_file_that_is_no_card_says_which_and_why(
    shelf: tuple[Path, Path], content: str | bytes | None, why: str
) -> None:
    shipped, models = shelf
    odd = models / "odd.json"
    if content is None:
        os.mkfifo(odd)
    else:
        odd.write_bytes(content if isinstance(content, bytes) else content.encode())
    listing = ModelLibrary(models, shipped).scan()
    assert "odd" not in listing.entries and "baroque" in listing.entries
    assert listing.refused["odd"].startswith(f"{odd}: {why}")


def test_notegen_models_says_which_files_it_does_not_list_and_why(
    shelf: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped, models = shelf
    monkeypatch.setenv("NOTEGEN_MODEL", str(shipped))
    (models / "notes.json").write_text('{"not": "a card"}')
    assert main(["models", "--models-dir", str(models)]) == 0
    why = f'{models / "notes.json"}: not a model card (no "onnx" and "pitch_vocab" fields)'
    assert capsys.readouterr().out.splitlines()[-1] == f"not listed: {why}"
    assert main(["models", "--models-dir", str(models), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["not_listed"] == [why]


def test_a_rescan_reads_only_new_or_changed_cards(
    shelf: tuple[Path, Path], reads: list[str]
) -> None:
    shipped, models = shelf
    library = ModelLibrary(models, shipped)
    assert sorted(library.entries()) == ["baroque", "house"]
    assert sorted(reads) == ["baroque", "house"]
    reads.clear()
    build_tiny_model(models, name="jazz", seed=4)  # exported while the server runs
    assert sorted(library.entries()) == ["baroque", "house", "jazz"]
    assert reads == ["jazz"]
    reads.clear()
    card = models / "baroque.json"
    fresh = models / "baroque.json.part"
    fresh.write_text(card.read_text().replace("{", '{"created": "again", ', 1))
    fresh.replace(card)  # exported again
    assert library.entries()["baroque"].summary["created"] == "again"
    assert reads == ["baroque"]


def test_an_unknown_name_with_a_bad_card_says_what_is_wrong_with_it(
    shelf: tuple[Path, Path],
) -> None:
    shipped, models = shelf
    os.mkfifo(models / "evil.json")
    settings, _ = parse_settings({"modelsDir": str(models)})
    engine = Engine()
    engine.load(shipped)
    choice = ModelChoice(engine)
    try:
        evil = choice.choose(settings, "file:///x.rb", "# notegen: model=evil\n")
        assert evil.model == "house"
        assert (evil.error or "").startswith(
            f"no model named 'evil' ({models / 'evil.json'}: model card is a FIFO, not a "
            "regular file; models: baroque, house"
        )
    finally:
        choice.shutdown()
        engine.shutdown()


class HeldCard:
    """``slow.json``'s reading waits until :meth:`release` (a slow disk, a big card)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        read = model_library._summary

        def held(card_path: Path) -> dict[str, Any]:
            if card_path.name == "slow.json":
                self.reached.set()
                assert self.released.wait(30), "the test never let slow.json go"
            return read(card_path)

        monkeypatch.setattr(model_library, "_summary", held)

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldCard]:
    card = HeldCard(monkeypatch)
    yield card
    card.release()


async def test_in_the_background_a_document_is_answered_while_the_folder_is_read(
    shelf: tuple[Path, Path], held: HeldCard
) -> None:
    shipped, models = shelf
    build_tiny_model(models, name="slow", seed=5)
    settings, _ = parse_settings({"modelsDir": str(models)})
    engine = Engine()
    engine.load(shipped)
    choice = ModelChoice(engine, background=True)
    asking = "# notegen: model=baroque\n"
    try:
        meanwhile = choice.choose(settings, "file:///a.rb", asking)  # starts the listing
        assert held.reached.wait(30)
        assert (meanwhile.model, meanwhile.pending) == ("house", True)
        assert "not known yet: the models folder is being read" in hover_line(meanwhile)
        assert choice.engine(settings, meanwhile) is engine
        no_model = choice.settle(settings, "file:///b.rb", "a1=[]\n")
        await asyncio.wait_for(no_model, 10)  # it asks for no model: it waits for nothing
        assert choice.choose(settings, "file:///b.rb", "a1=[]\n").model == "house"

        held.release()
        await asyncio.wait_for(choice.settle(settings, "file:///a.rb", asking), 30)
        chosen = choice.choose(settings, "file:///a.rb", asking)
        assert (chosen.model, chosen.error, chosen.pending) == ("baroque", None, False)
        assert choice.engine(settings, chosen) is not engine
    finally:
        choice.shutdown()
        engine.shutdown()
