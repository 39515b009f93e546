"""The Keras networks: the stateful two-head melody LSTM and the original project's network.

``MelodyLSTM`` takes the LSTM state as input and returns it, so the same object trains on
whole melodies (zero state) and exports as the step graph of ``models/FORMAT.md``. Only layers
tf2onnx fuses into ONNX ``LSTM`` ops are used: plain ``LSTM`` (no ``recurrent_dropout``, no
``mask_zero`` — padding is handled with loss weights instead), ``Dropout`` between layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import layers, ops


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of :class:`MelodyLSTM`; stored in the card and in checkpoints."""

    n_pitch: int
    n_duration: int
    pitch_embedding: int = 64
    duration_embedding: int = 16
    units: int = 384
    layers: int = 2
    dropout: float = 0.3
    conditioning: int = 0
    """Width of the per-event conditioning input (``notegen.model.conditioning``); 0 = none."""

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


class MelodyLSTM(keras.Model):
    """(pitch, duration[, conditioning], h, c) → (pitch logits, duration logits, h', c').

    ``h``/``c`` are ``[layers, batch, units]``; step t's outputs predict event t+1. With
    ``config.conditioning`` the float rows ``[batch, time, conditioning]`` (what step t knows
    about event t+1's onset) are concatenated to the embeddings before the first LSTM.
    """

    def __init__(self, config: ModelConfig, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.pitch_embedding = layers.Embedding(
            config.n_pitch, config.pitch_embedding, name="pitch_embedding"
        )
        self.duration_embedding = layers.Embedding(
            config.n_duration, config.duration_embedding, name="duration_embedding"
        )
        self.lstms = [
            layers.LSTM(config.units, return_sequences=True, return_state=True, name=f"lstm_{i}")
            for i in range(config.layers)
        ]
        self.dropouts = [layers.Dropout(config.dropout) for _ in range(config.layers)]
        self.pitch_head = layers.Dense(config.n_pitch, name="pitch_head")
        self.duration_head = layers.Dense(config.n_duration, name="duration_head")

    def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
        if self.config.conditioning:
            pitch, duration, cond, h_in, c_in = inputs
            parts = [self.pitch_embedding(pitch), self.duration_embedding(duration), cond]
        else:
            pitch, duration, h_in, c_in = inputs
            parts = [self.pitch_embedding(pitch), self.duration_embedding(duration)]
        x = ops.concatenate(parts, axis=-1)
        hs, cs = [], []
        for i, (lstm, dropout) in enumerate(zip(self.lstms, self.dropouts, strict=True)):
            x, h, c = lstm(x, initial_state=[h_in[i], c_in[i]], training=training)
            x = dropout(x, training=training)
            hs.append(h)
            cs.append(c)
        return (self.pitch_head(x), self.duration_head(x), ops.stack(hs), ops.stack(cs))

    def zero_state(self, batch: int):  # type: ignore[no-untyped-def]
        shape = (self.config.layers, batch, self.config.units)
        return ops.zeros(shape), ops.zeros(shape)


def build_melody_lstm(config: ModelConfig) -> MelodyLSTM:
    """A built model (weights created by one call on a dummy batch)."""
    model = MelodyLSTM(config)
    h, c = model.zero_state(1)
    ids = [ops.zeros((1, 2), dtype="int64"), ops.zeros((1, 2), dtype="int64")]
    if config.conditioning:
        ids.append(ops.zeros((1, 2, config.conditioning), dtype="float32"))
    model([*ids, h, c])
    return model


def build_seed_network(vocab_size: int, window: int) -> keras.Model:
    """The original project's network, layer for layer (its notebook's Sequential model).

    Embedding 100 → Bidirectional LSTM 150 → Dropout 0.2 → LSTM 100 → Dense(V/2, relu) →
    Dense(V, softmax): reads a pre-padded window of tokens, outputs the next token's probs.
    Functional (not Sequential) because tf2onnx's ``from_keras`` fails on Sequential models.
    """
    tokens = keras.Input(shape=(None,), dtype="int64", name="tokens")
    x = layers.Embedding(vocab_size, 100, name="embedding")(tokens)
    x = layers.Bidirectional(layers.LSTM(150, return_sequences=True), name="bilstm")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.LSTM(100, name="lstm")(x)
    x = layers.Dense(max(1, vocab_size // 2), activation="relu", name="dense")(x)
    probs = layers.Dense(vocab_size, activation="softmax", name="probs")(x)
    model = keras.Model(tokens, probs, name="seed")
    model.window = window  # type: ignore[attr-defined]
    return model


def count_params(model: keras.Model) -> int:
    return int(sum(int(ops.size(w)) for w in model.weights))
