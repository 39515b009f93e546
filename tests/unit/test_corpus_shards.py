"""Converting a corpus into shards: counts of read/skipped/why, a cache keyed by content,
resume after Ctrl-C, and the ``tf.data`` stream that reads the shards back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("mido")
pytest.importorskip("music21")

from fixtures.music_files import ABC_BOOK, MALFORMED, write_midi, write_musicxml
from notegen.melody import Event
from notegen_training.corpora import shards, stream
from notegen_training.tokens import Vocab


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """Four good files of four kinds, a malformed file of three kinds, an exact copy."""
    folder = tmp_path / "music"
    folder.mkdir()
    write_midi(folder / "song.mid")
    write_musicxml(folder / "duet.musicxml", [["C5", "D5", "E5", "C5"], ["C3", "G2", "C3", "G2"]])
    (folder / "book.abc").write_text(ABC_BOOK)
    (folder / "piece.rb").write_text("a1=[];b1=[]\na1[0]=[:c4,:d4,:e4]\nb1[0]=[1,1,2]\n")
    for name, data in MALFORMED.items():
        (folder / name).write_bytes(data)
    shutil.copy(folder / "song.mid", folder / "song copy.mid")
    return folder


def voices_in(folder: Path) -> int:
    import tensorflow as tf

    files = [str(p) for p in sorted(folder.glob("*.tfrecord.gz"))]
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def test_convert_counts_read_skipped_and_why(
    collection: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shards"
    report = shards.convert([collection], out, progress=False).to_dict()
    assert report["files"] == 8
    assert report["read"] == 4  # song.mid, duet.musicxml, book.abc (2 tunes), piece.rb
    assert report["duplicates"] == 1  # "song copy.mid": same bytes as song.mid, trained once
    assert report["skipped_by_reason"] == {
        "not a readable MIDI file": 1,
        "not readable MusicXML": 1,
        "no readable ABC tune": 1,
    }
    err = capsys.readouterr().err
    assert f"skipped {collection / 'broken.mid'}: not a readable MIDI file" in err
    voices = sum(s["examples"] for s in report["splits"].values())
    assert voices == 2 + 2 + 2 + 1 == voices_in(out)
    assert json.loads((out / "corpus.json").read_text()) == report


def test_a_second_run_converts_only_new_content(collection: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    first = shards.convert([collection], out, progress=False).to_dict()
    again = shards.convert([collection], out, progress=False).to_dict()
    assert again["converted_now"] == 0 and again["cached"] == 7
    assert again["splits"] == first["splits"] and voices_in(out) == 7
    (collection / "song.mid").rename(collection / "renamed.mid")  # same content: still cached
    write_midi(collection / "new.mid", {"lead": (0, [(60, 1), (62, 1), (64, 2)])})
    third = shards.convert([collection], out, progress=False).to_dict()
    assert third["converted_now"] == 1 and third["read"] == 5
    assert voices_in(out) == 8


def test_ctrl_c_while_converting_keeps_finished_shards_and_resumes(
    collection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = shards.convert([collection], tmp_path / "reference", progress=False).to_dict()
    out = tmp_path / "shards"
    real = shards.convert_one
    calls: list[str] = []

    def interrupted_on_the_fourth_file(job):  # type: ignore[no-untyped-def]
        calls.append(job[0])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(shards, "convert_one", interrupted_on_the_fourth_file)
    with pytest.raises(KeyboardInterrupt):
        shards.convert([collection], out, shard_examples=1, progress=False)
    assert not list(out.glob(".*.tmp")) and not (out / "corpus.json").exists()
    kept = shards.read_manifest(out)  # the hashes of the files already converted
    assert 0 < len(kept) < 7
    monkeypatch.setattr(shards, "convert_one", real)
    resumed = shards.convert([collection], out, shard_examples=1, progress=False).to_dict()
    assert resumed["cached"] == len(kept) and resumed["converted_now"] == 7 - len(kept)
    assert resumed["splits"] == reference["splits"] and voices_in(out) == 7


def test_stream_tokens_are_the_vocabulary_of_the_model() -> None:
    vocab = Vocab()
    pitches = [-1, 12, 30, 36, 60, 96, 97, 127]
    beats = [0.0, 0.1, 0.25, 0.3, 1.0, 1.4, 2.9, 100.0]
    p, d = stream.token_ids(np.array(pitches), np.array(beats, np.float32), vocab)
    events = [
        Event(None if x < 0 else x, b if b > 0 else None)
        for x, b in zip(pitches, beats, strict=True)
    ]
    want_p, want_d = vocab.encode(events)
    assert p.numpy().tolist() == want_p.tolist()
    assert d.numpy().tolist() == want_d.tolist()


def _one_shard(folder: Path, melodies: list[list[int]]) -> Path:
    import tensorflow as tf

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train-00000.tfrecord.gz"
    with tf.io.TFRecordWriter(str(path), "GZIP") as writer:
        for i, pitches in enumerate(melodies):
            writer.write(
                shards.to_example(
                    {
                        "id": f"m{i}",
                        "pitch": pitches,
                        "beats": [0.5] * len(pitches),
                        "onset": [0.5 * k for k in range(len(pitches))],
                        "conditioning": [],  # read only by a conditioned fit
                        "bar_position": [0.0] * len(pitches),
                        "context_pitch": [],
                        "context_count": [0] * len(pitches),
                        "bpm": 0.0,
                        "time_signature": [4, 4],
                    }
                )
            )
    return path


def test_training_batches_pad_with_zero_weight_and_cut_long_voices(tmp_path: Path) -> None:
    vocab = Vocab()
    path = _one_shard(tmp_path, [[60, 62, 64], list(range(50, 60))])
    ds = stream.train_dataset([path], batch_size=8, vocab=vocab, max_len=4, shuffle_buffer=1)
    rows: set[tuple[int, ...]] = set()
    for x_p, _x_d, y_p, _y_d, w in ds.take(6):
        for i in range(w.shape[0]):
            n = int(w[i].numpy().sum())
            assert n <= 4 and np.all(y_p[i].numpy()[n:] == 0)
            rows.add(tuple(x_p[i].numpy()[:n].tolist()))
    first = vocab.pitch_id
    assert (0, first(60), first(62)) in rows  # a voice starts from <bos>
    assert (0, *map(first, (50, 51, 52))) in rows  # the long one: cut in rows of 4 ...
    assert tuple(map(first, (53, 54, 55, 56))) in rows  # ... the next row starts mid-voice


def test_each_worker_reads_its_own_part_of_the_data(tmp_path: Path) -> None:
    vocab = Vocab()
    melodies = [[40 + i, 41 + i] for i in range(6)]
    path = _one_shard(tmp_path, melodies)  # one file, two workers: split by record
    seen = []
    for index in (0, 1):
        ds = stream.train_dataset(
            [path], batch_size=1, vocab=vocab, num_shards=2, shard_index=index
        )
        firsts = set()
        for _x_p, _x_d, y_p, _y_d, _w in ds.take(12):
            firsts.add(int(y_p[0, 0]))
        seen.append(firsts)
    assert seen[0].isdisjoint(seen[1])
    assert seen[0] | seen[1] == {vocab.pitch_id(m[0]) for m in melodies}


@pytest.mark.slow  # starts reader processes (spawn: each imports music21)
def test_reader_processes_give_the_same_shards(collection: Path, tmp_path: Path) -> None:
    one = shards.convert([collection], tmp_path / "one", progress=False).to_dict()
    two = shards.convert([collection], tmp_path / "two", workers=2, progress=False).to_dict()
    assert two["splits"] == one["splits"] and two["skipped_by_reason"] == one["skipped_by_reason"]
    assert voices_in(tmp_path / "two") == voices_in(tmp_path / "one") == 7
