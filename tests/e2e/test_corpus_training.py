"""Training on your own music: MIDI / MusicXML / ABC files → shards → a fit, on one process
(Ctrl-C and resume, then export) and on two worker processes on 127.0.0.1 under
``MultiWorkerMirroredStrategy`` — to completion, and through a killed and restarted worker.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")
pytest.importorskip("mido")

from fixtures.music_files import ABC_BOOK, write_midi, write_musicxml
from notegen_training.cli import main
from notegen_training.corpora import train

pytestmark = pytest.mark.slow
TINY = ["--units", "16", "--layers", "1", "--batch-size", "8", "--threads", "1", "--seed", "2"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forty small pieces of three kinds (enough for a validation split) and a broken file."""
    folder = tmp_path_factory.mktemp("music")
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    for i in range(30):
        root = 48 + i  # every file different: none is a duplicate of another
        lead = [(root + s, 0.5 if k % 3 else 1.0) for k, s in enumerate(scale + scale[::-1])]
        bass = [(root - 12, 2.0), (root - 5, 2.0), (root - 12, 2.0), (root - 5, 2.0)]
        write_midi(folder / f"song{i:02d}.mid", {"lead": (0, lead), "bass": (1, bass)})
    for i in range(6):
        notes = ["C5", "D5", "E5", "F5", "G5", "E5", "C5", "r"]
        write_musicxml(folder / f"duet{i}.musicxml", [notes[i:] + notes[:i], ["C3", "G2"] * 4])
    (folder / "book.abc").write_text(ABC_BOOK)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00")
    return folder


def test_fit_from_a_folder_interrupted_resumed_and_exported(
    music: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    args = ["fit", "--corpus", str(music), "--out", str(run_dir), *TINY, "--max-steps", "6"]
    real_score = train.score
    calls: list[int] = []

    def interrupted_while_scoring_epoch_two(*a):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_score(*a)

    monkeypatch.setattr(train, "score", interrupted_while_scoring_epoch_two)
    assert main([*args, "--epochs", "2"]) == 130
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.mid: not a readable MIDI file" in err
    assert "38 files: 37 read; 1 skipped (1 not a readable MIDI file)" in err
    stopped = json.loads((run_dir / "state.json").read_text())
    assert (stopped["epoch"], stopped["step"]) == (1, 6)  # all of epoch 2's steps, unscored

    monkeypatch.setattr(train, "score", real_score)
    assert main([*args, "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    assert "0 files from the cache" not in err  # the corpus was not converted again
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epoch"] == 2 and state["history"][0] == stopped["history"][0]
    assert state["resumed"] == [{"epoch": 1, "step": 6}]
    assert 0 < state["history"][-1]["valid"]["pitch_bits"] < 7

    onnx = tmp_path / "models" / "mine.onnx"
    capsys.readouterr()
    assert main(["export", str(run_dir), "--out", str(onnx)]) == 0
    card = json.loads(onnx.with_suffix(".json").read_text())
    assert card["parity"]["max_abs_diff"] <= 1e-5 and card["parity"]["lstm_ops"] == 1
    assert (
        card["data"]["train_melodies"]
        == json.loads((run_dir / "corpus" / "corpus.json").read_text())["splits"]["train"][
            "examples"
        ]
    )


def test_a_conditioned_model_trains_from_the_shards_and_exports(
    converted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--conditioning``: each voice hears its piece's other voices and metre (the rows of
    ``notegen.model.conditioning`` written into the shards), and the export declares that input."""
    run_dir = tmp_path / "run"
    args = ["fit", "--shards", str(converted), "--out", str(run_dir), *TINY, "--max-steps", "4"]
    assert main([*args, "--epochs", "1", "--conditioning"]) == 0
    onnx = tmp_path / "cond.onnx"
    capsys.readouterr()
    assert main(["export", str(run_dir), "--out", str(onnx)]) == 0
    card = json.loads(onnx.with_suffix(".json").read_text())
    assert card["inputs"][-1] == "conditioning" and card["conditioning"]["dim"] == 57
    assert card["parity"]["max_abs_diff"] <= 1e-5


# -- two workers ---------------------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Worker:
    """One ``notegen-train fit --distributed`` process; its stderr lines arrive on a queue."""

    def __init__(self, index: int, ports: list[int], args: list[str]) -> None:
        cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT / "training")]),
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "notegen_training.cli", *args, "--distributed"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError("worker ended before: " + prefix + "\n" + "".join(self.log))
            if line.startswith(prefix):
                return line

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("worker did not finish:\n" + "".join(self.log[-30:])) from None


@pytest.fixture(scope="module")
def converted(music: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    assert (
        main(["convert", "--corpus", str(music), "--out", str(out), "--shard-examples", "16"]) == 0
    )
    return out


def start_cluster(shards: Path, run_dir: Path, epochs: int, steps: int) -> list[Worker]:
    ports = free_ports(2)
    args = ["fit", "--shards", str(shards), "--out", str(run_dir), *TINY]
    args += ["--epochs", str(epochs), "--max-steps", str(steps)]
    return [Worker(i, ports, args) for i in (0, 1)]


def test_two_workers_train_a_tiny_model_to_completion(converted: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    workers = start_cluster(converted, run_dir, epochs=2, steps=8)
    assert [w.wait(timeout=300) for w in workers] == [0, 0], "".join(workers[0].log[-20:])
    state = json.loads((run_dir / "state.json").read_text())
    assert [h["epoch"] for h in state["history"]] == [1, 2]
    assert state["history"][-1]["valid"]["pitch_bits"] > 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["workers"] == 2


def test_a_killed_worker_is_restarted_and_the_run_still_finishes(
    converted: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    workers = start_cluster(converted, run_dir, epochs=3, steps=8)
    workers[0].wait_for_line('{"epoch": 1,', timeout=300)  # epoch 1 is checkpointed
    workers[1].proc.send_signal(signal.SIGKILL)
    assert workers[1].wait(timeout=30) == -signal.SIGKILL
    # the survivor cannot go on without its peer: it stops, saying how to resume
    assert workers[0].wait(timeout=240) == 75
    assert "another worker is gone" in "".join(workers[0].log)
    restarted = start_cluster(converted, run_dir, epochs=3, steps=8)
    assert [w.wait(timeout=300) for w in restarted] == [0, 0], "".join(restarted[0].log[-20:])
    state = json.loads((run_dir / "state.json").read_text())
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3]
    assert state["resumed"] and state["resumed"][0]["epoch"] >= 1
    assert any("resuming" in line for line in restarted[1].log)
