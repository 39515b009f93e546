"""Load a notegen model (ONNX graph + JSON card) and run it one event at a time.

The server, the evaluation and the benchmarks all go through this module, so what is measured is
what is served. The stateful graph (``models/FORMAT.md``) is stepped with its LSTM state carried
between calls: generating N notes costs N batch-1 steps, and continuing a context costs only the
new notes. ``onnxruntime`` is imported lazily so that importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from notegen.melody import Event
from notegen.model.conditioning import COND_DIM, Setting, heard_with_others
from notegen.model.consonance import ConsonanceBias
from notegen.model.consonance import prepare as prepare_consonance
from notegen.model.copying import (
    CopyMixture,
    copy_marginals,
    log_softmax,
    mix_sequence,
    sequence_marginals,
)
from notegen.model.imitation import ImitationMixture, mix_pitches
from notegen.model.imitation import prepare as prepare_imitation
from notegen.model.repeats import RepeatControl
from notegen.model.rhythm import (
    RhythmContext,
    RhythmMixture,
    mix_durations,
    rhythm_context,
    rhythm_sequence,
)
from notegen.model.tunes import TuneMixture, mix_opinions
from notegen.paths import user_path

__all__ = [
    "BOS",
    "REST",
    "MelodyModel",
    "ModelError",
    "State",
    "default_model_path",
]

BOS = 0
"""Index of ``<bos>`` in both vocabularies (start of melody; also padding)."""
REST = 1
"""Index of ``rest`` in the pitch vocabulary."""

State = tuple[np.ndarray, np.ndarray]
"""``(h, c)`` of the stateful graph, each float32 ``[layers, batch, units]``.

For the seed-architecture (stateless) graph the state is ``(window, unused)``: the padded token
history that graph re-reads on every step.
"""

_NEG = np.float32(-1e9)
_ALONE = Setting()


@dataclass(frozen=True)
class VoiceExperts:
    """:meth:`MelodyModel.voice_experts`: the copy model's and the training tunes' next-event
    distributions after a voice's events, to be mixed into the network's."""

    copied: int
    """The copy model's match length (0: it has nothing to say)."""
    copy_q: tuple[np.ndarray, np.ndarray] | None
    """Its pitch and duration distributions."""
    tunes: list[tuple[float, np.ndarray]]
    """The training tunes' :meth:`~notegen.model.tunes.TuneMixture.opinions`."""


class ModelError(Exception):
    """A model that cannot be used; the message names the file and why."""


def default_model_path() -> Path:
    """Where the shipped model lives: ``$NOTEGEN_MODEL``, the package, or the repository.

    The first existing candidate wins; when none exists the repository path is returned so that
    the error message names the place a user would expect.
    """
    env = os.environ.get("NOTEGEN_MODEL")
    if env:
        return user_path(env)
    package = Path(__file__).resolve().parents[1]  # (notegen/, where a wheel puts models/)
    candidates = [
        package / "models" / "notegen.json",
        package.parent.parent / "models" / "notegen.json",
    ]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[-1]


EACH_VALUE_FROM = 4096
"""From this many values an encoding reads each distinct value once (:func:`_each_value`)."""


def _each_value(encode: Callable[[np.ndarray], np.ndarray], values: np.ndarray) -> np.ndarray:
    """``encode(values)`` for an elementwise ``encode``, computed once per distinct value in
    long arrays: a voice of 200,000 notes has a few dozen (its durations' nearest-vocabulary
    search was 44 ms of 200,000 x 24 distances; the whole encoding is ~20 ms this way)."""
    values = np.asarray(values, np.float64)
    if len(values) < EACH_VALUE_FROM:
        return encode(values)
    distinct, inverse = np.unique(values, return_inverse=True)  # (NaNs: one value)
    return encode(distinct)[inverse.reshape(-1)]


def _quantized(card: dict[str, Any]) -> bool:
    """Whether a card's graph has int8 LSTM weights (it records ``notegen-train quantize``):
    known before the session is made, which must then run on one thread."""
    return "quantization" in card


def _card_and_onnx_paths(path: Path) -> tuple[Path, Path | None]:
    """Resolve ``path`` (the .onnx or the .json) to the card path and, if known, the graph."""
    if path.suffix == ".json":
        return path, None
    if path.suffix == ".onnx":
        return path.with_suffix(".json"), path
    raise ModelError(f"{path}: expected a .onnx model or its .json card")


MAX_CARD_BYTES = 16 * 1024 * 1024
MAX_GRAPH_BYTES = 2 * 1024 * 1024 * 1024  # protobuf's own limit for one ONNX file
MAX_TUNES_BYTES = 1024 * 1024 * 1024
"""The tune index (``.npz``), on disk and unpacked: the shipped one is 11 MB packed, ~17 MB
unpacked. A few kB of zip can claim gigabytes, and they would be read into memory."""


def check_regular_file(path: Path, what: str, limit: int) -> None:
    """Refuse, before opening it, a path that is not a regular file of a sane size.

    Opening a FIFO blocks until someone writes to it, and ``/dev/zero`` reads until memory
    runs out: a model path set by mistake must fail at once with a message naming it.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        kinds = [
            (stat.S_ISDIR, "a directory"),
            (stat.S_ISFIFO, "a FIFO"),
            (stat.S_ISCHR, "a device"),
            (stat.S_ISBLK, "a device"),
            (stat.S_ISSOCK, "a socket"),
        ]
        kind = next((name for test, name in kinds if test(info.st_mode)), "special")
        raise ModelError(f"{path}: {what} is {kind}, not a regular file")
    if info.st_size > limit:
        raise ModelError(f"{path}: {what} is {info.st_size} bytes, over the {limit}-byte limit")


def _check_unpacked_size(path: Path, limit: int) -> None:
    """Refuse a ``.npz`` (a zip) whose members would unpack to more than ``limit`` bytes."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(member.file_size for member in archive.infolist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: cannot read the card's tune index ({exc})") from None
    if size > limit:
        raise ModelError(
            f"{path}: the card's tune index unpacks to {size} bytes, over the {limit}-byte limit"
        )


def _read_card(card_path: Path) -> dict[str, Any]:
    check_regular_file(card_path, "model card", MAX_CARD_BYTES)
    try:
        text = card_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"{card_path}: model card not found") from None
    except OSError as exc:
        raise ModelError(f"{card_path}: cannot read model card ({exc.strerror or exc})") from None
    try:
        card = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{card_path}: model card is not valid JSON ({exc})") from None
    if not isinstance(card, dict):
        raise ModelError(f"{card_path}: model card must be a JSON object")
    return card


def _validate_card(card: dict[str, Any], card_path: Path) -> None:
    """Check the fields the server relies on, so a bad card fails at load, not mid-request."""

    def bad(why: str) -> ModelError:
        return ModelError(f"{card_path}: {why}")

    vocab = card.get("pitch_vocab")
    if not isinstance(vocab, list) or len(vocab) < 3 or vocab[0] != "<bos>" or vocab[1] != "rest":
        raise bad('pitch_vocab must start with "<bos>", "rest" and hold MIDI numbers')
    pitches = vocab[2:]
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in pitches):
        raise bad("pitch_vocab entries after rest must be integer MIDI numbers")
    if any(b <= a for a, b in itertools.pairwise(pitches)):
        raise bad("pitch_vocab MIDI numbers must be strictly ascending")
    stateful = card.get("stateful", True)
    if stateful:
        dvocab = card.get("duration_vocab")
        if not isinstance(dvocab, list) or len(dvocab) < 2 or dvocab[0] != "<bos>":
            raise bad('duration_vocab must start with "<bos>" and hold durations in beats')
        durs = dvocab[1:]
        if not all(isinstance(d, (int, float)) and not isinstance(d, bool) and d > 0 for d in durs):
            raise bad("duration_vocab entries after <bos> must be positive numbers")
        if any(b <= a for a, b in itertools.pairwise(durs)):
            raise bad("duration_vocab durations must be strictly ascending")
        state = card.get("state")
        if (
            not isinstance(state, dict)
            or not isinstance(state.get("layers"), int)
            or not isinstance(state.get("units"), int)
            or state["layers"] < 1
            or state["units"] < 1
        ):
            raise bad('state must be {"layers": L, "units": H} with positive integers')
    else:
        window = card.get("window")
        if not isinstance(window, int) or window < 1:
            raise bad("a stateless (seed-architecture) card needs a positive integer window")
    default = card.get("default_duration", 1.0)
    if not isinstance(default, (int, float)) or isinstance(default, bool) or default <= 0:
        raise bad("default_duration must be a positive number")


class MelodyModel:
    """A loaded model: vocabularies from the card and one ONNX Runtime session.

    Create it with :meth:`load`. Methods are safe to call from several threads (ONNX Runtime
    sessions are thread-safe for ``run``); state arrays are never mutated in place.
    """

    card: dict[str, Any]
    pitch_vocab: list[Any]
    duration_vocab: list[float | str]

    def __init__(self, card: dict[str, Any], session: Any, path: Path) -> None:
        self.card = card
        self.path = path
        self.session = session
        self.pitch_vocab = list(card["pitch_vocab"])
        self.stateful = bool(card.get("stateful", True))
        self.duration_vocab = list(
            card.get("duration_vocab") or ["<bos>", card.get("default_duration", 1.0)]
        )
        self.default_duration = float(card.get("default_duration", 1.0))
        self.quantized = _quantized(card)
        """Int8 LSTM weights (``notegen-train quantize``): the graph quantizes each step's
        hidden states over all batch rows at once, so a row alone and the same row beside
        others differ slightly; :meth:`step` reads rows one by one unless told they belong
        together (``joint``), and every call runs on one thread (two split the rows'
        quantization differently)."""
        self.pitches = np.asarray(self.pitch_vocab[2:], dtype=np.int64)
        self.lo, self.hi = int(self.pitches[0]), int(self.pitches[-1])
        self.durations = np.asarray(self.duration_vocab[1:], dtype=np.float64)
        self._log_durations = np.log(self.durations)
        self._pitch_table = self._build_pitch_table()
        if self.stateful:
            state = card["state"]
            self.layers, self.units = int(state["layers"]), int(state["units"])
            inputs = card.get("inputs") or ["pitch", "duration", "h_in", "c_in"]
            outputs = card.get("outputs") or ["pitch_logits", "duration_logits", "h_out", "c_out"]
            self._in = tuple(inputs)
            self._out = list(outputs)
            cond = card.get("conditioning") or {}
            self.cond_dim = int(cond.get("dim", 0))
            self._cond_name = str(cond.get("input", "conditioning"))
        else:
            self.cond_dim = 0
            self.window = int(card["window"])
            self._in = tuple(card.get("inputs") or ["tokens"])
            self._out = list(card.get("outputs") or ["probs"])
        self._default_dur_id = self.duration_id(self.default_duration)
        # What completions rank, hover reports and evaluation scores ...
        self.mixture = CopyMixture.from_card(card) if self.stateful else None
        # ... and what generation samples from after its first note (CopyMixture.for_sampling).
        self.sampling_mixture = self.mixture.for_sampling() if self.mixture else None
        # What the training tunes played after this melody (notegen.model.tunes), after the copy
        # model, where the served distribution is read (not while sampling after a first note).
        self.tunes = self._load_tunes(card, path) if self.stateful else None
        # Durations that hear the piece (notegen.model.rhythm), after the copy model, everywhere.
        self.rhythm = RhythmMixture.from_card(card) if self.stateful else None
        # ... and pitches that hear other voices imitate (notegen.model.imitation; not while
        # sampling)
        self.imitation = ImitationMixture.from_card(card) if self.stateful else None
        # ... and, while sampling, the notes consonant with the other voices weighted
        # (notegen.model.consonance: the network hedges on harmony; weight matched on generated
        # voices)
        self.consonance = ConsonanceBias.from_card(card) if self.stateful else None
        # ... and the repeat of the last note held near the training tunes' rate
        # (notegen.model.repeats)
        try:
            self.repeats = RepeatControl.from_card(card) if self.stateful else None
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: the card's repeats section is not valid ({exc})") from None
        self._midi_of = np.array(
            [np.nan, np.nan, *(float(x) for x in self.pitch_vocab[2:])], np.float64
        )
        self.sampling_rhythm = (
            self.rhythm.for_sampling(self.mixture.sampling_scale)
            if self.rhythm is not None and self.mixture is not None
            else self.rhythm
        )

    @staticmethod
    def _load_tunes(card: dict[str, Any], path: Path) -> TuneMixture | None:
        spec = card.get("tune_mixture")
        where = path.parent / str(spec.get("file", "")) if isinstance(spec, dict) else path
        if spec:
            check_regular_file(where, "the card's tune index", MAX_TUNES_BYTES)
            _check_unpacked_size(where, MAX_TUNES_BYTES)
        try:
            return TuneMixture.from_card(card, path.parent)
        except FileNotFoundError:
            raise ModelError(f"{where}: the card's tune index not found") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{where}: cannot read the card's tune index ({exc})") from None

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int = 1) -> MelodyModel:
        """Load the model from its ``.onnx`` graph or its ``.json`` card (the other beside it).

        ``threads``: ONNX Runtime threads per model call (the same results with any number).
        Raises :class:`ModelError` naming the file and the reason for any missing, unreadable,
        corrupt or non-conforming file.
        """
        card_path, onnx_path = _card_and_onnx_paths(Path(path))
        card = _read_card(card_path)
        _validate_card(card, card_path)
        if onnx_path is None:
            name = card.get("onnx") or card_path.with_suffix(".onnx").name
            onnx_path = card_path.parent / str(name)
        check_regular_file(onnx_path, "model graph", MAX_GRAPH_BYTES)
        try:
            data = onnx_path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{onnx_path}: model graph not found") from None
        except OSError as exc:
            raise ModelError(f"{onnx_path}: cannot read model ({exc.strerror or exc})") from None
        expected = card.get("sha256")
        if isinstance(expected, str) and expected:
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected.lower():
                raise ModelError(
                    f"{onnx_path}: sha256 {actual[:12]}… does not match the card's "
                    f"{expected[:12]}… (file corrupt or card from another export)"
                )
        if _quantized(card):
            threads = 1  # (see MelodyModel.quantized; one thread is as fast for int8 steps)
        session = _make_session(data, onnx_path, threads)
        model = cls(card, session, onnx_path)
        model._check_io(onnx_path)
        return model

    def _check_io(self, onnx_path: Path) -> None:
        names_in = {i.name for i in self.session.get_inputs()}
        if self.cond_dim and self._cond_name not in names_in:
            raise ModelError(f"{onnx_path}: graph lacks the {self._cond_name} input of its card")
        if self.cond_dim and self.cond_dim != COND_DIM:
            raise ModelError(
                f"{onnx_path}: conditioning of width {self.cond_dim}, this notegen computes "
                f"{COND_DIM} (a model from another version)"
            )
        names_out = {o.name for o in self.session.get_outputs()}
        missing = [n for n in self._in if n not in names_in] + [
            n for n in self._out if n not in names_out
        ]
        if missing:
            raise ModelError(
                f"{onnx_path}: graph lacks {', '.join(missing)} required by models/FORMAT.md"
            )
        # One real step proves the graph runs and its vocabulary sizes agree with the card.
        try:
            pl, dl, _ = self.step(np.array([BOS]), np.array([BOS]), self.initial_state())
        except Exception as exc:
            raise ModelError(f"{onnx_path}: graph does not run ({exc})") from None
        if pl.shape[-1] != len(self.pitch_vocab):
            raise ModelError(
                f"{onnx_path}: graph predicts {pl.shape[-1]} pitches but the card lists "
                f"{len(self.pitch_vocab)}"
            )
        if self.stateful and dl.shape[-1] != len(self.duration_vocab):
            raise ModelError(
                f"{onnx_path}: graph predicts {dl.shape[-1]} durations but the card lists "
                f"{len(self.duration_vocab)}"
            )

    # -- vocabulary ----------------------------------------------------------------------------

    def _build_pitch_table(self) -> np.ndarray:
        """Map every MIDI number in ``[lo, hi]`` (index ``midi - lo``) to the nearest pitch id."""
        span = np.arange(self.lo, self.hi + 1)
        nearest = np.abs(span[:, None] - self.pitches[None, :]).argmin(axis=1)
        return (nearest + 2).astype(np.int64)

    def pitch_id(self, pitch: int | float | None) -> int:
        """Token id of a MIDI pitch (rounded, folded into range by octaves) or ``None`` (rest)."""
        if pitch is None:
            return REST
        try:
            value = float(pitch)
        except (TypeError, ValueError):
            return REST
        if not math.isfinite(value):
            return REST
        midi = math.floor(value + 0.5)
        if midi > self.hi:
            midi -= 12 * math.ceil((midi - self.hi) / 12)
        if midi < self.lo:
            midi += 12 * math.ceil((self.lo - midi) / 12)
        midi = min(max(midi, self.lo), self.hi)  # a range narrower than an octave
        return int(self._pitch_table[midi - self.lo])

    def duration_id(self, duration: float | None) -> int:
        """Token id of the vocabulary duration nearest in log space (capped at both ends)."""
        if duration is None:
            duration = self.default_duration
        try:
            value = float(duration)
        except (TypeError, ValueError):
            value = self.default_duration
        if not math.isfinite(value) or value <= 0:
            value = self.default_duration
        idx = int(np.argmin(np.abs(self._log_durations - math.log(value))))
        return idx + 1

    def pitch_of(self, pid: int) -> int | None:
        """MIDI number of a pitch id (``None`` for rest); ``<bos>`` is not a pitch."""
        if pid == REST:
            return None
        if pid <= BOS or pid >= len(self.pitch_vocab):
            raise ValueError(f"pitch id {pid} is not a note or rest")
        return int(self.pitch_vocab[pid])

    def duration_of(self, did: int) -> float:
        """Duration in beats of a duration id."""
        if did <= BOS or did >= len(self.duration_vocab):
            raise ValueError(f"duration id {did} is not a duration")
        return float(self.duration_vocab[did])

    def encode(self, events: Iterable[Event]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids (int64) for ``events``, without ``<bos>`` (vectorised: the server encodes
        whole voices per request)."""
        events = list(events)
        try:
            pitches = np.array(
                [np.nan if ev.pitch is None else float(ev.pitch) for ev in events], np.float64
            )
            durations = np.array(
                [np.nan if ev.duration is None else float(ev.duration) for ev in events],
                np.float64,
            )
        except (TypeError, ValueError, OverflowError):
            pids = [self.pitch_id(ev.pitch) for ev in events]
            dids = [self.duration_id(ev.duration) for ev in events]
            return np.asarray(pids, dtype=np.int64), np.asarray(dids, dtype=np.int64)
        return self.encode_values(pitches, durations)

    def encode_values(
        self, pitches: np.ndarray, durations: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`encode` for float arrays (NaN = rest / unknown duration)."""
        return _each_value(self._pitch_ids, pitches), _each_value(self._duration_ids, durations)

    def _pitch_ids(self, pitches: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            rest = ~np.isfinite(pitches)
            midi = np.floor(np.where(rest, self.lo, pitches) + 0.5)
            high = midi > self.hi
            midi[high] -= 12 * np.ceil((midi[high] - self.hi) / 12)
            low = midi < self.lo
            midi[low] += 12 * np.ceil((self.lo - midi[low]) / 12)
            midi = np.clip(midi, self.lo, self.hi).astype(np.int64)
            pids = self._pitch_table[midi - self.lo]
            pids[rest] = REST
        return pids.astype(np.int64)

    def _duration_ids(self, durations: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~np.isfinite(durations) | (durations <= 0)
            logs = np.log(np.where(bad, self.default_duration, durations))
            dids = np.abs(logs[:, None] - self._log_durations[None, :]).argmin(axis=1) + 1
        return dids.astype(np.int64)

    def joint_ids(self, pitch_ids: np.ndarray, dur_ids: np.ndarray) -> np.ndarray:
        """One id per event (``pitch_id * |durations| + duration_id``): the copy model's and
        the server's context-cache unit."""
        return np.asarray(pitch_ids, np.int64) * len(self.duration_vocab) + np.asarray(
            dur_ids, np.int64
        )

    # -- inference -----------------------------------------------------------------------------

    def next_log_probs(
        self,
        pitch_logits: np.ndarray,
        dur_logits: np.ndarray,
        history: np.ndarray,
        setting: Setting | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The served next-event distribution (log-probabilities, ``<bos>`` at ~-1e9).

        The network's logits after the joint-id ``history`` (see :meth:`joint_ids`), mixed
        with the card's within-melody copy model (:mod:`notegen.model.copying`) when it has one, and
        its durations with the rhythm experts (:mod:`notegen.model.rhythm`: the other voices of
        ``setting``, whose time line starts where ``history`` does).
        """
        heard = heard_with_others(setting)
        log_p, log_d = self.copy_log_probs(pitch_logits, dur_logits, history, heard)
        history = np.asarray(history, np.int64)
        log_p = self.mix_imitation(log_p, history // len(self.duration_vocab), setting)
        return log_p, self.mix_rhythm(
            log_d, np.asarray(history, np.int64) % len(self.duration_vocab), setting
        )

    def copy_log_probs(
        self,
        pitch_logits: np.ndarray,
        dur_logits: np.ndarray,
        history: np.ndarray,
        heard: bool = False,
        experts: VoiceExperts | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`next_log_probs` before the rhythm experts: the network, the copy model and
        the training tunes (:mod:`notegen.model.tunes`; their weight depends on whether the voice is
        ``heard`` with other voices), which read only this voice (a context cache may keep
        them; the experts it redoes). ``experts``: :meth:`voice_experts` of the same
        ``history`` and ``heard``, made beforehand (else made here)."""
        log_p, log_d = log_softmax(pitch_logits), log_softmax(dur_logits)
        if experts is None:
            experts = self.voice_experts(history, heard)
        if experts.copy_q is not None:
            assert self.mixture is not None
            log_p, log_d = self.mixture.apply(log_p, log_d, experts.copied, *experts.copy_q)
        return mix_opinions(log_p, experts.tunes), log_d

    def voice_experts(
        self, history: np.ndarray, heard: bool = False, tunes: bool = True
    ) -> VoiceExperts:
        """What the copy model and the training tunes say after ``history`` (joint ids),
        before anything is mixed: they read the events only, not the network's output.
        Not ``tunes``: the copy model's only."""
        history = np.asarray(history, np.int64)
        length, copy_q = 0, None
        if self.mixture is not None:
            length, qp, qd = copy_marginals(
                history, len(self.pitch_vocab), len(self.duration_vocab), self.mixture.max_order
            )
            if qp is not None and qd is not None:
                copy_q = (qp, qd)
        opinions: list[tuple[float, np.ndarray]] = []
        if self.tunes is not None and tunes:
            nd = len(self.duration_vocab)
            opinions = self.tunes.opinions(
                history // nd, history % nd, length > 0, heard, len(self.pitch_vocab)
            )
        return VoiceExperts(length, copy_q, opinions)

    def prepare_setting(self, setting: Setting | None) -> None:
        """Make the tables through which the experts hear ``setting``'s other voices now: the
        rhythm experts' context, the imitation expert's interval text and the consonance
        table, each memoised per tuple of voices and built at the first note served or
        generated against them otherwise. A re-reading makes new tuples: in the 20-voice
        benchmark piece the first completion in a voice after it took ~5 ms more for them
        (18 instead of ~8 ms, in process). A background warm-up calls this instead."""
        if setting is None or not setting.others:
            return
        if self.rhythm is not None:
            rhythm_context(setting, self.durations)
        if self.imitation is not None:
            prepare_imitation(setting.others)
        if self.consonance is not None:
            prepare_consonance(setting.others)

    def mix_imitation(
        self, log_p: np.ndarray, pitch_ids: np.ndarray, setting: Setting | None
    ) -> np.ndarray:
        """Served pitch log-probs of the note after ``pitch_ids`` (this voice's pitches): the
        card's imitation expert (the other voices of ``setting``) mixed in."""
        if self.imitation is None or setting is None or not setting.others:
            return log_p
        midi = self._midi_of[np.maximum(np.asarray(pitch_ids, np.int64), 0)]  # (= clip at 0)
        return mix_pitches(self.imitation, log_p, midi, setting, self.pitch_vocab)

    def mix_rhythm(
        self,
        log_d: np.ndarray,
        dur_ids: np.ndarray,
        setting: Setting | None,
        mixture: RhythmMixture | None = None,
        context: RhythmContext | None = None,
        beats: float | None = None,
    ) -> np.ndarray:
        """Served duration log-probs of the event after ``dur_ids`` (this voice's durations
        from the start of ``setting``'s time line): the card's rhythm experts mixed in.
        ``context``: ``setting``'s :func:`~notegen.model.rhythm.rhythm_context` if the caller has
        it (a generated phrase looks it up once, not per note). ``beats``: where on that
        time line the event starts, when ``dur_ids`` are the last durations only (else their
        sum)."""
        mixture = mixture or self.rhythm
        if mixture is None:
            return log_d
        if beats is None:
            beats = self.beats_of(dur_ids)
        onset = (setting.start if setting is not None else 0.0) + beats
        if context is None:
            context = rhythm_context(setting, self.durations)
        return mix_durations(mixture, log_d, np.asarray(dur_ids, np.int64), onset, context)

    def served_sequence(
        self,
        log_p: np.ndarray,
        log_d: np.ndarray,
        pitch_ids: np.ndarray,
        dur_ids: np.ndarray,
        setting: Setting | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The served distributions of every row of a melody read from ``<bos>`` (the
        network's log-probs, then the copy model, then the rhythm experts and the imitation
        expert): what
        :meth:`log_probs` returns and ``notegen-train evaluate`` scores."""
        ids = self.joint_ids(pitch_ids, dur_ids)
        if self.mixture is not None:
            log_p, log_d = mix_sequence(self.mixture, log_p, log_d, ids)
        if self.tunes is not None:
            heard = setting is not None and bool(setting.others)
            log_p = self.tunes_sequence(log_p, ids, heard)
        if self.rhythm is not None:
            log_d = rhythm_sequence(self.rhythm, log_d, dur_ids, setting, self.durations)
        if self.imitation is not None and setting is not None and setting.others:
            log_p = np.array(log_p, np.float64)
            pitch_ids = np.asarray(pitch_ids, np.int64)
            for t in range(len(log_p)):
                log_p[t] = self.mix_imitation(log_p[t], pitch_ids[:t], setting)
        return log_p, log_d

    def tunes_sequence(self, log_p: np.ndarray, ids: np.ndarray, heard: bool) -> np.ndarray:
        """Rows of a melody's served pitch log-probs (after the copy model; joint ``ids``)
        with the training tunes mixed in, row t as :meth:`copy_log_probs` serves it."""
        assert self.tunes is not None
        out = np.array(log_p, np.float64)
        lengths = np.zeros(len(out), np.int64)  # the copy model's match (none without one)
        if self.mixture is not None:
            lengths, _ = sequence_marginals(ids, 1, 1, self.mixture.max_order, len(out))
        pitch_ids, dur_ids = np.divmod(np.asarray(ids, np.int64), len(self.duration_vocab))
        for t in range(len(out)):
            copied = bool(lengths[t] > 0)
            out[t] = self.tunes.mix(out[t], pitch_ids[:t], dur_ids[:t], copied, heard)
        return out

    def condition(
        self, dur_ids: np.ndarray, first_step: int, steps: int, setting: Setting | None
    ) -> np.ndarray | None:
        """Conditioning rows ``[steps, C]`` for steps ``first_step..`` of a melody whose events
        have duration ids ``dur_ids`` (no ``<bos>``); ``None`` for a model without them."""
        if not self.cond_dim:
            return None
        beats = self.durations[np.clip(np.asarray(dur_ids, np.int64) - 1, 0, None)]
        return (setting or _ALONE).rows(beats, first_step, steps)

    def beats_of(self, dur_ids: np.ndarray) -> float:
        """Total beats of events with these duration ids (where the next event starts)."""
        ids = np.asarray(dur_ids, np.int64)
        return float(np.add.reduce(self.durations[ids[ids > 0] - 1]))  # (the same sum as .sum())

    def log_probs(
        self, events: Sequence[Event], setting: Setting | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Log-probabilities ``[T+1, Vp]``, ``[T+1, Vd]`` of a melody read from ``<bos>``.

        Row t is the served distribution of event t given ``events[:t]`` (the last row, what
        follows): exactly what completions rank and generation samples from, so evaluation
        scores what is served.
        """
        pl, dl, _ = self.run(events, setting=setting)
        return self.served_sequence(log_softmax(pl), log_softmax(dl), *self.encode(events), setting)

    def initial_state(self, batch: int = 1) -> State:
        """Zero state (stateful graph) or an all-padding window (seed architecture)."""
        if self.stateful:
            zeros = np.zeros((self.layers, batch, self.units), dtype=np.float32)
            return zeros, zeros.copy()
        return np.zeros((batch, self.window), dtype=np.int64), np.zeros((batch, 0), np.float32)

    def step(
        self,
        pitch_ids: np.ndarray | Sequence[int],
        dur_ids: np.ndarray | Sequence[int],
        state: State,
        cond: np.ndarray | None = None,
        *,
        joint: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, State]:
        """Feed one event per batch row; return next-event logits ``[B,Vp]``, ``[B,Vd]``, state.

        ``pitch_ids``/``dur_ids`` are shape ``[B]`` (or ``[B, T]`` to feed T events at once, in
        which case the logits are those after the last one). ``cond``: conditioning rows
        ``[B, C]`` (or ``[B, T, C]``) for a model that has them (see :meth:`condition`).
        Each row's result is the one it gets alone, except with ``joint`` on a quantized
        model (rows sampled or scored together: a generation's rows, a check's alternatives),
        where the rows share one call (:attr:`quantized`).
        """
        p = np.asarray(pitch_ids, dtype=np.int64)
        d = np.asarray(dur_ids, dtype=np.int64)
        if p.ndim == 1:
            p = p[:, None]
            d = d[:, None]
            if cond is not None and np.ndim(cond) == 2:
                cond = np.asarray(cond)[:, None, :]
        pl, dl, new_state = self._forward(p, d, state, cond, joint)
        # Copies, not views: a cached state must not keep the whole [B, T, V] logits alive.
        return pl[:, -1, :].copy(), dl[:, -1, :].copy(), new_state

    def run(
        self,
        events: Sequence[Event],
        state: State | None = None,
        *,
        bos: bool | None = None,
        setting: Setting | None = None,
    ) -> tuple[np.ndarray, np.ndarray, State]:
        """Score a melody: logits for every position, and the state after its last event.

        From scratch (``state is None``) it feeds ``<bos>`` + events and returns ``T+1`` rows:
        row t is the distribution of event t given ``events[:t]``, the last row predicts what
        follows. Given a ``state`` it continues from there without ``<bos>`` (``T`` rows, row t
        predicting event t+1), which is how the server extends a cached context. ``setting``
        (other voices, metre...) gives a conditioned model its rows; read from ``<bos>``.
        """
        if bos is None:
            bos = state is None
        if state is None:
            state = self.initial_state(1)
        pids, dids = self.encode(events)
        if bos:
            pids = np.concatenate([[BOS], pids]).astype(np.int64)
            dids = np.concatenate([[BOS], dids]).astype(np.int64)
        if pids.size == 0:
            return (
                np.zeros((0, len(self.pitch_vocab)), np.float32),
                np.zeros((0, len(self.duration_vocab)), np.float32),
                state,
            )
        cond = None
        if self.cond_dim and bos:
            cond = self.condition(dids[1:], 0, len(dids), setting)[None]  # type: ignore[index]
        pl, dl, new_state = self._forward(pids[None, :], dids[None, :], state, cond)
        return pl[0], dl[0], new_state

    def _forward(
        self,
        p: np.ndarray,
        d: np.ndarray,
        state: State,
        cond: np.ndarray | None = None,
        joint: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, State]:
        """One graph call over ``[B, T]`` ids; returns ``[B,T,V]`` logits with ``<bos>`` masked.

        A conditioned graph given no rows reads each batch row as a lone melody whose first
        step here is its ``<bos>`` (onsets from the durations fed, end unknown). Not
        ``joint`` on a quantized model: one call per row (:attr:`quantized`)."""
        if self.stateful and self.quantized and not joint and len(p) > 1:
            h, c = state
            parts = [
                self._forward(
                    p[r : r + 1],
                    d[r : r + 1],
                    (h[:, r : r + 1], c[:, r : r + 1]),
                    None if cond is None else np.asarray(cond)[r : r + 1],
                )
                for r in range(len(p))
            ]
            return (
                np.concatenate([x[0] for x in parts]),
                np.concatenate([x[1] for x in parts]),
                (
                    np.concatenate([x[2][0] for x in parts], axis=1),
                    np.concatenate([x[2][1] for x in parts], axis=1),
                ),
            )
        if self.stateful:
            h, c = state
            feeds = {self._in[0]: p, self._in[1]: d, self._in[2]: h, self._in[3]: c}
            if self.cond_dim:
                if cond is None:
                    rows = [self.condition(row[1:], 0, len(row), None) for row in d]
                    cond = np.stack([r for r in rows if r is not None])
                feeds[self._cond_name] = np.asarray(cond, np.float32)
            out = self.session.run(self._out, feeds)
            pl, dl, h2, c2 = out[0], out[1], out[2], out[3]
            pl[..., BOS] = _NEG
            dl[..., BOS] = _NEG
            return pl, dl, (h2, c2)
        return self._forward_window(p, state)

    def _forward_window(self, p: np.ndarray, state: State) -> tuple[np.ndarray, np.ndarray, State]:
        """Seed architecture: re-read the whole padded window for every event (its way)."""
        window, unused = state
        batch, steps = p.shape
        vp, vd = len(self.pitch_vocab), len(self.duration_vocab)
        pls = np.empty((batch, steps, vp), dtype=np.float32)
        for t in range(steps):
            tok = p[:, t]
            if np.all(tok == BOS):
                window = np.zeros_like(window)  # <bos> starts a melody: empty padded history
            else:
                window = np.concatenate([window[:, 1:], tok[:, None]], axis=1)
            (probs,) = self.session.run(self._out[:1], {self._in[0]: window})
            pls[:, t, :] = np.log(np.maximum(probs, 1e-12))
        pls[..., BOS] = _NEG
        # Pitch-only graph: the duration "distribution" is certain of the default duration.
        dls = np.full((batch, steps, vd), _NEG, dtype=np.float32)
        dls[..., self._default_dur_id] = 0.0
        return pls, dls, (window, unused)


def _make_session(data: bytes, onnx_path: Path, threads: int = 1) -> Any:
    """One CPU session tuned for batch-1 stepping, on ``threads`` threads per call.

    With more than one, the pool's threads spin only while a call runs
    (``session.force_spinning_stop``): left spinning between calls they kept a core busy for
    ~25 ms after every burst of steps.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelError(f"{onnx_path}: onnxruntime is not installed ({exc})") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    if threads > 1:
        options.add_session_config_entry("session.force_spinning_stop", "1")
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{onnx_path}: not a valid ONNX model ({first_line})") from None
    # ONNX Runtime's Python wrapper keeps the model's bytes for the session's life (its own
    # "TODO: bad, holding the memory indefinitely"), only to rebuild the session for another
    # execution provider; a CPU-only session never needs to (its fallback, which would, is
    # turned off): the graph's size in RSS (8 MB for the shipped model).
    if getattr(session, "_model_bytes", None) is not None:
        session.disable_fallback()
        session._model_bytes = None
    return session
