"""Turn a run directory into the shipped pair ``<name>.onnx`` + ``<name>.json`` (the card).

The card is the server's only source of truth about a model (``models/FORMAT.md``), and the
reader's record of how it was made: vocabularies, sizes, data, the exact command, training
time, metrics and the sha256 of the graph.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .corpus import SPLIT_RULE
from .export import export_seed, export_stateful, write_card
from .tokens import Vocab


def _read_json(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())


def export_run(
    run_dir: Path, onnx_path: Path, weights: str = "best", atol: float = 1e-5, command: str = ""
) -> dict:  # type: ignore[type-arg]
    """Export the run's weights, check parity, write the card; returns the card."""
    from .runtime import setup_tensorflow

    setup_tensorflow(2)
    meta = _read_json(run_dir / "config.json")
    state = _read_json(run_dir / "state.json") if (run_dir / "state.json").exists() else {}
    vocab = Vocab.from_card(meta["vocab"])
    weights_path = run_dir / f"{weights}.weights.h5"
    if not weights_path.exists():
        raise FileNotFoundError(f"{weights_path}: no weights (has fit run in {run_dir}?)")
    arch = meta.get("arch", "notegen")
    card: dict[str, object] = {"name": onnx_path.stem, "format_version": 1, "onnx": onnx_path.name}
    if arch == "seed":
        from .model import build_seed_network, count_params

        window = int(meta["seed"]["export_window"])
        model = build_seed_network(vocab.n_pitch, window)
        model.load_weights(str(weights_path))
        report = export_seed(model, onnx_path, atol=atol)
        card.update(
            stateful=False,
            inputs=["tokens"],
            outputs=["probs"],
            window=window,
            train_window=int(meta["seed"]["window"]),
        )
        architecture: dict[str, object] = {
            "type": "seed (the original project's network)",
            "layers": [
                "Embedding(V, 100)",
                "Bidirectional(LSTM(150, return_sequences))",
                "Dropout(0.2)",
                "LSTM(100)",
                f"Dense({vocab.n_pitch // 2}, relu)",
                f"Dense({vocab.n_pitch}, softmax)",
            ],
            "parameters": count_params(model),
            "training_and_scoring": "each note predicted from the last train_window tokens of "
            "its left context within its melody, pre-padded with 0 (the original read every "
            "prefix of one piece pre-padded to 1,225; too slow for ~740k notes on 2 cores)",
        }
    else:
        from .model import ModelConfig, build_melody_lstm, count_params

        config = ModelConfig(**meta["model"])
        model = build_melody_lstm(config)
        model.load_weights(str(weights_path))
        report = export_stateful(model, onnx_path, atol=atol)
        card.update(
            stateful=True,
            inputs=["pitch", "duration", "h_in", "c_in"],
            outputs=["pitch_logits", "duration_logits", "h_out", "c_out"],
            state={"layers": config.layers, "units": config.units},
        )
        inputs_text = (
            f"Embedding(pitch, {config.pitch_embedding}) ++ "
            f"Embedding(duration, {config.duration_embedding})"
        )
        if config.conditioning:
            card["inputs"] = ["pitch", "duration", "h_in", "c_in", "conditioning"]
            card["conditioning"] = {
                "input": "conditioning",
                "dim": config.conditioning,
                "rows": "notegen.model.conditioning (one row per step: the other voices sounding "
                "at the predicted event's onset, its beat and bar position, events and beats left "
                "to the end, each with an unknown value)",
            }
            inputs_text += f" ++ conditioning[{config.conditioning}]"
        architecture = {
            "type": "stateful LSTM, two softmax heads (next pitch, next duration)",
            "inputs": inputs_text,
            "lstm_layers": config.layers,
            "units": config.units,
            "dropout_between_layers": config.dropout,
            "heads": ["Dense(len(pitch_vocab)) logits", "Dense(len(duration_vocab)) logits"],
            "parameters": count_params(model),
        }
    card.update(vocab.to_card())
    history = state.get("history", [])
    card.update(
        architecture=architecture,
        data={
            "sources": meta.get("sources", []),
            "valid_sources": meta.get("valid_sources", []),
            "train_melodies": meta.get("train_melodies"),
            "valid_melodies": meta.get("valid_melodies"),
            "voices": meta.get("voices", []),
            "valid_voices": meta.get("valid_voices", []),
            "split_rule": SPLIT_RULE,
            "augmentation": f"random transposition per melody and epoch, up to ±"
            f"{meta['fit'].get('transpose', 0)} semitones, kept inside the pitch range",
        },
        training={
            "fit": meta["fit"],
            "epochs_run": state.get("epoch"),
            "weights": weights,
            "best_epoch": state.get("best_epoch"),
            "valid_history": [
                {
                    "epoch": h["epoch"],
                    "pitch_bits": h["valid"].get("pitch_bits"),
                    "duration_bits": h["valid"].get("duration_bits"),
                    **(
                        {"voices_pitch_bits": h["valid_voices"].get("pitch_bits")}
                        if h.get("valid_voices")
                        else {}
                    ),
                }
                for h in history
                if h.get("valid")
            ],
        },
        command=[
            meta.get("command"),
            command or None,
        ],
        training_time_s=round(float(state.get("train_seconds", 0.0)), 1),
        metrics={},
        parity=report.to_dict(),
        size_bytes=onnx_path.stat().st_size,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    card_path = onnx_path.with_suffix(".json")
    write_card(card_path, card)
    return _read_json(card_path)


def record_metrics(model_path: Path, name: str, result: dict) -> None:  # type: ignore[type-arg]
    """Store an evaluation under ``metrics[name]`` in the model's card."""
    card_path = model_path if model_path.suffix == ".json" else model_path.with_suffix(".json")
    card = _read_json(card_path)
    card.setdefault("metrics", {})[name] = result
    write_card(card_path, card)


def update_card(model_path: Path, key: str, value: object) -> None:
    """Set one top-level field of the model's card (e.g. the fitted ``copy_mixture``)."""
    card_path = model_path if model_path.suffix == ".json" else model_path.with_suffix(".json")
    card = _read_json(card_path)
    card[key] = value
    write_card(card_path, card)
