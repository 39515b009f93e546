"""The slip check of one document version, with its sections' evidence kept as bytes.

The same steps run in the server (small pieces, on the engine's background thread) and in a
child process (:mod:`notegen.lsp.child`, big ones): on the 20,000-note benchmark piece the
check is ~15 s of CPU whose Python parts competed with completions for the GIL, and it left
+45–58 MB of the server's heap resident (measured) of which only ~10 MB was the evidence
worth keeping. In a child that exits, the work and its garbage go with the process.

What is kept between checks is each section's evidence (:class:`notegen.slips.Features`),
pickled and compressed (one bytes object per section: no small objects to fragment the
server's heap, cheap to hand to a child; zlib at :data:`EVIDENCE_LEVEL` keeps 29 %: 15.0 →
4.3 MB for the benchmark piece, ~5 ms a section to compress, in the child), keyed by a digest of
:func:`notegen.slips.section_key`, and only for the sections of the document's latest check:
an edit re-scores only the sections it touched, and closing the document frees its evidence.
"""

from __future__ import annotations

import hashlib
import pickle
import zlib
from collections.abc import Generator, Iterator, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from notegen.duration_slips import DurationSlip
from notegen.model import MelodyModel
from notegen.notes import NoteStyle, infer_style
from notegen.slips import Features, Slip, document_steps, run_to_end
from notegen.sonicpi import read

from .documents import DocumentView

EVIDENCE_LEVEL = 6
"""zlib level of the kept evidence: the benchmark piece's 44 sections (15.0 MB pickled) keep
4.29 MB at 6 against 4.98 at 1, for 0.22 s instead of 0.14 s of compression (in the child that
checks a big piece; decompression 36 vs 49 ms). Level 9 or lzma save little more for seconds."""


@dataclass(frozen=True)
class Checked:
    """A finished check: the slips, the piece's spelling, and the evidence of its sections."""

    slips: list[Slip | DurationSlip]
    style: NoteStyle
    evidence: dict[bytes, bytes]


@dataclass(frozen=True)
class _Voice:
    """Stands for a cached section's part: :func:`notegen.slips.with_parts` only needs its voice
    to attach the part read from the current text (a stored part would carry its whole array
    of tokens)."""

    voice: int


class EvidenceCache(MutableMapping[tuple, Features]):
    """The mapping :func:`notegen.slips.document_steps` reads and fills, over pickled evidence:
    ``known`` as the server kept it, ``used`` what this check read or made (the next check's
    ``known``)."""

    def __init__(self, known: dict[bytes, bytes]) -> None:
        self.known = known
        self.used: dict[bytes, bytes] = {}

    @staticmethod
    def digest(key: tuple) -> bytes:
        return hashlib.blake2b(pickle.dumps(key, protocol=4), digest_size=16).digest()

    def __getitem__(self, key: tuple) -> Features:
        d = self.digest(key)
        blob = self.used.get(d) or self.known.get(d)
        if blob is None:
            raise KeyError(key)
        self.used[d] = blob
        features: Features = pickle.loads(zlib.decompress(blob))
        return features

    def __setitem__(self, key: tuple, features: Features) -> None:
        stubs = [_Voice(p.voice) for p in features.parts]
        light = replace(features, parts=stubs)  # type: ignore[arg-type]
        blob = pickle.dumps(light, protocol=pickle.HIGHEST_PROTOCOL)
        self.used[self.digest(key)] = zlib.compress(blob, EVIDENCE_LEVEL)

    def __delitem__(self, key: tuple) -> None:
        self.used.pop(self.digest(key), None)

    def __iter__(self) -> Iterator[tuple]:
        return iter(())  # digests only: the keys themselves are not kept

    def __len__(self) -> int:
        return len(self.used)


def check_steps(
    model: MelodyModel,
    view: DocumentView,
    threshold: float,
    every_piece: bool,
    known: dict[bytes, bytes],
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
    return Checked(slips, style, cache.used)


def check(
    model: MelodyModel,
    view: DocumentView,
    threshold: float,
    every_piece: bool,
    known: dict[bytes, bytes],
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
