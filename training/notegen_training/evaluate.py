"""Score models on melodies in bits/note: the shipped ONNX model, the seed network, the n-gram.

The stateful model is scored through :class:`notegen.model.network.MelodyModel` — the same ONNX
Runtime path that serves completions — one melody at a time from ``<bos>`` with zero state, so every
event is predicted from its full left context within its melody and nothing else. No end token
exists, so none is counted; ``<bos>`` is masked out of every distribution.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from notegen.model.conditioning import Metre, Setting, VoiceTimes

from .corpus import Melody
from .metrics import Scores, log_softmax_without_bos, renormalize_without_bos
from .ngram import CacheConfig, KneserNey, cache_distributions
from .tokens import Vocab

DEFAULT_NGRAM_ORDERS = (3, 6, 9)
DEFAULT_CACHE = CacheConfig()


def load_card(path: str | Path) -> dict[str, object]:
    path = Path(path)
    card_path = path if path.suffix == ".json" else path.with_suffix(".json")
    return json.loads(card_path.read_text())


def score_stateful(
    model_path: str | Path,
    melodies: Sequence[Melody],
    settings: Sequence[Setting | None] | None = None,
) -> dict[str, Scores]:
    """Bits/note of an exported stateful model, through the server's runtime loader.

    ``"model"`` scores exactly the distribution the server serves (:meth:`MelodyModel.log_probs`:
    the network mixed with the card's within-melody copy model and rhythm experts, when the
    card has them); ``"network"`` scores the ONNX network alone, reported when the two differ.
    Both come from one run of the network (``log_probs`` is that run followed by
    :meth:`~notegen.model.network.MelodyModel.served_sequence`).
    """
    from notegen.model.copying import log_softmax
    from notegen.model.network import MelodyModel

    model = MelodyModel.load(model_path)
    plain = model.mixture is None and model.rhythm is None and model.tunes is None
    served, network = Scores(), Scores()
    for index, melody in enumerate(melodies):
        if not melody.events:
            continue
        pitch, duration = model.encode(melody.events)
        n = len(pitch)
        setting = settings[index] if settings is not None else None
        # the network, once per melody
        p_logits, d_logits, _ = model.run(melody.events, setting=setting)
        p_net, d_net = log_softmax(p_logits), log_softmax(d_logits)
        p_lp, d_lp = model.served_sequence(p_net, d_net, pitch, duration, setting)
        if not plain:
            network.add_pitch(renormalize_without_bos(p_net[:n]), pitch)
            network.add_duration(renormalize_without_bos(d_net[:n]), duration)
        served.add_pitch(renormalize_without_bos(p_lp[:n]), pitch)
        served.add_duration(renormalize_without_bos(d_lp[:n]), duration)
    if plain:
        return {"model": served}
    return {"model": served, "network": network}


def seed_contexts(pitch: np.ndarray, context: int) -> list[np.ndarray]:
    """The left context of every event (at most ``context`` tokens), as the seed network reads
    them; the first event's context is empty (an all-padding window)."""
    return [pitch[max(0, t - context) : t] for t in range(len(pitch))]


def pre_pad(rows: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Left-pad token rows with 0 (``<bos>``/padding) to ``length``, the original's layout."""
    out = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        if len(row):
            out[i, length - len(row) :] = row
    return out


def score_seed(
    model_path: str | Path, melodies: Sequence[Melody], context: int | None = None
) -> Scores:
    """Bits/note (pitch and rests only) of an exported seed network.

    Each event is predicted from its left context (at most ``context`` tokens, default the
    card's ``train_window``), pre-padded; contexts of similar length are batched.
    """
    import onnxruntime as ort

    card = load_card(model_path)
    vocab = Vocab.from_card(card)
    context = context or int(card.get("train_window") or card["window"])  # type: ignore[arg-type]
    onnx_path = Path(model_path).with_name(str(card["onnx"]))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    requests: list[tuple[int, int, np.ndarray]] = []  # (melody index, position, context)
    targets: list[np.ndarray] = []
    for m_index, melody in enumerate(melodies):
        pitch, _ = vocab.encode(melody.events)
        targets.append(pitch)
        for t, ctx in enumerate(seed_contexts(pitch, context)):
            requests.append((m_index, t, ctx))
    log_probs = [np.zeros((len(t), vocab.n_pitch)) for t in targets]
    requests.sort(key=lambda r: len(r[2]))
    batch = 256
    for start in range(0, len(requests), batch):
        chunk = requests[start : start + batch]
        length = max(1, max(len(r[2]) for r in chunk))
        (probs,) = session.run(["probs"], {"tokens": pre_pad([r[2] for r in chunk], length)})
        with np.errstate(divide="ignore"):
            lp = log_softmax_without_bos(np.log(np.maximum(probs, 1e-30)))
        for (m_index, t, _), row in zip(chunk, lp, strict=True):
            log_probs[m_index][t] = row
    scores = Scores()
    for lp, pitch in zip(log_probs, targets, strict=True):
        if len(pitch):
            scores.add_pitch(lp, pitch)
    return scores


def score_ngram(
    train: Sequence[Melody],
    melodies: Sequence[Melody],
    orders: Sequence[int] = DEFAULT_NGRAM_ORDERS,
    cache: CacheConfig | None = DEFAULT_CACHE,
    vocab: Vocab | None = None,
) -> dict[str, Scores]:
    """Interpolated KN n-grams of each order (pitch and duration streams modelled separately),
    plus the highest order with the within-melody cache."""
    vocab = vocab or Vocab()
    train_ids = [vocab.encode(m.events) for m in train if m.events]
    eval_ids = [vocab.encode(m.events) for m in melodies if m.events]
    results: dict[str, Scores] = {}
    for order in orders:
        pitch_model = KneserNey(order, vocab.n_pitch).fit([p for p, _ in train_ids])
        duration_model = KneserNey(order, vocab.n_duration).fit([d for _, d in train_ids])
        plain, cached = Scores(), Scores()
        with_cache = cache is not None and order == max(orders)
        for pitch, duration in eval_ids:
            p_probs = pitch_model.distributions(pitch)
            d_probs = duration_model.distributions(duration)
            _add_probs(plain, p_probs, d_probs, pitch, duration)
            if with_cache:
                assert cache is not None
                p_c = cache_distributions(pitch, p_probs, cache.order, cache.discount, cache.weight)
                d_c = cache_distributions(
                    duration, d_probs, cache.order, cache.discount, cache.weight
                )
                _add_probs(cached, p_c, d_c, pitch, duration)
        results[f"ngram{order}"] = plain
        if with_cache:
            results[f"ngram{order}+cache"] = cached
    return results


def _add_probs(
    scores: Scores, p: np.ndarray, d: np.ndarray, pitch: np.ndarray, duration: np.ndarray
) -> None:
    with np.errstate(divide="ignore"):
        scores.add_pitch(np.log(p), pitch)
        scores.add_duration(np.log(d), duration)


def score_model(model_path: str | Path, melodies: Sequence[Melody]) -> dict[str, Scores]:
    """Dispatch on the card: stateful step graph (as served) or seed network."""
    card = load_card(model_path)
    if card.get("stateful", True):
        return score_stateful(model_path, melodies)
    return {"model": score_seed(model_path, melodies)}


def piece_voices(pieces: Sequence[object], default: float = 1.0) -> VoiceSet:
    """Every voice of multi-voice pieces (``extract-voices``), with and without the others."""
    melodies, together, alone = [], [], []
    for piece in pieces:
        voices = piece.voices  # type: ignore[attr-defined]
        metre = Metre(piece.bar_beats, piece.bar_phase) if piece.bar_beats else None  # type: ignore[attr-defined]
        times = [VoiceTimes.of(v.events, v.start, default) for v in voices]
        for i, voice in enumerate(voices):
            melodies.append(Melody(f"{piece.id}/{voice.name}", voice.events))  # type: ignore[attr-defined]
            others = tuple(times[:i] + times[i + 1 :])
            together.append(Setting(others, metre, voice.start))
            alone.append(Setting((), metre, voice.start))
    return VoiceSet(melodies, together, alone)


def sonicpi_voices(paths: Sequence[str | Path], default: float = 1.0) -> VoiceSet:
    """Every ``aN`` voice of Sonic Pi files, with the file's other voices as the server
    computes them (:func:`notegen.model.ensemble.setting_for`), and alone."""
    from notegen.model.ensemble import document_lines, setting_for

    from .sonicpi_corpus import rb_files

    melodies, together, alone = [], [], []
    for file in rb_files(paths):
        lines = document_lines(file.read_text(encoding="utf-8", errors="replace"))
        for line in lines:
            if len(line.events) < 2:
                continue
            melodies.append(Melody(f"{file}#a{line.number}", line.events, "sonicpi"))
            together.append(setting_for(lines, line.number, default))
            alone.append(Setting())
    return VoiceSet(melodies, together, alone)


@dataclass
class VoiceSet:
    """Voices to score, each with its setting among the other voices and its setting alone."""

    melodies: list[Melody]
    together: list[Setting | None]
    alone: list[Setting | None]
