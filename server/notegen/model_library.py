"""Several models side by side: the shipped one plus the user's, found by name.

A model is a card (``NAME.json``) with its graph beside it, as ``notegen-train export``
writes them. The library is the shipped model (named by its card, ``notegen``) plus every
card in the models folder: ``notegen.modelsDir`` in the editor, else ``$NOTEGEN_MODELS_DIR``,
else ``$XDG_DATA_HOME/notegen/models`` (``~/.local/share/notegen/models``) — the place for
user data that XDG prescribes, so models survive reinstalling the package. A card in the
folder named like the shipped one replaces it in the listing; in the editor, the name of the
server's default model (``--model``/``modelPath``) always means that model.

``notegen models`` lists them with what their cards say about data and metrics.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notegen.model import MAX_CARD_BYTES, ModelError, check_regular_file, default_model_path
from notegen.paths import user_path

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"


def default_models_dir() -> Path:
    env = os.environ.get("NOTEGEN_MODELS_DIR")
    if env:
        return user_path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "notegen" / "models"


@dataclass(frozen=True)
class ModelEntry:
    """A model the library knows: its name, card path and the card's summary."""

    name: str
    card: Path
    shipped: bool
    summary: dict[str, Any]


def _summary(card_path: Path) -> dict[str, Any] | None:
    """The card's data and metrics in a few fields; ``None`` when it is not a model card.

    Only a regular file of a card's size is read: a FIFO named ``x.json`` in the folder
    blocked the server for good (opening it waits for a writer), and a huge one was read whole.
    """
    try:
        check_regular_file(card_path, "model card", MAX_CARD_BYTES)
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ModelError, RecursionError):
        return None
    if not isinstance(card, dict) or "onnx" not in card or "pitch_vocab" not in card:
        return None
    data: dict[str, Any] = card["data"] if isinstance(card.get("data"), dict) else {}
    metrics: dict[str, Any] = card["metrics"] if isinstance(card.get("metrics"), dict) else {}
    scores = {}
    for split, result in metrics.items():
        if isinstance(result, dict) and isinstance(result.get("model"), dict):
            scores[split] = result["model"].get("pitch_bits")
    history = (card.get("training") or {}).get("valid_history") or []
    return {
        "train_melodies": data.get("train_melodies"),
        "sources": data.get("sources", []),
        "pitch_bits": scores,
        "last_valid_pitch_bits": history[-1].get("pitch_bits") if history else None,
        "units": (card.get("state") or {}).get("units"),
        "created": card.get("created"),
        "training_time_s": card.get("training_time_s"),
    }


class ModelLibrary:
    """The models by name; the folder is scanned again when it changes (its mtime)."""

    def __init__(self, models_dir: Path | None = None, shipped: Path | None = None) -> None:
        self.dir = models_dir or default_models_dir()
        self.shipped = shipped or default_model_path()
        self._stamp: float | None = None
        self._entries: dict[str, ModelEntry] = {}

    def entries(self) -> dict[str, ModelEntry]:
        try:
            stamp: float | None = self.dir.stat().st_mtime
        except OSError:
            stamp = None
        if stamp != self._stamp or not self._entries:
            self._entries = self._scan()
            self._stamp = stamp
        return self._entries

    def _scan(self) -> dict[str, ModelEntry]:
        found: dict[str, ModelEntry] = {}
        card = self.shipped if self.shipped.suffix == ".json" else self.shipped.with_suffix(".json")
        summary = _summary(card)
        if summary is not None:
            found[card.stem] = ModelEntry(card.stem, card, True, summary)
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.json")):
                summary = _summary(path)
                if summary is not None:
                    found[path.stem] = ModelEntry(path.stem, path, False, summary)
        return found

    def find(self, name: str) -> ModelEntry | None:
        return self.entries().get(name)


# -- notegen models ------------------------------------------------------------------------------


def add_subcommand(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "models",
        help="list the models a document can choose with '# notegen: model=NAME'",
        description="The shipped model and the models in the models folder, with their cards' "
        "data and metrics.",
    )
    p.add_argument("--models-dir", type=Path, help=f"models folder ({default_models_dir()})")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_list_models)


def _list_models(args: argparse.Namespace) -> int:
    library = ModelLibrary(args.models_dir)
    entries = library.entries()
    if args.json:
        out = {
            "models_dir": str(library.dir),
            "models": [
                {"name": e.name, "card": str(e.card), "shipped": e.shipped, **e.summary}
                for e in entries.values()
            ],
        }
        print(json.dumps(out, indent=1))
        return 0
    print(f"models folder: {library.dir}" + ("" if library.dir.is_dir() else " (not created yet)"))
    header = ("NAME", "TRAINED ON", "VALID BITS", "TEST BITS", "UNITS", "CARD")
    rows = [header]
    for e in entries.values():
        s = e.summary
        bits = s["pitch_bits"]
        valid = bits.get("valid") or s["last_valid_pitch_bits"]
        rows.append(
            (
                e.name + (" (shipped)" if e.shipped else ""),
                f"{s['train_melodies']} melodies" if s["train_melodies"] is not None else "?",
                f"{valid:.3f}" if isinstance(valid, (int, float)) else "-",
                f"{bits['test']:.3f}" if isinstance(bits.get("test"), (int, float)) else "-",
                str(s["units"] or "-"),
                str(e.card),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0
