"""Render Sonic Pi code to a WAV file through Sonic Pi's own recorder.

Sonic Pi records everything it plays (``/start-recording``, ``/stop-recording``,
``/save-recording PATH``: the Rec button's messages, the same in 3.2.2's
``sonic-pi-server.rb`` and 4.x's ``spider-server.rb``). A recording starts with the silence
of Sonic Pi's scheduling lead (about 1.5 s measured with 3.2.2) and ends with the wait for
synths to finish, so the saved file is trimmed to the sound itself: from the first to the last
sample above -60 dBFS. Its length is then the length of the music, which is what a listener
(and the end-to-end test) checks against notes × durations × bpm.

Sonic Pi saves the recording to a temporary name beside the target; only a complete, trimmed
file takes the target's name (:func:`notegen.playback.output_files.install`), and an existing file
is never replaced unless asked (``force``).
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from notegen.playback.output_files import check_target, install, temp_beside
from notegen.playback.sonic_pi_client import Report, SonicPiClient, SonicPiError

__all__ = [
    "RenderResult",
    "WavStats",
    "analyse_wav",
    "render_wav",
    "trim_silence",
]

SILENCE_DBFS = -60.0
_SETTLE_S = 3.0  # Sonic Pi's scheduling lead plus its wait for the last synths
_SAVE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WavStats:
    """What a WAV holds: its length, loudness (RMS and peak, full scale = 1) and channels."""

    seconds: float
    rms: float
    peak: float
    channels: int
    sample_rate: int


@dataclass
class RenderResult:
    path: Path
    stats: WavStats
    errors: list[Report] = field(default_factory=list)
    completed: bool = True


def _read(path: Path) -> tuple[np.ndarray, int, int, int]:
    with wave.open(str(path), "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)).astype(np.int32)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float64) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    elif width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    else:
        raise ValueError(f"{path}: unsupported sample width {width} bytes")
    return data.reshape(-1, channels), channels, width, rate


def analyse_wav(path: str | Path) -> WavStats:
    """Length, RMS and peak of a PCM WAV file (8/16/24/32-bit)."""
    data, channels, _, rate = _read(Path(path))
    if data.size == 0:
        return WavStats(0.0, 0.0, 0.0, channels, rate)
    return WavStats(
        len(data) / rate,
        float(np.sqrt(np.mean(data**2))),
        float(np.max(np.abs(data))),
        channels,
        rate,
    )


def trim_silence(path: str | Path, threshold_dbfs: float = SILENCE_DBFS) -> WavStats:
    """Cut the silence before the first and after the last sound, in place."""
    file = Path(path)
    data, channels, width, rate = _read(file)
    level = np.max(np.abs(data), axis=1) if data.size else np.zeros(0)
    loud = np.nonzero(level > 10 ** (threshold_dbfs / 20.0))[0]
    if loud.size:
        with wave.open(str(file), "rb") as wav:
            raw = wav.readframes(wav.getnframes())
        frame = channels * width
        kept = raw[loud[0] * frame : (loud[-1] + 1) * frame]
        with wave.open(str(file), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(width)
            out.setframerate(rate)
            out.writeframes(kept)
    return analyse_wav(file)


def render_wav(
    client: SonicPiClient,
    code: str,
    out: str | Path,
    *,
    expected_seconds: float,
    max_seconds: float | None = None,
    trim: bool = True,
    force: bool = False,
) -> RenderResult:
    """Record ``code`` played by ``client``'s Sonic Pi into ``out`` (a WAV file).

    Waits for the run to complete (at most ``max_seconds``, default ``expected_seconds`` plus
    a margin; a piece that loops forever is stopped there). Sonic Pi writes the file itself,
    so it must run on this machine. Errors Sonic Pi reported come back in the result; raises
    :class:`SonicPiError` when no file appears and ``FileExistsError`` when ``out`` exists
    (unless ``force``), before anything is played.
    """
    path = Path(out).resolve()
    if path.suffix.lower() != ".wav":
        raise ValueError(f"{out}: the recording is a WAV file; name it *.wav")
    if client.endpoint.host not in ("127.0.0.1", "localhost", "::1"):
        raise SonicPiError(
            "Sonic Pi writes recordings on its own machine; rendering needs a "
            "Sonic Pi on this one (host 127.0.0.1)"
        )
    check_target(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_beside(path)
    try:
        result = _record(client, code, temp, expected_seconds, max_seconds, trim)
        install(temp, path, force)
    finally:
        temp.unlink(missing_ok=True)
    result.path = path
    return result


def _record(
    client: SonicPiClient,
    code: str,
    path: Path,
    expected_seconds: float,
    max_seconds: float | None,
    trim: bool,
) -> RenderResult:
    limit = max_seconds if max_seconds is not None else expected_seconds * 1.5 + 10.0
    listening = client.listen()
    client.start_recording()
    if listening:
        outcome = client.run(code, timeout=limit)
        errors, completed = outcome.errors, outcome.completed
        if not completed:
            client.stop_all_jobs()
    else:  # Sonic Pi's GUI holds the reply port: go by the clock.
        client.run_code(code)
        time.sleep(expected_seconds + _SETTLE_S)
        client.stop_all_jobs()
        errors, completed = [], True
    client.stop_recording()
    client.save_recording(path)
    deadline = time.monotonic() + _SAVE_TIMEOUT_S
    while time.monotonic() < deadline:
        if listening and client.wait_for(
            lambda r: r.kind == "info" and r.text.startswith(("Saving recording", "No recording")),
            0.2,
        ):
            break
        if not listening and path.exists():
            time.sleep(0.5)  # Sonic Pi moves the file into place; let the move finish
            break
        time.sleep(0.05)
    if not path.exists():
        raise SonicPiError(f"Sonic Pi did not save a recording to {path}")
    stats = trim_silence(path) if trim else analyse_wav(path)
    return RenderResult(path, stats, list(errors), completed)
