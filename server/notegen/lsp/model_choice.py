"""Which model serves a document: a magic comment, a folder setting, or the default.

A document picks a model of the library (:mod:`notegen.model.library`) by name with a comment
in its first lines, like an editor modeline::

    # notegen: model=baroque

Without one, ``notegen.folderModels`` (``{"/path/to/folder": "NAME"}``; the longest folder
that holds the document wins) decides, and otherwise the default model (``modelPath``,
``--model`` or the shipped one) serves it. A name the library does not know is a warning
diagnostic on the comment (or on line 1 for a folder setting) that lists the known names; the
document is then served by the default model, never left without completions. Each model is
loaded once, in its own :class:`Engine`, the first time a document asks for it.

In the server the models folder is listed on a worker thread (``background``): a request
never waits for it and is answered from the last finished listing. A document whose model
that listing does not know yet is served by the default meanwhile, and says so (hover); its
reading waits for the listing (:meth:`ModelChoice.settle`), so its diagnostics and
``notegen/model`` are about the model it asked for. Other documents wait for nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types

from notegen.lsp.config import Settings
from notegen.model.library import NAME_PATTERN, Listing, ModelLibrary
from notegen.paths import user_path

from .engine import Engine

log = logging.getLogger(__name__)

MAGIC = re.compile(r"^[ \t]*#[ \t]*notegen:[ \t]*model[ \t]*=[ \t]*(\S*)", re.MULTILINE)
HEAD_CHARS = 4096
"""The magic comment is looked for in the document's first 4 KB (a modeline lives at the top)."""
DIAGNOSTIC_CODE = "unknown-model"
NOTIFICATION = "notegen/model"
"""Sent after each reading when a document's model changes: ``{uri, model, source, requested,
error}``; an editor shows it in a status item (hover shows it too)."""
SETTLE_SCANS = 3
"""Listings a reading waits for at most: a folder that keeps changing must not hold it for ever."""
NOTHING = Listing(None, {}, {})


@dataclass(frozen=True)
class Choice:
    """The model serving a document and why; ``error`` when the requested one is unavailable."""

    model: str
    source: str  # "comment" | "folder" | "default"
    requested: str | None = None
    line: int | None = None
    error: str | None = None
    pending: bool = False  # the error is that the models folder is still being listed

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
    """``(name, source, line)`` the document asks for (``(None, "default", None)``: nothing).

    Asked a few times per request: the magic comment's regular expression runs only where
    ``notegen`` is written in the head (~50 µs a call over 4 KB of notes, ~1 µs the search)."""
    head = text[:HEAD_CHARS]
    match = MAGIC.search(head) if "notegen" in head else None
    if match:
        return match.group(1), "comment", head.count("\n", 0, match.start())
    if not folders:
        return None, "default", None
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
    """Engines by model card, created on first use; the default engine is the server's.

    ``background``: list the models folder on a worker thread and answer from the last
    finished listing (the server: its event loop never waits for a disk); otherwise list it
    in place, when asked (the CLI, tests).
    """

    def __init__(self, default: Engine, background: bool = False) -> None:
        self.default = default
        self.background = background
        self.engines: dict[Path, Engine] = {}
        self._library: ModelLibrary | None = None
        self._scan: Future[Listing] | None = None
        self._scanner: ThreadPoolExecutor | None = None

    def library(self, settings: Settings) -> ModelLibrary:
        folder = user_path(settings.modelsDir) if settings.modelsDir else None
        if self._library is None or (folder is not None and self._library.dir != folder):
            self._library = ModelLibrary(folder)
            self._scan = None  # (the old folder's scan, if any, is nobody's any more)
        return self._library

    def default_name(self) -> str:
        return self.default.path.stem if self.default.path is not None else "notegen"

    def listing(self, settings: Settings) -> tuple[ModelLibrary, Listing, bool]:
        """The library, its models now and whether a newer listing is on its way."""
        library = self.library(settings)
        if not self.background:
            return library, library.listing(), False
        scan = self._refresh(library)
        return library, library.last or NOTHING, scan is not None

    def _refresh(self, library: ModelLibrary) -> Future[Listing] | None:
        """The scan under way, started when the folder changed; ``None``: up to date."""
        scan = self._scan
        if scan is not None and not scan.done():
            return scan
        if not library.stale(library.last):
            return None
        if self._scanner is None:
            self._scanner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notegen-models")
        self._scan = scan = self._scanner.submit(library.scan)
        scan.add_done_callback(_log_failure)
        return scan

    async def settle(self, settings: Settings, uri: str, text: str) -> None:
        """Wait for the models folder's listing if ``text`` asks for a model by name.

        A reading awaits this before it chooses the document's model, so that its diagnostics
        and notification are about the model asked for; a document asking for no model, or
        for the default one, never waits.
        """
        name, _, _ = requested_model(text, uri, settings.folderModels)
        if not self.background or name is None or name == self.default_name():
            return
        library = self.library(settings)
        for _ in range(SETTLE_SCANS):
            scan = self._refresh(library)
            if scan is None:
                return
            try:
                await asyncio.shield(asyncio.wrap_future(scan))
            except Exception:
                return  # (logged) the document's choice says the model is not known

    def choose(self, settings: Settings, uri: str, text: str) -> Choice:
        name, source, line = requested_model(text, uri, settings.folderModels)
        default = self.default_name()
        if name is None:
            return Choice(default, "default")
        if name == default:  # the model the server was started with, wherever it lives
            return Choice(default, source, name, line)
        library, listing, scanning = self.listing(settings)
        valid = re.fullmatch(NAME_PATTERN, name) is not None
        entry = listing.entries.get(name) if valid else None
        if entry is not None:
            return Choice(entry.name, source, name, line)
        if scanning and valid:
            error = (
                f"model {name!r} is not known yet: the models folder {library.dir} is being "
                f"read; this document uses the default model {default!r} meanwhile"
            )
            return Choice(default, source, name, line, error, pending=True)
        known = ", ".join(sorted({*listing.entries, default}))
        why = listing.refused.get(name) if valid else None
        error = (
            f"no model named {name!r} ({why + '; ' if why else ''}models: {known}; "
            f"folder {library.dir}); this document uses the default model {default!r}"
        )
        return Choice(default, source, name, line, error)

    def engine(self, settings: Settings, choice: Choice) -> Engine:
        """The engine of a choice (loading it on first use); the default for errors."""
        if choice.error or choice.source == "default" or choice.model == self.default_name():
            return self.default
        entry = self.listing(settings)[1].entries.get(choice.model)
        if entry is None:
            return self.default
        card = entry.card.resolve()
        if self.default.path is not None and _same_card(self.default.path, card):
            return self.default
        engine = self.engines.get(card)
        if engine is None:
            engine = self.engines[card] = Engine(self.default.quiet_for)
            engine.load(card)
        return engine

    def shutdown(self) -> None:
        for engine in self.engines.values():
            engine.shutdown()
        if self._scanner is not None:
            self._scanner.shutdown(wait=False, cancel_futures=True)


def _log_failure(scan: Future[Listing]) -> None:
    if not scan.cancelled() and scan.exception() is not None:
        log.error("listing the models folder failed", exc_info=scan.exception())


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
    if choice.pending:
        why = f"model {choice.requested!r} not known yet: the models folder is being read"
    elif choice.error:
        why = f"model {choice.requested!r} not found, so the default"
    return f"Served by model **{choice.model}** ({why})"
