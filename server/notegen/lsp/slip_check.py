"""The slip check of one document version, with its sections' evidence kept on disk.

The same steps run in the server (small pieces, on the engine's background thread) and in a
child process (:mod:`notegen.lsp.child`, big ones): on the 20,000-note benchmark piece the
check is ~15 s of CPU whose Python parts competed with completions for the GIL, and it left
+45–58 MB of the server's heap resident (measured) of which only ~10 MB was the evidence
worth keeping. In a child that exits, the work and its garbage go with the process.

What is kept between checks is each section's evidence (:class:`notegen.model.slips.Features`),
pickled and compressed (zlib at :data:`EVIDENCE_LEVEL` keeps 29 %: 15.0 → 4.3 MB for the
benchmark piece, ~5 ms a section to compress, in the child), one file per section in the
document's :class:`EvidenceFolder` named by a digest of :func:`notegen.model.slips.section_key`, and
only for the sections of the document's latest check: an edit re-scores only the sections it
touched, and closing the document deletes its folder. In files, not in the server's memory: a
check reads each kept section once, where those 4.3 MB stayed resident in the server between
checks (and travelled to every child). A file that cannot be read or written is evidence not
kept: that section is scored again, never a failed check.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import zlib
from collections.abc import Generator, Iterator, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from notegen.model.duration_slips import DurationSlip
from notegen.model.network import MelodyModel
from notegen.model.slips import Features, Slip, document_steps, run_to_end
from notegen.notes import NoteStyle, infer_style
from notegen.sonicpi import read

from .documents import DocumentView

EVIDENCE_LEVEL = 6
"""zlib level of the kept evidence: the benchmark piece's 44 sections (15.0 MB pickled) keep
4.29 MB at 6 against 4.98 at 1, for 0.22 s instead of 0.14 s of compression (in the child that
checks a big piece; decompression 36 vs 49 ms). Level 9 or lzma save little more for seconds."""


@dataclass(frozen=True)
class EvidenceFolder:
    """Where a document's evidence is kept: a folder of one file per section (named by the
    hex digest of its key), and the sections of its latest check (the files to read)."""

    path: Path
    digests: frozenset[bytes] = frozenset()

    def file(self, digest: bytes) -> Path:
        return self.path / digest.hex()

    def read(self, digest: bytes) -> bytes | None:
        """The blob kept for ``digest``, or ``None`` (never kept, or gone)."""
        try:
            return self.file(digest).read_bytes()
        except OSError:
            return None

    def write(self, digest: bytes, blob: bytes) -> bool:
        """Keep ``blob`` (whole or not at all: written beside, then renamed); whether it was."""
        target = self.file(digest)
        part = target.with_name(f"{target.name}.{os.getpid()}.part")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            part.write_bytes(blob)
            part.replace(target)
        except OSError:
            with contextlib.suppress(OSError):
                part.unlink()
            return False
        return True

    def keeping(self, digests: frozenset[bytes]) -> EvidenceFolder:
        """This folder with only ``digests`` kept: the other files are deleted."""
        names = {d.hex() for d in digests}
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.path):
                if entry.name not in names:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
        return EvidenceFolder(self.path, digests)


@dataclass(frozen=True)
class Checked:
    """A finished check: the slips, the piece's spelling, and the sections whose evidence it
    kept (in the folder it was given)."""

    slips: list[Slip | DurationSlip]
    style: NoteStyle
    evidence: frozenset[bytes]


@dataclass(frozen=True)
class _Voice:
    """Stands for a cached section's part: :func:`notegen.model.slips.with_parts` only needs its
    voice to attach the part read from the current text (a stored part would carry its whole array
    of tokens)."""

    voice: int


class EvidenceCache(MutableMapping[tuple, Features]):
    """The mapping :func:`notegen.model.slips.document_steps` reads and fills, over the compressed
    evidence in ``folder`` (``None``: none kept); ``used`` the sections this check read or made
    and kept (the next check's)."""

    def __init__(self, folder: EvidenceFolder | None) -> None:
        self.folder = folder
        self.used: set[bytes] = set()

    @staticmethod
    def digest(key: tuple) -> bytes:
        return hashlib.blake2b(pickle.dumps(key, protocol=4), digest_size=16).digest()

    def __getitem__(self, key: tuple) -> Features:
        d, folder = self.digest(key), self.folder
        kept = folder is not None and (d in self.used or d in folder.digests)
        blob = folder.read(d) if kept and folder is not None else None
        if blob is None:
            raise KeyError(key)
        try:
            features: Features = pickle.loads(zlib.decompress(blob))
        except Exception:  # a damaged file: the section is scored again
            raise KeyError(key) from None
        self.used.add(d)
        return features

    def __setitem__(self, key: tuple, features: Features) -> None:
        if self.folder is None:
            return
        stubs = [_Voice(p.voice) for p in features.parts]
        light = replace(features, parts=stubs)  # type: ignore[arg-type]
        blob = pickle.dumps(light, protocol=pickle.HIGHEST_PROTOCOL)
        d = self.digest(key)
        if self.folder.write(d, zlib.compress(blob, EVIDENCE_LEVEL)):
            self.used.add(d)

    def __delitem__(self, key: tuple) -> None:
        self.used.discard(self.digest(key))

    def __iter__(self) -> Iterator[tuple]:
        return iter(())  # digests only: the keys themselves are not kept

    def __len__(self) -> int:
        return len(self.used)


def check_steps(
    model: MelodyModel,
    view: DocumentView,
    threshold: float,
    every_piece: bool,
    known: EvidenceFolder | None,
) -> Generator[None, None, Checked]:
    """The check of ``view`` as a generator (a step: a few model calls), ending in its result."""
    arrays = read(view.text)
    style = infer_style(view.text)
    cache = EvidenceCache(known)
    slips = yield from document_steps(
        model,
        view.text,
        arrays,
        threshold=threshold,
        every_piece=every_piece,
        cache=cache,
        style=style,
    )
    return Checked(slips, style, frozenset(cache.used))


def check(
    model: MelodyModel,
    view: DocumentView,
    threshold: float,
    every_piece: bool,
    known: EvidenceFolder | None,
) -> Checked:
    """:func:`check_steps` run to the end (in a child process)."""
    return run_to_end(check_steps(model, view, threshold, every_piece, known))


def checked_notes(summaries: Any, every_piece: bool) -> int:
    """How many notes a check of this reading weighs (0: nothing to check): voices' notes in
    sections that at least two voices share (any voice's with ``every_piece``).

    From the whole-file reading's summaries, so a piece with nothing to check starts nothing.
    """
    voices: dict[int, set[int]] = {}
    notes: dict[int, int] = {}
    for s in summaries:
        if s.kind != "voice" or s.voice is None or not len(s.pitches):
            continue
        section = s.section if s.section is not None else 0
        voices.setdefault(section, set()).add(s.voice)
        notes[section] = notes.get(section, 0) + len(s.pitches)
    return sum(n for sec, n in notes.items() if every_piece or len(voices[sec]) >= 2)
