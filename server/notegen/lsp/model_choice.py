"""Which model serves a document: a magic comment, a folder setting, or the default.

A document picks a model of the library (:mod:`notegen.model_library`) by name with a comment
in its first lines, like an editor modeline::

    # notegen: model=baroque

Without one, ``notegen.folderModels`` (``{"/path/to/folder": "NAME"}``; the longest folder
that holds the document wins) decides, and otherwise the default model (``modelPath``,
``--model`` or the shipped one) serves it. A name the library does not know is a warning
diagnostic on the comment (or on line 1 for a folder setting) that lists the known names; the
document is then served by the default model, never left without completions. Each model is
loaded once, in its own :class:`Engine`, the first time a document asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from notegen.config import Settings
from notegen.model_library import NAME_PATTERN, ModelLibrary
from notegen.paths import user_path

from .engine import Engine

MAGIC = re.compile(r"^[ \t]*#[ \t]*notegen:[ \t]*model[ \t]*=[ \t]*(\S*)", re.MULTILINE)
HEAD_CHARS = 4096
"""The magic comment is looked for in the document's first 4 KB (a modeline lives at the top)."""
DIAGNOSTIC_CODE = "unknown-model"
NOTIFICATION = "notegen/model"
"""Sent after each reading when a document's model changes: ``{uri, model, source, requested,
error}``; an editor shows it in a status item (hover shows it too)."""


@dataclass(frozen=True)
class Choice:
    """The model serving a document and why; ``error`` when the requested one is unavailable."""

    model: str
    source: str  # "comment" | "folder" | "default"
    requested: str | None = None
    line: int | None = None
    error: str | None = None

    def to_json(self, uri: str) -> dict[str, object]:
        return {
            "uri": uri,
            "model": self.model,
            "source": self.source,
            "requested": self.requested,
            "error": self.error,
        }


def requested_model(
    text: str, uri: str, folders: tuple[tuple[str, str], ...]
) -> tuple[str | None, str, int | None]:
    """``(name, source, line)`` the document asks for (``(None, "default", None)``: nothing)."""
    head = text[:HEAD_CHARS]
    match = MAGIC.search(head)
    if match:
        return match.group(1), "comment", head.count("\n", 0, match.start())
    path = _path_of(uri)
    best: tuple[int, str] | None = None
    for folder, name in folders:
        root = user_path(folder)
        inside = path is not None and (path == root or root in path.parents)
        if inside and (best is None or len(root.parts) > best[0]):
            best = (len(root.parts), name)
    if best is not None:
        return best[1], "folder", None
    return None, "default", None


def _path_of(uri: str) -> Path | None:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


class ModelChoice:
    """Engines by model card, created on first use; the default engine is the server's."""

    def __init__(self, default: Engine) -> None:
        self.default = default
        self.engines: dict[Path, Engine] = {}
        self._library: ModelLibrary | None = None

    def library(self, settings: Settings) -> ModelLibrary:
        folder = user_path(settings.modelsDir) if settings.modelsDir else None
        if self._library is None or (folder is not None and self._library.dir != folder):
            self._library = ModelLibrary(folder)
        return self._library

    def default_name(self) -> str:
        return self.default.path.stem if self.default.path is not None else "notegen"

    def choose(self, settings: Settings, uri: str, text: str) -> Choice:
        name, source, line = requested_model(text, uri, settings.folderModels)
        default = self.default_name()
        if name is None:
            return Choice(default, "default")
        if name == default:  # the model the server was started with, wherever it lives
            return Choice(default, source, name, line)
        library = self.library(settings)
        entry = library.find(name) if re.fullmatch(NAME_PATTERN, name) else None
        if entry is None:
            known = ", ".join(sorted({*library.entries(), default}))
            error = (
                f"no model named {name!r} (models: {known}; folder {library.dir}); "
                f"this document uses the default model {default!r}"
            )
            return Choice(default, source, name, line, error)
        return Choice(entry.name, source, name, line)

    def engine(self, settings: Settings, choice: Choice) -> Engine:
        """The engine of a choice (loading it on first use); the default for errors."""
        if choice.error or choice.source == "default" or choice.model == self.default_name():
            return self.default
        entry = self.library(settings).find(choice.model)
        if entry is None:
            return self.default
        card = entry.card.resolve()
        if self.default.path is not None and _same_card(self.default.path, card):
            return self.default
        engine = self.engines.get(card)
        if engine is None:
            engine = self.engines[card] = Engine()
            engine.load(card)
        return engine

    def shutdown(self) -> None:
        for engine in self.engines.values():
            engine.shutdown()


def _same_card(path: Path, card: Path) -> bool:
    own = path if path.suffix == ".json" else path.with_suffix(".json")
    try:
        return own.resolve() == card
    except OSError:
        return False


def diagnostics(choice: Choice, engine: Engine) -> list[types.Diagnostic]:
    """A warning where the requested model is unknown or failed to load."""
    message = choice.error
    if message is None and engine.error and choice.source != "default":
        message = f"model {choice.model!r} cannot be loaded: {engine.error}"
    if message is None:
        return []
    line = choice.line or 0
    return [
        types.Diagnostic(
            range=types.Range(types.Position(line, 0), types.Position(line, 10_000)),
            message=f"notegen: {message}",
            severity=types.DiagnosticSeverity.Warning,
            source="notegen",
            code=DIAGNOSTIC_CODE,
        )
    ]


def hover_line(choice: Choice) -> str:
    why = {
        "comment": "chosen by `# notegen: model=` in this file",
        "folder": "chosen by the notegen.folderModels setting",
        "default": "the default model",
    }[choice.source]
    if choice.error:
        why = f"model {choice.requested!r} not found, so the default"
    return f"Served by model **{choice.model}** ({why})"
