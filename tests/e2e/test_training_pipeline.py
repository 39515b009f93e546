"""A user trains a small model of their own and scores it, through ``notegen-train``.

extract (three Bach chorales from music21's corpus) → fit (those melodies, a few melodies
written here and a Sonic Pi file, a few steps, interrupted and resumed) → export (ONNX step
graph, parity with Keras, fused LSTM ops) → evaluate (JSON on melodies and on Sonic Pi code),
then the same for the seed architecture. Everything runs in this process to share one
TensorFlow import; the whole test takes well under two minutes on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")
pytest.importorskip("music21")

from notegen.melody import Event
from notegen_training import fit as fit_module
from notegen_training.cli import main
from notegen_training.corpus import Melody, read_jsonl, write_jsonl
from notegen_training.export import op_counts

pytestmark = pytest.mark.slow

SONIC_PI_PIECE = """\
use_bpm 70
a1=[];b1=[];c1=[70]
a1[0]=[:C4,:D4,:E4,:F4,:G4,:r,:G4,:A4,:G4,:F4,:E4,:D4,:C4]
b1[0]=[0.5,0.5,0.5,0.5,1,0.5,0.5,0.25,0.25,0.5,0.5,1,2]
a2=[];b2=[]
a2[0]=[:C3,:G2,[:C3,:E3,:G3],:G2,:C3]
b2[0]=[1,1,2,1,3]
live_loop :tune do
  play_pattern_timed [:e5,:d5,:c5,:d5,:e5,:e5,:e5], [0.5,0.5,0.5,0.5,0.5,0.5,1]
end
"""


def _scale_melodies(count: int) -> list[Melody]:
    """Up-and-down scale fragments in several keys: something a tiny model can learn."""
    steps = [0, 2, 4, 5, 7, 5, 4, 2, 0, -1, 0]
    melodies = []
    for i in range(count):
        root = 55 + i % 12
        events = [Event(root + s, 0.5 if k % 3 else 1.0) for k, s in enumerate(steps)]
        events.insert(5, Event(None, 0.5))
        melodies.append(Melody(f"fixture#{i}", events, "fixture"))
    return melodies


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("training")


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(list(args)) == 0
    out = capsys.readouterr().out
    return json.loads(out) if out.strip() else {}


def test_extract_fit_export_evaluate(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = workdir / "melodies"
    cache = workdir / "cache"
    report = run(
        "extract",
        "--out",
        str(data),
        "--cache",
        str(cache),
        "--folders",
        "bach",
        "--limit",
        "3",
        "--workers",
        "2",
        capsys=capsys,
    )
    assert report["sources"] == 3
    extracted = [
        m for split in ("train", "valid", "test") for m in read_jsonl(data / f"{split}.jsonl.gz")
    ]
    assert len(extracted) == report["melodies"] >= 2  # chorales may share a soprano line
    assert all(m.id.startswith("bach/bwv") and m.id.endswith("#0") for m in extracted)
    assert all(len(m) > 20 and m.collection == "bach_soprano" for m in extracted)

    own = workdir / "own.jsonl"
    write_jsonl(own, _scale_melodies(24))
    piece = workdir / "piece.rb"
    piece.write_text(SONIC_PI_PIECE)
    valid = workdir / "valid.jsonl"
    write_jsonl(valid, _scale_melodies(30)[24:])
    run_dir = workdir / "run"
    fit_args = [
        "fit",
        "--train",
        str(own),
        *(str(data / f"{s}.jsonl.gz") for s in ("train", "valid", "test")),
        "--corpus",
        str(piece),
        "--valid",
        str(valid),
        "--out",
        str(run_dir),
        "--units",
        "24",
        "--batch-size",
        "8",
        "--max-steps",
        "4",
        "--seed",
        "3",
    ]
    # the fit is interrupted while scoring its second epoch (Ctrl-C) ...
    real_score = fit_module.score_keras
    calls = []

    def interrupt_on_second_epoch(model, examples):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_score(model, examples)

    monkeypatch.setattr(fit_module, "score_keras", interrupt_on_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        main([*fit_args, "--epochs", "2"])
    after_interrupt = json.loads((run_dir / "state.json").read_text())
    assert after_interrupt["epoch"] == 1
    monkeypatch.setattr(fit_module, "score_keras", real_score)
    # ... and the same command resumes from the epoch-1 checkpoint instead of starting over
    run(*fit_args, "--epochs", "2", capsys=capsys)
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epoch"] == 2
    assert state["history"][0] == after_interrupt["history"][0]
    assert state["history"][-1]["valid"]["pitch_bits"] > 0
    # the same run directory with other settings is refused, not mixed up
    assert main([*fit_args, "--epochs", "3"]) == 2

    onnx_path = workdir / "models" / "mine.onnx"
    exported = run("export", str(run_dir), "--out", str(onnx_path), capsys=capsys)
    assert exported["parity"]["max_abs_diff"] <= 1e-5
    ops = op_counts(onnx_path)
    assert ops["LSTM"] == 2 and "Loop" not in ops and "Scan" not in ops
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["stateful"] is True and card["state"] == {"layers": 2, "units": 24}
    assert card["pitch_vocab"][:3] == ["<bos>", "rest", 36]
    assert card["duration_vocab"][0] == "<bos>" and 0.5 in card["duration_vocab"]
    assert card["data"]["train_melodies"] == 24 + len(extracted) + 3
    assert "notegen-train fit" in card["command"][0]

    mixture = run("tune-copy", str(onnx_path), str(valid), "--max-order", "6", capsys=capsys)
    assert mixture["pitch_lambdas"][0] == 0 and len(mixture["pitch_lambdas"]) == 9
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["copy_mixture"]["max_order"] == 6

    scores = run(
        "evaluate",
        str(onnx_path),
        str(valid),
        "--ngram-train",
        str(own),
        "--ngram-orders",
        "2",
        "3",
        "--record",
        "valid",
        capsys=capsys,
    )
    notes = sum(1 for m in read_jsonl(valid) for e in m.events if e.pitch is not None)
    assert scores["model"]["notes"] == notes and scores["model"]["rests"] == 6
    assert scores["model"]["durations"] == 6 * 12
    for name in ("model", "network", "ngram2", "ngram3", "ngram3+cache"):
        assert 0 < scores[name]["pitch_bits"] < 8
        assert 0 <= scores[name]["pitch_top1"] <= scores[name]["pitch_top3"] <= 1
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["metrics"]["valid"]["model"] == scores["model"]

    on_code = run("evaluate", str(onnx_path), str(piece), capsys=capsys)
    assert on_code["melodies"] == 3  # voice 1, voice 2 (the chord as its top note), the loop
    assert on_code["model"]["notes"] + on_code["model"]["rests"] == 13 + 5 + 7


def test_seed_architecture_fit_export_evaluate(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = workdir / "seed_train.jsonl"
    write_jsonl(own, _scale_melodies(12))
    run_dir = workdir / "seed_run"
    run(
        "fit",
        "--arch",
        "seed",
        "--train",
        str(own),
        "--valid",
        str(own),
        "--out",
        str(run_dir),
        "--epochs",
        "1",
        "--max-steps",
        "3",
        "--batch-size",
        "16",
        "--window",
        "8",
        capsys=capsys,
    )
    onnx_path = workdir / "models" / "seed.onnx"
    exported = run("export", str(run_dir), "--out", str(onnx_path), capsys=capsys)
    assert exported["parity"]["max_abs_diff"] <= 1e-5
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["stateful"] is False and card["window"] == 1224 and card["train_window"] == 8
    scores = run("evaluate", str(onnx_path), str(own), capsys=capsys)
    assert scores["model"]["notes"] == 12 * 11 and scores["model"]["durations"] == 0
    assert np.isfinite(scores["model"]["pitch_bits"])
