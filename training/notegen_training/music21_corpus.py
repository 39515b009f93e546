"""Melodies from the music21 corpus, with the ids and split of ``../shared/data/melodies``.

Sources: essenFolksong, oneills1850, ryansMammoth, airdsAirs, miscFolk (ABC files, several
tunes per file) and the soprano line (``parts[0]``) of the Bach chorales (music21's chorale
iterator). A melody's id is ``<corpus path relative to music21's corpus>#<index of the tune in
that file>`` (the chorale iterator names files without extension: ``bach/bwv10.7#0``), and its
split is ``sha1(id) % 100`` (:func:`notegen_training.corpus.split_of`).

Extraction rules: ties merged (``stripTies``), grace notes dropped, chords reduced to their
top note, repeats not expanded (the notes as written), leading and trailing rests removed (a
tune starts and ends on a note), consecutive rests merged into one, durations in quarter notes
(= beats) rounded to 6 decimals, and exact transposition-invariant duplicates (same intervals,
rests and durations) removed, keeping the first in (string) id order. These choices reproduce
the reference extract (checked with ``notegen-train extract --check``).

Parsing is slow (ABC through music21), so files are parsed in worker processes, one result
file per source file under the cache folder; a second run only reads the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from notegen.melody import Event

from .corpus import Melody, Split, split_of

COLLECTIONS = {
    "essenFolksong": "essen",
    "oneills1850": "oneills",
    "ryansMammoth": "ryans",
    "airdsAirs": "aird",
    "miscFolk": "miscfolk",
    "bach": "bach_soprano",
}
ABC_FOLDERS = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "notegen" / "music21"


@dataclass(frozen=True)
class SourceFile:
    """One unit of parsing work: a corpus path (as music21 names it) and its id prefix."""

    corpus_path: str
    id_prefix: str

    @property
    def collection(self) -> str:
        return COLLECTIONS[self.id_prefix.split("/", 1)[0]]


def list_sources(folders: Sequence[str] = (*ABC_FOLDERS, "bach")) -> list[SourceFile]:
    """The corpus files to parse, in a fixed order."""
    root = _corpus_root()
    sources: list[SourceFile] = []
    for folder in folders:
        if folder == "bach":
            from music21 import corpus

            for name in corpus.chorales.Iterator(returnType="filename"):
                sources.append(SourceFile(str(name), str(name)))
            continue
        for path in sorted((root / folder).glob("*.abc")):
            if path.name.startswith("test"):
                continue  # music21's own test fixtures (essenFolksong/test0.abc), not tunes
            rel = path.relative_to(root).as_posix()
            sources.append(SourceFile(rel, rel))
    return sources


def events_of(score) -> list[Event]:  # type: ignore[no-untyped-def]
    """The melody of a music21 score: first part, ties merged, graces dropped, top notes."""
    from music21 import chord, note

    part = score.parts[0] if score.parts else score
    part = part.stripTies()
    events: list[Event] = []
    for element in part.flatten().notesAndRests:
        if element.duration.isGrace:
            continue
        beats = round(float(element.quarterLength), 6)
        if beats <= 0:
            continue
        if isinstance(element, note.Rest):
            events.append(Event(None, beats))
        elif isinstance(element, chord.Chord):
            events.append(Event(max(p.midi for p in element.pitches), beats))
        else:
            events.append(Event(element.pitch.midi, beats))
    return events


def _meta(score) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from music21 import meter

    meta: dict[str, object] = {"meter": None, "key_sig": None}
    sigs = list(score.recurse().getElementsByClass(meter.TimeSignature))
    if sigs:
        meta["meter"] = sigs[0].ratioString
    keys = list(score.recurse().getElementsByClass("KeySignature"))
    if keys:
        meta["key_sig"] = keys[0].sharps
    return meta


def parse_source(source: SourceFile, only: Split | None = None) -> list[dict[str, object]]:
    """All tunes of one corpus file as melody JSON objects (a tune that fails is skipped).

    With ``only`` just the tunes whose id falls in that split are converted (see
    :func:`_split_tunes`): the test split in a tenth of the time of the whole corpus."""
    from music21 import corpus, stream

    scores: list[tuple[int, Any]]
    if source.id_prefix.startswith("bach/"):
        if only is not None and split_of(f"{source.id_prefix}#0") != only:
            return []
        scores = [(0, corpus.parse(source.corpus_path))]
    elif only is not None:
        scores = list(_split_tunes(source, only))
    else:
        parsed = corpus.parse(source.corpus_path, forceSource=True)
        scores = list(enumerate(parsed.scores if isinstance(parsed, stream.Opus) else [parsed]))
    out = []
    for index, score in scores:
        try:
            events = events_of(score)
            title = (score.metadata.title if score.metadata else None) or ""
            meta = _meta(score)
        except Exception as err:  # music21 raises many kinds on odd ABC
            print(f"skipping {source.id_prefix}#{index}: {err}", file=sys.stderr)
            continue
        if not events:
            continue
        melody = Melody(f"{source.id_prefix}#{index}", events, source.collection, title, meta)
        out.append(melody.to_json())
    return out


def _split_tunes(source: SourceFile, only: Split) -> Iterator[tuple[int, Any]]:
    """(index, score) of the tunes of an ABC file whose id falls in split ``only``.

    music21 reads an ABC file into tokens, splits them by reference number (``X:``) and
    converts every tune in ascending number order: the tune's index in that order is its id.
    Here the tokens are split the same way and only the wanted tunes are converted. (A tune
    whose conversion fails would shift the later indices in the full parse; none does in
    music21 10.5.1's corpus: the test split made this way is the whole extract's, 1,289
    melodies and 91,219 events.)"""
    from music21 import abcFormat, stream
    from music21.abcFormat import translate

    reader = abcFormat.ABCFile()
    reader.open(_corpus_root() / source.corpus_path)
    try:
        handler = reader.read()
    finally:
        reader.close()
    if not handler.definesReferenceNumbers():
        if split_of(f"{source.id_prefix}#0") == only:
            score = stream.Score()
            translate.abcToStreamScore(handler, score)
            yield 0, score
        return
    tunes = handler.splitByReferenceNumber()
    for index, number in enumerate(sorted(tunes)):
        if split_of(f"{source.id_prefix}#{index}") == only:
            yield index, translate.abcToStreamScore(tunes[number])


def _corpus_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def _cache_file(cache_dir: Path, source: SourceFile, only: Split | None = None) -> Path:
    key = hashlib.sha1(source.id_prefix.encode()).hexdigest()[:16]
    return cache_dir / (f"{key}.json" if only is None else f"{key}.{only}.json")


def _parse_to_cache(args: tuple[SourceFile, Path, Split | None]) -> tuple[SourceFile, int]:
    source, cache_dir, only = args
    tunes = parse_source(source, only)
    target = _cache_file(cache_dir, source, only)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps({"source": source.id_prefix, "tunes": tunes}))
    tmp.replace(target)
    return source, len(tunes)


def extract(
    sources: Sequence[SourceFile] | None = None,
    cache_dir: Path | None = None,
    workers: int = 2,
    progress: bool = True,
    only: Split | None = None,
) -> list[Melody]:
    """Parse (or read from cache) every source and return deduplicated melodies in id order.

    ``only``: just the melodies of that split, converting only their tunes (a whole file's
    cache is used when there is one). Their duplicates are removed among themselves only: a
    caller that has the other splits deduplicates against them (``extract --only --known``).
    """
    import music21
    from tqdm import tqdm

    sources = list(sources) if sources is not None else list_sources()
    cache_dir = (cache_dir or default_cache_dir()) / f"music21-{music21.__version__}"
    cache_dir.mkdir(parents=True, exist_ok=True)

    def cached(source: SourceFile) -> Path | None:
        for split in (None, only) if only else (None,):
            path = _cache_file(cache_dir, source, split)
            if path.exists():
                return path
        return None

    todo = [s for s in sources if cached(s) is None]
    if todo:
        bar = tqdm(
            total=len(todo),
            desc="parsing music21 corpus" + (f" ({only} tunes only)" if only else ""),
            unit="file",
            disable=not progress,
            file=sys.stderr,
        )
        # big files first so the pool does not end waiting on one essen book
        todo.sort(key=lambda s: -_size_hint(s))
        jobs = [(s, cache_dir, only) for s in todo]
        if workers > 1:
            with get_context("spawn").Pool(workers) as pool:
                for _ in pool.imap_unordered(_parse_to_cache, jobs):
                    bar.update()
        else:
            for job in jobs:
                _parse_to_cache(job)
                bar.update()
        bar.close()
    melodies: list[Melody] = []
    for source in sources:
        path = cached(source)
        assert path is not None
        data = json.loads(path.read_text())
        melodies.extend(Melody.from_json(t) for t in data["tunes"])
    if only is not None:
        melodies = [m for m in melodies if split_of(m.id) == only]
    trimmed = [m for m in (trim_rests(merge_rests(m)) for m in melodies) if m.events]
    return deduplicate(trimmed)


def merge_rests(melody: Melody) -> Melody:
    """Consecutive rests as one rest lasting their total (silence has no inner structure)."""
    events: list[Event] = []
    for event in melody.events:
        if event.pitch is None and events and events[-1].pitch is None:
            total = round((events[-1].duration or 0.0) + (event.duration or 0.0), 6)
            events[-1] = Event(None, total)
        else:
            events.append(event)
    if len(events) == len(melody.events):
        return melody
    return Melody(melody.id, events, melody.collection, melody.title, melody.meta)


def trim_rests(melody: Melody) -> Melody:
    """The melody without rests before its first note and after its last."""
    events = melody.events
    start = next((i for i, e in enumerate(events) if e.pitch is not None), len(events))
    end = next((i for i in range(len(events), 0, -1) if events[i - 1].pitch is not None), 0)
    if start == 0 and end == len(events):
        return melody
    return Melody(melody.id, events[start:end], melody.collection, melody.title, melody.meta)


def _size_hint(source: SourceFile) -> int:
    path = _corpus_root() / source.corpus_path
    return path.stat().st_size if path.exists() else 0


def transposition_key(events: Iterable[Event]) -> tuple[object, ...]:
    """Intervals from the first note, rests and durations: equal for transposed copies."""
    items: list[object] = []
    first: float | None = None
    for event in events:
        if event.pitch is None:
            items.append((None, event.duration))
            continue
        if first is None:
            first = event.pitch
        items.append((event.pitch - first, event.duration))
    return tuple(items)


def deduplicate(melodies: Sequence[Melody]) -> list[Melody]:
    """Melodies sorted by id (as strings: ``f.abc#10`` before ``f.abc#2``), keeping the first
    of each transposition-invariant duplicate."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for melody in sorted(melodies, key=lambda m: m.id):
        key = transposition_key(melody.events)
        if key in seen:
            continue
        seen.add(key)
        out.append(melody)
    return out


def split(melodies: Iterable[Melody]) -> dict[str, list[Melody]]:
    out: dict[str, list[Melody]] = {"train": [], "valid": [], "test": []}
    for melody in melodies:
        out[split_of(melody.id)].append(melody)
    return out
