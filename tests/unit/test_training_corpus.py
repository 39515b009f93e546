"""Corpus readers: melody files, the fixed split rule, Sonic Pi code, music21 dedup and cache."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from notegen.melody import Event
from notegen_training import music21_corpus
from notegen_training.corpus import CorpusError, Melody, read_jsonl, split_of, write_jsonl
from notegen_training.sonicpi_corpus import melodies_from_text, read_sonicpi_paths
from notegen_training.sources import load_melodies


@pytest.mark.parametrize(
    ("melody_id", "split"),
    [
        # sha1(id) % 100: 31 → train, 85 → valid, 97 → test (ids from the shared data set
        # where they sit in train / valid, and a made-up id that lands in test)
        ("airdsAirs/book1.abc#0", "train"),
        ("airdsAirs/book1.abc#11", "valid"),
        ("x#5", "valid"),
        ("x#6", "test"),
        ("bach/bwv10.7#0", "train"),
    ],
)
def test_split_rule_is_sha1_of_the_id_mod_100(melody_id: str, split: str) -> None:
    assert split_of(melody_id) == split


def test_melody_files_round_trip_gzip_or_not(tmp_path: Path) -> None:
    melody = Melody(
        "tune#0",
        [Event(67, 1.0), Event(None, 0.5), Event(70, 0.333333)],
        "essen",
        "A tune",
        {"meter": "3/4", "key_sig": -1},
    )
    for name in ("m.jsonl", "m.jsonl.gz"):
        assert write_jsonl(tmp_path / name, [melody]) == 1
        (again,) = read_jsonl(tmp_path / name)
        assert again == melody
    with gzip.open(tmp_path / "m.jsonl.gz", "rt") as handle:
        line = json.loads(handle.readline())
    assert line["notes"] == [[":G4", 1.0], [":r", 0.5], [":As4", 0.333333]]
    assert line["meter"] == "3/4"


def test_a_bad_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a#0", "notes": [[":C4", 1]]}\n{"id": "b#0", "notes": [[":H4", 1]]}\n')
    with pytest.raises(CorpusError, match=r"bad.jsonl:2"):
        list(read_jsonl(path))
    with pytest.raises(CorpusError, match="no such file"):
        load_melodies([tmp_path / "missing.jsonl"])


PIECE = """\
a1=[];b1=[];c1=[70,70]
a1[1]=[:E4,:F4]
b1[1]=[2,4]
a1[0]=[:C4,[:E4,:G4,:C5],:r,:D4]
b1[0]=[0.5,1,0.25,55*4]
a2[0]=[:C3]
b2[0]=[1]
play_pattern_timed [:c5, :d5, :e5], 0.25
play_pattern [60, 62, 64]
x = (ring :c4, :e4, :g4)
"""


def test_sonic_pi_voices_join_sections_and_keep_their_durations() -> None:
    melodies = {m.id.split("#")[1]: m for m in melodies_from_text(PIECE, "piece.rb")}
    # a2 has a single note: too short to be a melody; the ring is a note set, not a melody
    assert sorted(melodies) == ["a1", "play_pattern4", "play_pattern_timed3"]
    voice = melodies["a1"]
    # section 0 then section 1; the chord counts as its top note (:C5 = 72)
    assert voice.events == [
        Event(60, 0.5),
        Event(72, 1.0),
        Event(None, 0.25),
        Event(62, 220.0),
        Event(64, 2.0),
        Event(65, 4.0),
    ]
    timed = melodies["play_pattern_timed3"]
    assert timed.events == [Event(72, 0.25), Event(74, 0.25), Event(76, 0.25)]
    plain = melodies["play_pattern4"]
    assert [e.duration for e in plain.events] == [None, None, None]  # → default duration


def test_play_and_sleep_lines_are_melodies_too() -> None:
    text = (
        "live_loop :lead do\n  play :e4\n  sleep 0.5\n  play :g4\n  play :b4\n  sleep 1\n"
        "  sample :bd_haus\n  play 69\n  sleep 0.5\nend\n"
        "live_loop :drums do\n  sample :bd_haus\n  sleep 1\nend\n"
    )
    (melody,) = melodies_from_text(text, "live.rb")
    assert melody.id == "live.rb#lead@0"
    assert melody.events == [Event(64, 0.5), Event(71, 1.0), Event(69, 0.5)]


def test_bare_note_lines_of_the_seed_have_no_durations(tmp_path: Path) -> None:
    folder = tmp_path / "pieces"
    folder.mkdir()
    (folder / "train_data.rb").write_text(":C3,:B2,:G2,:r,:Ef5\n:C4,:D4\n")
    (folder / "notes.txt").write_text("not Sonic Pi")
    melodies = read_sonicpi_paths([folder])
    assert [len(m) for m in melodies] == [5, 2]
    assert melodies[0].events[3] == Event(None, None)
    assert melodies[0].events[4] == Event(75, None)


def test_transposed_exact_duplicates_are_removed_keeping_the_first_id() -> None:
    tune = [Event(60, 1.0), Event(62, 0.5), Event(None, 0.5), Event(64, 1.0)]
    up = [Event(None if e.pitch is None else e.pitch + 5, e.duration) for e in tune]
    other_rhythm = [Event(e.pitch, 2.0) for e in tune]
    kept = music21_corpus.deduplicate(
        [
            Melody("f.abc#10", up),
            Melody("f.abc#2", tune),
            Melody("f.abc#3", other_rhythm),
        ]
    )
    assert [m.id for m in kept] == ["f.abc#10", "f.abc#3"]  # ids sort as strings: #10 < #2


def test_second_extraction_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = music21_corpus.SourceFile("miscFolk/x.abc", "miscFolk/x.abc")
    parsed = [Melody("miscFolk/x.abc#0", [Event(60, 1.0), Event(62, 1.0)], "miscfolk").to_json()]
    calls: list[str] = []

    def fake_parse(
        src: music21_corpus.SourceFile, only: str | None = None
    ) -> list[dict[str, object]]:
        calls.append(src.id_prefix)
        return parsed

    monkeypatch.setattr(music21_corpus, "parse_source", fake_parse)
    first = music21_corpus.extract([source], tmp_path, workers=1, progress=False)
    second = music21_corpus.extract([source], tmp_path, workers=1, progress=False)
    assert calls == ["miscFolk/x.abc"]  # parsed once, then served from the cache
    assert [m.id for m in first] == [m.id for m in second] == ["miscFolk/x.abc#0"]


# Six tunes in file order X:7, 2, 9, 4, 12, 5; music21 numbers a book's tunes by ascending X,
# so the ids are 2 → #0 (valid), 4 → #1, 5 → #2, 7 → #3 (train), 9 → #4, 12 → #5 (test).
ABC_BOOK = """\
% a small book
X:7
T:Seven
M:2/4
L:1/8
K:G
GA Bc | d2 B2 | AG FA | G4 |]

X:2
T:Two
M:3/4
L:1/8
K:D
D2 F2 A2 | d4 c2 | B2 A2 F2 | D6 |]

X:9
T:Nine
M:4/4
L:1/4
K:C
C D E F | G2 E2 | F D B, D | C4 |]

X:4
T:Four
M:6/8
L:1/8
K:Am
A2 B c2 d | e3 A3 | G2 A B2 G | A6 |]

X:12
T:Twelve
M:2/4
L:1/8
K:F
FG AB | c2 A2 | GF EG | F4 |]

X:5
T:Five
M:3/4
L:1/4
K:Bb
B, D F | B2 A | G F E | D3 |]
"""


def test_one_split_converts_only_its_tunes_under_the_whole_books_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from music21 import converter

    (tmp_path / "miscFolk").mkdir()
    path = tmp_path / "miscFolk" / "set.abc"
    path.write_text(ABC_BOOK)
    monkeypatch.setattr(music21_corpus, "_corpus_root", lambda: tmp_path)
    source = music21_corpus.SourceFile("miscFolk/set.abc", "miscFolk/set.abc")
    whole = converter.parse(path, forceSource=True).scores  # what corpus.parse reads
    tunes = {
        f"miscFolk/set.abc#{i}": (score.metadata.title, music21_corpus.events_of(score))
        for i, score in enumerate(whole)
    }
    for split, titles in (("valid", ["Two"]), ("train", ["Four", "Five", "Seven"])):
        got = music21_corpus.parse_source(source, split)  # type: ignore[arg-type]
        assert [t["title"] for t in got] == titles
        assert all(split_of(str(t["id"])) == split for t in got)
        assert [(t["title"], Melody.from_json(t).events) for t in got] == [
            tunes[str(t["id"])] for t in got
        ]
    test = music21_corpus.parse_source(source, "test")
    assert [(t["id"], t["title"]) for t in test] == [
        ("miscFolk/set.abc#4", "Nine"),
        ("miscFolk/set.abc#5", "Twelve"),
    ]


def test_extract_only_the_test_split_drops_duplicates_of_known_melodies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notegen_training.cli import main

    (tmp_path / "miscFolk").mkdir()
    (tmp_path / "miscFolk" / "set.abc").write_text(ABC_BOOK)
    monkeypatch.setattr(music21_corpus, "_corpus_root", lambda: tmp_path)
    common = ["extract", "--folders", "miscFolk", "--only", "test", "--workers", "1"]
    common += ["--cache", str(tmp_path / "cache")]
    assert main([*common, "--out", str(tmp_path / "alone")]) == 0
    test = list(read_jsonl(tmp_path / "alone" / "test.jsonl.gz"))
    assert [m.id for m in test] == ["miscFolk/set.abc#4", "miscFolk/set.abc#5"]
    assert not (tmp_path / "alone" / "train.jsonl.gz").exists()
    # "Twelve" a fifth up, under an earlier id in a train file: a whole extract keeps that one
    fifth = [Event(None if e.pitch is None else e.pitch + 7, e.duration) for e in test[1].events]
    (tmp_path / "known").mkdir()
    write_jsonl(tmp_path / "known" / "train.jsonl.gz", [Melody("miscFolk/a.abc#0", fifth)])
    known = ["--known", str(tmp_path / "known"), "--out", str(tmp_path / "deduplicated")]
    assert main([*common, *known]) == 0
    kept = list(read_jsonl(tmp_path / "deduplicated" / "test.jsonl.gz"))
    assert [m.id for m in kept] == ["miscFolk/set.abc#4"]
