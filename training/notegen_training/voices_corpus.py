"""Multi-voice pieces from the music21 corpus: every part of a score as an aligned voice.

A piece is the score's parts, each a monophonic voice (ties merged, grace notes dropped, chords
reduced to their top note, consecutive rests merged) placed on one time line in beats (quarter
notes) from the score's first onset. Its id is ``<corpus path>#0`` — for the Bach chorales the
same id as their soprano line in ``../shared/data/melodies`` — and *every* voice of a piece
falls in the split of that id, so no voice of a test chorale is trained on.

Each piece keeps its metre: ``bar_beats`` (bar length in beats) and ``bar_phase`` (where in the
bar beat 0 falls: a pickup bar of one beat in 4/4 gives 3.0), so the conditioning inputs
(:mod:`notegen.model.conditioning`) know the metric position of every onset.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from notegen.melody import Event
from notegen.notes import note_to_midi, spell

from .corpus import split_of
from .music21_corpus import default_cache_dir

VOICE_COLLECTIONS = ("bach",)
"""Folders parsed by default: the chorales (music21's chorale iterator, 4 voices each)."""


@dataclass
class Voice:
    """One part: its first onset (beats from the piece's start) and its events from there."""

    name: str
    start: float
    events: list[Event]

    @property
    def onsets(self) -> list[float]:
        out, t = [], self.start
        for event in self.events:
            out.append(t)
            t += event.duration or 0.0
        return out


@dataclass
class Piece:
    """Aligned voices of one score, with its metre (``None`` where unknown)."""

    id: str
    voices: list[Voice]
    collection: str = ""
    title: str = ""
    meter: str | None = None
    bar_beats: float | None = None
    bar_phase: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def split(self) -> str:
        return split_of(self.id)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "collection": self.collection,
            "title": self.title,
            "meter": self.meter,
            "bar_beats": self.bar_beats,
            "bar_phase": self.bar_phase,
            "voices": [
                {
                    "name": v.name,
                    "start": v.start,
                    "notes": [[spell(e.pitch), e.duration] for e in v.events],
                }
                for v in self.voices
            ],
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> Piece:
        voices = [
            Voice(
                str(v["name"]),
                float(v["start"]),
                [Event(note_to_midi(s), float(d)) for s, d in v["notes"]],
            )
            for v in obj["voices"]  # type: ignore[union-attr]
        ]
        bar = obj.get("bar_beats")
        return cls(
            str(obj["id"]),
            voices,
            str(obj.get("collection", "")),
            str(obj.get("title", "")),
            obj.get("meter"),  # type: ignore[arg-type]
            None if bar is None else float(bar),  # type: ignore[arg-type]
            float(obj.get("bar_phase") or 0.0),  # type: ignore[arg-type]
        )


def voice_of_part(part, origin: float) -> tuple[float, list[Event]] | None:  # type: ignore[no-untyped-def]
    """A part as (first onset, events): gaps become rests, overlaps keep the earlier note."""
    from music21 import chord, note

    flat = part.stripTies().flatten()
    events: list[Event] = []
    start: float | None = None
    t = 0.0
    for element in flat.notesAndRests:
        if element.duration.isGrace or isinstance(element, note.Rest):
            continue
        beats = round(float(element.quarterLength), 6)
        onset = round(float(element.offset) - origin, 6)
        if beats <= 0 or (start is not None and onset < t - 1e-6):
            continue
        if isinstance(element, chord.Chord):
            pitch = max(p.midi for p in element.pitches)
        else:
            pitch = element.pitch.midi
        if start is None:
            start, t = onset, onset
        elif onset > t + 1e-6:
            gap = round(onset - t, 6)
            if events and events[-1].pitch is None:
                events[-1] = Event(None, round((events[-1].duration or 0) + gap, 6))
            else:
                events.append(Event(None, gap))
        events.append(Event(pitch, beats))
        t = onset + beats
    return None if start is None else (start, events)


def piece_of_score(score, piece_id: str, collection: str) -> Piece | None:  # type: ignore[no-untyped-def]
    """Every part with notes as a voice; the origin is the earliest onset of any part."""
    from music21 import meter

    parts = list(score.parts)
    onsets = [
        float(n.offset)
        for p in parts
        for n in p.flatten().notes
        if not n.duration.isGrace and n.quarterLength > 0
    ]
    if not onsets:
        return None
    origin = min(onsets)
    voices = []
    for index, part in enumerate(parts):
        found = voice_of_part(part, origin)
        if found is not None and any(e.pitch is not None for e in found[1]):
            voices.append(Voice(part.partName or f"part{index}", *found))
    sigs = list(score.recurse().getElementsByClass(meter.TimeSignature))
    meter_string = sigs[0].ratioString if sigs else None
    bar_beats = float(sigs[0].barDuration.quarterLength) if sigs else None
    phase = 0.0
    if bar_beats:
        measures = list(parts[0].getElementsByClass("Measure"))
        padding = float(measures[0].paddingLeft) if measures else 0.0
        phase = round((padding + origin) % bar_beats, 6)
    title = (score.metadata.title if score.metadata else None) or ""
    return Piece(piece_id, voices, collection, title, meter_string, bar_beats, phase)


@dataclass(frozen=True)
class PieceSource:
    corpus_path: str
    id: str
    collection: str


def list_piece_sources(collections: Sequence[str] = VOICE_COLLECTIONS) -> list[PieceSource]:
    """Corpus files of the multi-voice collections, in a fixed order."""
    import music21
    from music21 import corpus

    root = Path(music21.__file__).parent / "corpus"
    out: list[PieceSource] = []
    for folder in collections:
        if folder == "bach":
            for name in corpus.chorales.Iterator(returnType="filename"):
                out.append(PieceSource(str(name), f"{name}#0", "bach"))
            continue
        for path in sorted((root / folder).rglob("*")):
            if path.suffix.lower() in (".mxl", ".xml", ".musicxml", ".krn", ".mid", ".midi"):
                rel = path.relative_to(root).as_posix()
                out.append(PieceSource(rel, f"{rel}#0", folder))
    return out


def parse_piece(source: PieceSource) -> Piece | None:
    from music21 import corpus

    try:
        score = corpus.parse(source.corpus_path)
        return piece_of_score(score, source.id, source.collection)
    except Exception as err:  # music21 raises many kinds on odd files
        print(f"skipping {source.id}: {err}", file=sys.stderr)
        return None


def _cache_file(cache_dir: Path, source: PieceSource) -> Path:
    return cache_dir / (hashlib.sha1(source.id.encode()).hexdigest()[:16] + ".json")


def _parse_to_cache(args: tuple[PieceSource, Path]) -> None:
    source, cache_dir = args
    piece = parse_piece(source)
    target = _cache_file(cache_dir, source)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(None if piece is None else piece.to_json()))
    tmp.replace(target)


def extract_pieces(
    sources: Sequence[PieceSource] | None = None,
    cache_dir: Path | None = None,
    workers: int = 2,
    progress: bool = True,
) -> list[Piece]:
    """Parse (or read from the cache) every source; pieces with two voices or more, by id."""
    import music21
    from tqdm import tqdm

    sources = list(sources) if sources is not None else list_piece_sources()
    cache_dir = (cache_dir or default_cache_dir()) / f"voices-{music21.__version__}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    todo = [s for s in sources if not _cache_file(cache_dir, s).exists()]
    bar = tqdm(total=len(todo), desc="parsing pieces", disable=not progress, file=sys.stderr)
    if workers > 1 and len(todo) > 1:
        with get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_parse_to_cache, [(s, cache_dir) for s in todo]):
                bar.update()
    else:
        for source in todo:
            _parse_to_cache((source, cache_dir))
            bar.update()
    bar.close()
    pieces = []
    for source in sources:
        data = json.loads(_cache_file(cache_dir, source).read_text())
        if data is not None and len(data["voices"]) >= 2:
            pieces.append(Piece.from_json(data))
    return sorted(pieces, key=lambda p: p.id)


def write_pieces(path: str | Path, pieces: Iterable[Piece]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.gz")
    count = 0
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        for piece in pieces:
            handle.write(json.dumps(piece.to_json()) + "\n")
            count += 1
    tmp.replace(path)
    return count


def read_pieces(path: str | Path) -> Iterator[Piece]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        for line in handle:
            if line.strip():
                yield Piece.from_json(json.loads(line))


def split_pieces(pieces: Iterable[Piece]) -> dict[str, list[Piece]]:
    out: dict[str, list[Piece]] = {"train": [], "valid": [], "test": []}
    for piece in pieces:
        out[piece.split].append(piece)
    return out
