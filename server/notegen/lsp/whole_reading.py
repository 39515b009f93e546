"""The whole-file reading of a document version: in the server, or in a child process.

A reading of a big piece allocates several times what it keeps (the lexer's tokens, every
note as an object, the settings' temporaries) and leaves the server's heap fragmented: on the
20,000-note benchmark piece each reading left ~20 MB of Python's small-object arenas resident
around the few objects that outlived it (measured: 25 → 46 arenas for +3 MB of live blocks).
From :data:`CHILD_MIN_CHARS` characters the reading (its settings and harmony tables
included) runs in a child process (:mod:`notegen.lsp.child`, no model loaded) that sends the
:class:`~notegen.lsp.reading.Reading` and its findings back pickled and exits: the
server only unpickles what it keeps, allocated together. Both paths run
:func:`read_document`, so they give the same reading. Nothing here loads lsprotocol, which
the child would import too (the findings become diagnostics in the server).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from notegen.notes import infer_style

from . import child
from .array_checks import Finding, check_arrays
from .documents import DocumentView
from .reading import Reading

log = logging.getLogger(__name__)

Found = tuple[Reading, list[Finding], float]
"""A reading, its findings (:mod:`notegen.lsp.array_checks`), and the CPU seconds they took."""

CHILD_MIN_CHARS = int(os.environ.get("NOTEGEN_CHILD_READ_MIN_CHARS", "50000"))
"""Documents from this many characters are read in a child process.

Below it the child's start (the interpreter, numpy, the reader's modules) would cost
more than the reading (~0.35 s for 50,000 characters) and its garbage is small.
``$NOTEGEN_CHILD_READ_MIN_CHARS`` changes it (tests use 0 and a huge value to compare both
paths)."""


def read_document(view: DocumentView, conditioned: bool = False) -> Found:
    """The whole-file reading, its findings, and the thread CPU time they took.

    For a model that hears the other voices (``conditioned``) the voices' settings are
    prepared here too, so the inference thread never builds them."""
    start = time.thread_time()
    reading = Reading(view.version, view.arrays(), infer_style(view.text), view.text)
    findings = check_arrays(view)
    view.forget_arrays()  # ~10 MB for a 20,000-note file; commands that need them re-read
    if conditioned:
        reading.prepare_settings()
    return reading, findings, time.thread_time() - start


def wanted(view: DocumentView) -> bool:
    """Whether ``view`` is read in a child process."""
    return len(view.text) >= CHILD_MIN_CHARS


def _child_job(_model: Any, view: DocumentView, conditioned: bool) -> Found:
    """The child's side: the reading without its text (the server has it already)."""
    reading, findings, cost = read_document(view, conditioned)
    reading.text = None
    return reading, findings, cost


async def read_in_child(view: DocumentView, conditioned: bool) -> Found:
    """:func:`read_document` in a child process; raises :class:`child.ChildFailed` if it
    could not be done there (the caller reads in the server instead)."""
    reading, findings, cost = await child.run_in_child(None, _child_job, view, conditioned)
    reading.text = view.text
    log.info("read %s (version %s) in a child process", view.uri, view.version)
    return reading, findings, cost
