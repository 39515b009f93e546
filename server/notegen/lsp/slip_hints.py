"""Slip hints in the editor: hint-level diagnostics on implausible notes and on durations that
put a voice out of step, with quick fixes.

After each whole-file reading has published its diagnostics, the slip check
(:mod:`notegen.model.slips`, run by :mod:`notegen.lsp.slip_check`) runs in the background: for a big
piece (:data:`notegen.lsp.child.CHILD_MIN_NOTES` notes weighed) in a child process that exits
afterwards (the check of the 20,000-note benchmark piece is ~15 s of CPU and left +45–58 MB
in the server), for a small one on the engine's background thread a few model steps at a
time (never on the inference thread, so completions do not queue behind it). An edit stops
it. Each section's evidence is kept (compressed, in a file per section in a temporary folder
of the server's, for that document's sections only, deleted when it closes or the server
exits), so an edit re-scores only the sections it touched. When the check is done (and
the document has not changed meanwhile) the diagnostics are published again with the hints
added.

Each hint carries its alternatives (``data``), so the code actions need no model: one quick
fix per alternative, spelled as the piece spells its notes, and "Ignore here", which adds a
``# notegen: ignore N`` comment (``N``: the note's index in its array) to the note's line.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from lsprotocol import types

from notegen.model.duration_slips import DurationSlip
from notegen.model.slips import Slip, spelled_fix, threshold_for
from notegen.notes import NoteStyle
from notegen.sonicpi import format_duration
from notegen.sonicpi.lexer import tokenize

from . import child
from .documents import DocumentView
from .edits import text_edit, workspace_edit
from .host import Host
from .slip_check import Checked, EvidenceFolder, check, check_steps, checked_notes

log = logging.getLogger(__name__)

SOURCE = "notegen"
CODE = "slip"
KIND = types.CodeActionKind.QuickFix


class SlipHints:
    """The server's slip checker: one background task per document, and per document the
    evidence of its sections from its latest check (with the model that made it).

    The evidence lives in files under one temporary folder (made at the first check, deleted
    with everything in it when this object goes or the interpreter exits): the benchmark
    piece's 4.3 MB of it stayed resident in the server between checks, and travelled
    pickled to every child process that checked the piece again."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Future[None]] = {}
        self.evidence: dict[str, tuple[object, EvidenceFolder]] = {}
        self.hints: dict[str, tuple[int | None, list[types.Diagnostic]]] = {}
        self.root: Path | None = None
        self._no_root = False
        self._removal: weakref.finalize[Any, Any] | None = None

    def folder(self, uri: str) -> EvidenceFolder | None:
        """``uri``'s evidence folder (nothing kept in it yet), ``None`` if there is no
        temporary folder to be had (each check then scores every section)."""
        if self.root is None and not self._no_root:
            try:
                self.root = Path(tempfile.mkdtemp(prefix=f"{EVIDENCE_PREFIX}{os.getpid()}-"))
            except OSError as exc:
                log.warning("slip evidence is not kept between checks: %s", exc)
                self._no_root = True
                return None
            self._removal = weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)
            sweep_stale_folders(self.root.parent)
        if self.root is None:
            return None
        name = hashlib.blake2b(uri.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        return EvidenceFolder(self.root / name)

    def close(self) -> None:
        """Stop every check and delete the evidence folder (the server stops)."""
        for uri in list(self.tasks):
            self.cancel(uri)
        if self._removal is not None:
            self._removal()

    def schedule(
        self,
        host: Host,
        uri: str,
        view: DocumentView,
        diagnostics: list[types.Diagnostic],
        reader: Executor,
    ) -> None:
        """Check ``view`` in the background; republish ``diagnostics`` plus the hints."""
        self.cancel(uri)
        if host.settings.slips.sensitivity == "off":
            self.hints.pop(uri, None)
            return
        self.tasks[uri] = asyncio.ensure_future(self._check(host, uri, view, diagnostics, reader))

    def for_version(self, uri: str, version: int | None) -> list[types.Diagnostic]:
        """The hints found for that version of ``uri`` (for other publishers of diagnostics,
        which replace the whole set: Sonic Pi's runtime errors)."""
        found = self.hints.get(uri)
        return list(found[1]) if found is not None and found[0] == version else []

    def cancel(self, uri: str) -> None:
        task = self.tasks.pop(uri, None)
        if task is not None:
            task.cancel()

    def forget(self, uri: str) -> None:
        """The document closed: its check stops and its evidence goes (its folder deleted now,
        and again once a check in a child process has stopped: it may have written since)."""
        task = self.tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        self.hints.pop(uri, None)
        self.evidence.pop(uri, None)
        folder = self.folder(uri) if self.root is not None else None  # (none made for it)
        if folder is not None:
            shutil.rmtree(folder.path, ignore_errors=True)
            if task is not None:
                task.add_done_callback(lambda _t: shutil.rmtree(folder.path, ignore_errors=True))

    async def _check(
        self,
        host: Host,
        uri: str,
        view: DocumentView,
        diagnostics: list[types.Diagnostic],
        reader: Executor,
    ) -> None:
        try:
            found = await self._slips(host, uri, view, reader)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("slip check of %s failed", uri)
            return
        if found is None or not host.is_current(view):
            return
        slips, style = found
        hints = [_diagnostic(view, slip, style) for slip in slips]
        self.hints[uri] = (view.version, hints)
        if not hints:
            return  # what was published already stands
        host.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics + hints, version=view.version
            )
        )

    async def _slips(
        self, host: Host, uri: str, view: DocumentView, reader: Executor
    ) -> tuple[list[Slip | DurationSlip], NoteStyle] | None:
        engine = host.engine_for(uri)
        model = await engine.ready()
        if model is None:
            return None
        settings = host.settings.slips
        reading = host.latest_reading(uri)
        weighed = None if reading is None else checked_notes(reading.summaries, settings.allPieces)
        loop = asyncio.get_running_loop()
        if weighed == 0 and reading is not None:  # nothing to check: no process, no steps
            if self.evidence.pop(uri, None) is not None:
                await loop.run_in_executor(reader, self._empty, uri)
            return [], reading.style
        which = (engine.path, id(model))
        kept = self.evidence.get(uri)
        known = kept[1] if kept is not None and kept[0] == which else None
        if known is None:  # nothing kept, or by another model: its files go
            known = await loop.run_in_executor(reader, self._empty, uri)
        args = (threshold_for(settings.sensitivity), settings.allPieces, known)
        result: Checked | None
        if engine.path is not None and child.wanted(weighed if weighed is not None else 0):
            result = await child.run_in_child(engine.path, check, view, *args)
        else:
            steps = check_steps(model, view, *args)
            while True:
                done, result = await engine.run_background(_advance, steps)
                if done:
                    break
                if not host.is_current(view):
                    return None  # edited meanwhile: the next reading starts a new check
        assert result is not None
        if known is not None:  # the sections of this check kept, the others' files deleted
            folder = await loop.run_in_executor(reader, known.keeping, result.evidence)
            self.evidence[uri] = (which, folder)
        return result.slips, result.style

    def _empty(self, uri: str) -> EvidenceFolder | None:
        """``uri``'s folder with nothing kept in it (its files deleted)."""
        folder = self.folder(uri)
        return None if folder is None else folder.keeping(frozenset())


EVIDENCE_PREFIX = "notegen-evidence-"
"""A server's evidence folder in the temporary directory: this, its process id, ``-`` and
:func:`tempfile.mkdtemp`'s random part."""


def sweep_stale_folders(where: Path) -> None:
    """Delete the evidence folders in ``where`` whose server is gone (POSIX).

    A server deletes its own at exit; one that was killed (``SIGKILL``, a crash, an editor
    that gave up waiting) left it behind. Only folders named as :data:`EVIDENCE_PREFIX` names
    them, owned by this user, not links, whose process id no process has any more."""
    if os.name != "posix":  # (Windows' os.kill(pid, 0) would end the process)
        return
    try:
        entries = list(os.scandir(where))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(EVIDENCE_PREFIX):
            continue
        pid = entry.name[len(EVIDENCE_PREFIX) :].split("-", 1)[0]
        try:
            if (
                not pid.isdigit()
                or int(pid) == os.getpid()
                or not entry.is_dir(follow_symlinks=False)
                or entry.stat(follow_symlinks=False).st_uid != os.getuid()
                or _alive(int(pid))
            ):
                continue
        except (OSError, ValueError, OverflowError):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (POSIX: signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's
    return True


def _advance(steps: Any) -> tuple[bool, Checked | None]:
    """One step of the check on the background thread: ``(finished, result)``."""
    try:
        next(steps)
    except StopIteration as done:
        return True, done.value
    return False, None


def _diagnostic(
    view: DocumentView, slip: Slip | DurationSlip, style: NoteStyle
) -> types.Diagnostic:
    """A hint on the note (or duration), its alternatives spelled in ``style`` in ``data``."""
    sl, sc = view.position_at(slip.span.start)
    el, ec = view.position_at(slip.span.end)
    if isinstance(slip, DurationSlip):
        fixes: list[dict[str, Any]] = [{"text": format_duration(slip.fix)}]
    else:
        fixes = [{"text": spelled_fix(fix, style), "midi": fix.midi} for fix in slip.fixes]
    return types.Diagnostic(
        range=types.Range(types.Position(sl, sc), types.Position(el, ec)),
        message=slip.message,
        severity=types.DiagnosticSeverity.Hint,
        source=SOURCE,
        code=CODE,
        data={
            "fixes": fixes,
            "index": slip.index,
            "was": view.text[slip.span.start : slip.span.end],
        },
    )


def actions(
    view: DocumentView, diagnostics: Sequence[types.Diagnostic], document_changes: bool
) -> list[types.CodeAction]:
    """The quick fixes of the slip hints the client sent back: one per alternative (the most
    likely first, preferred), then "Ignore here"."""
    out: list[types.CodeAction] = []
    for diag in diagnostics:
        if diag.code != CODE or diag.source != SOURCE or not isinstance(diag.data, dict):
            continue
        found = _still_there(view, diag)
        if found is None:
            continue  # a hint of an older text: its fix would rewrite whatever is there now
        start, end, written = found
        for i, fix in enumerate(diag.data.get("fixes") or []):
            text = fix.get("text") if isinstance(fix, dict) else None
            if not isinstance(text, str) or not text:
                continue
            edit = text_edit(view, start, end, text)
            out.append(
                types.CodeAction(
                    title=f"Change {written} to {text}",
                    kind=KIND,
                    diagnostics=[diag],
                    is_preferred=i == 0,
                    edit=workspace_edit(view, [edit], document_changes),
                )
            )
        index = diag.data.get("index")
        if isinstance(index, int):
            at, comment = _ignore_edit(view, diag.range.start.line, index)
            out.append(
                types.CodeAction(
                    title=f"Ignore here (keep {written})",
                    kind=KIND,
                    diagnostics=[diag],
                    edit=workspace_edit(view, [text_edit(view, at, at, comment)], document_changes),
                )
            )
    return out


def _still_there(view: DocumentView, diag: types.Diagnostic) -> tuple[int, int, str] | None:
    """``(start, end, text)`` of the hint's range if it still holds the element it was made
    for, else ``None``.

    Editors show a hint, and send it back with a request for code actions, until the server
    publishes the next version's: typed-in text before the note shifts it out of the range.
    A range that ends before it starts, or lies past its line or the document, was not ours.
    """
    r = diag.range
    first, last = (r.start.line, r.start.character), (r.end.line, r.end.character)
    if first >= last or not isinstance(diag.data, dict):
        return None
    start, end = view.offset_at(*first), view.offset_at(*last)
    if view.position_at(start) != first or view.position_at(end) != last:
        return None  # clamped: not a place in this text
    written = view.text[start:end]
    if written != diag.data.get("was"):
        return None
    return start, end, written


def _ignore_edit(view: DocumentView, line: int, index: int) -> tuple[int, str]:
    """Where and what to insert so the note ``index`` of ``line`` is left alone: a new trailing
    comment, or the index added to the line's ``# notegen: ignore`` comment."""
    line_text = view.line_text(line)
    start = view.offset_at(line, 0)
    for tok in tokenize(line_text):
        if tok.kind == "comment" and "notegen: ignore" in tok.value:
            return start + tok.end, f", {index}"
    end = start + len(line_text.rstrip("\r\n"))
    return end, f"  # notegen: ignore {index}"
