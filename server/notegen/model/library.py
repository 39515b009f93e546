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
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notegen.model.network import ModelError, check_regular_file, default_model_path
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


LISTED_CARD_BYTES = 1024 * 1024
"""A card in the models folder is read only up to this size (the shipped one is ~47 kB).

Parsing JSON holds the interpreter for the whole document, on whichever thread: a 15 MB card
took ~1.2 s, during which the server answered nobody. A bigger card is refused unread, with
the reason; ``modelPath`` and ``--model`` still load cards up to
:data:`~notegen.model.network.MAX_CARD_BYTES`."""


def _read_bounded(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``, opened without blocking.

    The caller checked the path first (opening a device may have effects); this check again
    on what was opened covers a file replaced by a FIFO meanwhile."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelError(f"{path}: model card is not a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ModelError(f"{path}: model card is over the {limit}-byte limit")
    return data


def _summary(card_path: Path) -> dict[str, Any]:
    """The card's data and metrics in a few fields; :class:`ModelError` says why it is not a
    model card the library lists (the message names the file).

    Only a regular file of at most :data:`LISTED_CARD_BYTES` is read: a FIFO named ``x.json``
    in the folder blocked the server for good (opening it waits for a writer), and a huge one
    was read and parsed whole.
    """
    check_regular_file(card_path, "model card", LISTED_CARD_BYTES)
    try:
        card = json.loads(_read_bounded(card_path, LISTED_CARD_BYTES).decode("utf-8"))
    except OSError as exc:
        raise ModelError(f"{card_path}: cannot read model card ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ModelError(f"{card_path}: model card is not valid JSON ({exc})") from None
    if not isinstance(card, dict) or "onnx" not in card or "pitch_vocab" not in card:
        raise ModelError(f'{card_path}: not a model card (no "onnx" and "pitch_vocab" fields)')
    data = _field(card, "data")
    metrics = _field(card, "metrics")
    scores = {}
    for split, result in metrics.items():
        if isinstance(result, dict) and isinstance(result.get("model"), dict):
            scores[split] = result["model"].get("pitch_bits")
    history = _field(card, "training").get("valid_history")
    last = history[-1] if isinstance(history, list) and history else None
    return {
        "train_melodies": data.get("train_melodies"),
        "sources": data.get("sources", []),
        "pitch_bits": scores,
        "last_valid_pitch_bits": last.get("pitch_bits") if isinstance(last, dict) else None,
        "units": _field(card, "state").get("units"),
        "created": card.get("created"),
        "training_time_s": card.get("training_time_s"),
    }


def _field(card: dict[str, Any], key: str) -> dict[str, Any]:
    """``card[key]`` when it is an object, else ``{}`` (a card's summary is best effort)."""
    value = card.get(key)
    return value if isinstance(value, dict) else {}


Signature = tuple[int, int, int, int]
"""What tells a card file changed: device, inode, size, modification time (ns)."""


def _signature(path: Path) -> Signature | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


@dataclass(frozen=True)
class Listing:
    """One scan of the library: the models by name, and why each other ``NAME.json`` of the
    folder is not one (``refused``: name to a message naming the file)."""

    stamp: int | None
    entries: dict[str, ModelEntry]
    refused: dict[str, str]


class ModelLibrary:
    """The models by name; the folder is scanned again when it changes (its mtime).

    A scan reads only the cards that are new or changed since the previous one (by
    :data:`Signature`), each bounded by :data:`LISTED_CARD_BYTES`; it may run on any thread
    (one at a time), and :attr:`last` is the last finished listing.
    """

    def __init__(self, models_dir: Path | None = None, shipped: Path | None = None) -> None:
        self.dir = models_dir or default_models_dir()
        self.shipped = shipped or default_model_path()
        self.last: Listing | None = None
        self._cards: dict[Path, tuple[Signature | None, dict[str, Any] | str]] = {}
        self._scanning = threading.Lock()

    def stamp(self) -> int | None:
        """The folder's modification time (ns); ``None`` when it cannot be read."""
        try:
            return self.dir.stat().st_mtime_ns
        except OSError:
            return None

    def stale(self, listing: Listing | None) -> bool:
        """Whether ``listing`` may miss a card: the folder changed since, or it found none."""
        return listing is None or not listing.entries or listing.stamp != self.stamp()

    def listing(self) -> Listing:
        """The current listing, scanned here when the folder changed."""
        last = self.last
        if last is None or self.stale(last):
            return self.scan()
        return last

    def entries(self) -> dict[str, ModelEntry]:
        return self.listing().entries

    def find(self, name: str) -> ModelEntry | None:
        return self.entries().get(name)

    def scan(self) -> Listing:
        """List the shipped card and the folder's ``*.json``, reading only changed cards."""
        with self._scanning:
            stamp = self.stamp()  # before listing: a change during the scan is seen next time
            found: dict[str, ModelEntry] = {}
            refused: dict[str, str] = {}
            cards: dict[Path, tuple[Signature | None, dict[str, Any] | str]] = {}
            shipped = self.shipped
            candidates = [(shipped.with_suffix(".json"), True)]
            if self.dir.is_dir():
                candidates += [(path, False) for path in sorted(self.dir.glob("*.json"))]
            for path, is_shipped in candidates:
                cards[path] = read = self._card(path)
                if isinstance(read[1], str):
                    refused[path.stem] = read[1]
                else:
                    refused.pop(path.stem, None)
                    found[path.stem] = ModelEntry(path.stem, path, is_shipped, read[1])
            self._cards = cards
            self.last = Listing(stamp, found, refused)
            return self.last

    def _card(self, path: Path) -> tuple[Signature | None, dict[str, Any] | str]:
        """The card's summary or why it is none, read again only when the file changed."""
        signature = _signature(path)
        kept = self._cards.get(path)
        if kept is not None and signature is not None and kept[0] == signature:
            return kept
        try:
            return signature, _summary(path)
        except ModelError as exc:
            return signature, str(exc)
        except Exception as exc:  # one odd card must not end the scan of the others
            return signature, f"{path}: cannot read model card ({type(exc).__name__}: {exc})"


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
    listing = library.listing()
    entries = listing.entries
    refused = [why for name, why in listing.refused.items() if name not in entries]
    if args.json:
        out = {
            "models_dir": str(library.dir),
            "models": [
                {"name": e.name, "card": str(e.card), "shipped": e.shipped, **e.summary}
                for e in entries.values()
            ],
            "not_listed": refused,
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
    for why in refused:  # a card the user exported and misses here: say what is wrong with it
        print(f"not listed: {why}")
    return 0
