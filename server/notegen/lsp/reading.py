"""What a whole-file reading of a document version keeps: each note array's summary, each
voice's track and setting, the beats of its duration arrays.

A reading is made off the event loop (:mod:`notegen.lsp.whole_reading`, in a child process
for big files) and kept for diagnostics, hover and commands; completions borrow from the
latest one (even if a few edits old) only what sits in *other* arrays: earlier sections of
the voice and duration arrays (:func:`voice_history`). It keeps float arrays, not the
reader's token objects, so the server's memory does not grow with the readings it keeps.
"""

from __future__ import annotations

import bisect
import threading
from typing import TYPE_CHECKING

import numpy as np

from notegen.melody import Event, shared
from notegen.model.conditioning import Setting, VoiceTimes
from notegen.model.context_cache import ContextCache
from notegen.model.ensemble import VoiceLine
from notegen.notes import NoteStyle
from notegen.sonicpi.play_order import play_voices
from notegen.sonicpi.types import CursorContext, DurationArray, NoteArray

if TYPE_CHECKING:
    from notegen.model.network import MelodyModel


def _beats(model: MelodyModel, durations: np.ndarray) -> float:
    """Beats of notes with these durations (``NaN``: unknown), as ``model`` encodes them."""
    if not len(durations):
        return 0.0
    return model.beats_of(model.encode_values(np.zeros(len(durations)), durations)[1])


class Beats:
    """A duration array's values by note index (``NaN`` where a value is missing or bad)."""

    __slots__ = ("_blocks", "scalar", "values")

    BLOCK = 4096
    """Notes per stretch whose beats :meth:`beats_before` keeps summed."""

    def __init__(self, values: np.ndarray, scalar: bool) -> None:
        self.values = values
        self.scalar = scalar
        self._blocks: tuple[int, np.ndarray] | None = None

    def beats_before(self, count: int, model: MelodyModel) -> float:
        """Beats of notes ``0..count`` as ``model`` reads their durations (a missing one is
        its default): where a long line's window starts on the voice's clock.

        Whole stretches of :data:`BLOCK` notes are summed once per model (a 5 MB line's
        window asks at every keystroke), the rest on each call."""
        if count <= 0:
            return 0.0
        if self.scalar:
            value = self.values[:1] if len(self.values) else np.full(1, np.nan)
            return model.beats_of(model.encode_values(np.zeros(1), value)[1]) * count
        blocks = self._blocks
        if blocks is None or blocks[0] != id(model):
            whole = len(self.values) // self.BLOCK
            sums = np.zeros(whole + 1)
            for k in range(whole):
                part = self.values[k * self.BLOCK : (k + 1) * self.BLOCK]
                sums[k + 1] = sums[k] + _beats(model, part)
            blocks = self._blocks = (id(model), sums)
        sums = blocks[1]
        k = min(count // self.BLOCK, len(sums) - 1)
        start = k * self.BLOCK
        rest = self.values[start:count]
        missing = count - start - len(rest)  # past the array's end: the default duration
        beats = float(sums[k]) + _beats(model, rest)
        if missing > 0:  # (counted, not encoded one by one: a line of 200,000 notes with
            # no durations made and encoded 100,000 NaNs at every keystroke, ~5 ms)
            beats += missing * _beats(model, np.full(1, np.nan))
        return beats

    @classmethod
    def of(cls, durations: DurationArray) -> Beats:
        values = np.array(
            [np.nan if v.value is None else v.value for v in durations.values], np.float64
        )
        return cls(values, durations.scalar)

    def duration_for(self, index: int) -> float | None:
        """As :meth:`notegen.sonicpi.types.DurationArray.duration_for`."""
        if self.scalar:
            index = 0
        if 0 <= index < len(self.values):
            value = float(self.values[index])
            return None if value != value else value
        return None


class ArraySummary:
    """What completions and generation need of one note array: who it is and its events.

    A whole-file reading keeps these instead of the reader's token objects (a 20,000-note
    file: ~0.3 MB of float arrays instead of ~10 MB of objects), so the server's memory does
    not grow with the readings it keeps.
    """

    __slots__ = (
        "bpm",
        "durations",
        "event_beats",
        "kind",
        "name",
        "pitches",
        "section",
        "start",
        "voice",
    )

    def __init__(self, array: NoteArray) -> None:
        self.kind = array.kind
        self.voice = array.voice
        self.section = array.section
        self.name = array.name
        self.start = array.span.start
        self.bpm = array.bpm
        self.durations = Beats.of(array.durations) if array.durations is not None else None
        events = array.events()
        self.pitches = np.array(
            [np.nan if ev.pitch is None else float(ev.pitch) for ev in events], np.float64
        )
        self.event_beats = np.array(
            [np.nan if ev.duration is None else float(ev.duration) for ev in events], np.float64
        )

    def event_pitches(self) -> list[int | float | None]:
        """``[ev.pitch for ev in self.events()]`` without making the events (a completion
        reads the pitches of the voice's last sections for its habits)."""
        return [
            None if pitch != pitch else (int(pitch) if pitch.is_integer() else pitch)
            for pitch in self.pitches.tolist()
        ]

    def events(self, start: int = 0, stop: int | None = None) -> list[Event]:
        """The array's events (``start:stop`` of them), as :meth:`NoteArray.events` gives
        them."""
        out: list[Event] = []
        pitches, beats = self.pitches[start:stop], self.event_beats[start:stop]
        for pitch, beat in zip(pitches.tolist(), beats.tolist(), strict=True):
            p = None if pitch != pitch else (int(pitch) if pitch.is_integer() else pitch)
            out.append(shared(p, None if beat != beat else beat))
        return out


class VoiceTrack:
    """One voice's sections in order as one run of token ids for a model, with where each
    section starts and every event's beats as :meth:`notegen.model.network.MelodyModel.beats_of`
    counts them.

    A cursor's context needs only the sections inside its window, and the beats of all that
    went before (where its time line starts). Read section by section, a cursor in the last
    of 2,000 sections joined all 2,000 at every keystroke, and a fresh reading's first cursor
    late in the voice encoded each (~90 µs a section: 230 ms measured, in process); here the
    voice is encoded in one call and each start's beats are summed once.
    """

    def __init__(self, sections: list[ArraySummary], cache: ContextCache) -> None:
        model = cache.model
        self.sections = sections
        self.index = {id(s): k for k, s in enumerate(sections)}
        self.bounds = np.cumsum([0, *(len(s.pitches) for s in sections)])
        if sections:
            pitches = np.concatenate([s.pitches for s in sections])
            beats = np.concatenate([s.event_beats for s in sections])
        else:
            pitches = beats = np.zeros(0, np.float64)
        pids, dids = model.encode_values(pitches, beats)
        self.ids = pids * cache.vd + dids
        self.ids.setflags(write=False)  # (its slices are the sections' ids, shared)
        self.beats = model.durations[dids - 1]  # (every duration id is 1 or more)
        self._before: dict[int, float] = {}

    def beats_before(self, n: int) -> float:
        """Beats of the first ``n`` events: ``model.beats_of(self.ids[:n] % vd)`` exactly
        (the same values summed in the same order), remembered per ``n``."""
        found = self._before.get(n)
        if found is None:
            found = self._before[n] = float(np.add.reduce(self.beats[:n]))
        return found


class Reading:
    """A whole-file reading of one version, indexed for per-keystroke use.

    ``voices`` lists each voice's sections in order (the first assignment of a section
    stands, as in the reader's own history); ``by_identity`` finds an array's twin (for its
    durations) without scanning; ``ids`` memoises each array's token ids for the model.
    Arrays are kept as :class:`ArraySummary`, never as the reader's token objects.
    """

    def __init__(
        self,
        version: int | None,
        arrays: list[NoteArray],
        style: NoteStyle,
        text: str | None = None,
    ) -> None:
        self.version = version
        self.style = style
        self.text = text
        """The version's text, for the tempo its voices are played at (:meth:`setting`)."""
        self.summaries: list[ArraySummary] = []
        self.voices: dict[int, dict[int, ArraySummary]] = {}
        self.by_identity: dict[tuple, ArraySummary] = {}
        for array in sorted(arrays, key=lambda a: a.span.start):
            summary = ArraySummary(array)
            self.summaries.append(summary)
            ident = (array.kind, array.voice, array.section, array.name)
            self.by_identity.setdefault(ident, summary)
            if array.kind == "voice" and array.voice is not None and array.section is not None:
                self.voices.setdefault(array.voice, {}).setdefault(array.section, summary)
        self.sections = {v: sorted(secs) for v, secs in self.voices.items()}
        self.play_voices = play_voices(arrays)
        self._ids: dict[int, tuple[object, np.ndarray]] = {}
        self._tracks: dict[int, tuple[object, VoiceTrack]] = {}
        self._lines: list[VoiceLine] | None = None
        self._settings: dict[int | None, Setting] = {}
        self._times: dict[tuple, VoiceTimes] = {}  # each voice's times, shared by the settings
        self._settings_lock = threading.Lock()
        self.prepared = False
        """:meth:`prepare_settings` has run."""

    def __getstate__(self) -> dict[str, object]:
        """Pickled (a reading made in a child process): without its lock and its ``ids`` memo
        (keyed by object identity), with the harmony tables its settings were prepared with."""
        from notegen.model.conditioning import harmony_table

        state = dict(self.__dict__)
        del state["_settings_lock"]
        state["_ids"] = {}
        state["_tracks"] = {}
        state["_tables"] = [
            (s.others, harmony_table(s.others))
            for s in self._settings.values()
            if self.prepared and s.others
        ]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        from notegen.model.conditioning import keep_harmony_table

        tables = state.pop("_tables", [])
        self.__dict__.update(state)
        self._settings_lock = threading.Lock()
        for others, table in tables:  # type: ignore[attr-defined]
            keep_harmony_table(others, table)
        self._register_ensemble()

    def _register_ensemble(self) -> None:
        """Offer every voice (what a new voice hears) as the ensemble whose tables the
        listening voices' are views of, while this reading lives
        (:class:`notegen.model.conditioning.Ensembles`)."""
        from notegen.model.conditioning import ENSEMBLES

        whole = self._settings.get(None)
        if self.prepared and whole is not None and whole.others:
            ENSEMBLES.register(whole.others, self)

    def earlier_sections(self, array: NoteArray | ArraySummary) -> list[ArraySummary]:
        """The same voice's sections before ``array``'s, in section order."""
        if array.kind != "voice" or array.voice is None or array.section is None:
            return []
        sections = self.voices.get(array.voice)
        if not sections:
            return []
        numbers = self.sections[array.voice]
        stop = bisect.bisect_left(numbers, array.section)
        return [sections[k] for k in numbers[:stop]]

    def earlier_runs(self, start: int) -> list[ArraySummary]:
        """The ``play``/``sleep`` runs before offset ``start``, in document order: the
        piece so far (live coders repeat and vary their phrases from loop to loop)."""
        return [s for s in self.summaries if s.kind == "play" and s.start < start]

    def track(self, voice: int, cache: ContextCache) -> VoiceTrack:
        """``voice``'s sections as one run of events for ``cache``'s model (memoised)."""
        memo = self._tracks.get(voice)
        if memo is not None and memo[0] is cache:
            return memo[1]
        numbers = self.sections[voice]
        found = VoiceTrack([self.voices[voice][k] for k in numbers], cache)
        self._tracks[voice] = (cache, found)
        return found

    def prepare_tracks(self, cache: ContextCache) -> None:
        """Every voice's track for ``cache``'s model now (the server: on the reader thread,
        before the reading is used), so that no cursor waits for one: a voice of 200,000 notes
        takes ~20 ms, which the first cursor after each reading paid."""
        for voice in self.voices:
            self.track(voice, cache)

    def ids(self, summary: ArraySummary, cache: ContextCache) -> np.ndarray:
        """Token ids of ``summary``'s events for ``cache``'s model (memoised per array)."""
        memo = self._ids.get(id(summary))
        if memo is not None and memo[0] is cache:
            return memo[1]
        voice = summary.voice if summary.kind == "voice" else None
        kept = self._tracks.get(voice) if voice is not None else None
        if kept is not None and kept[0] is cache:  # its slice: the voice was read in one call
            at = kept[1].index.get(id(summary))
            if at is not None:
                return kept[1].ids[kept[1].bounds[at] : kept[1].bounds[at + 1]]
        pids, dids = cache.model.encode_values(summary.pitches, summary.event_beats)
        ids = pids * cache.vd + dids
        self._ids[id(summary)] = (cache, ids)
        return ids

    def document_events(self) -> list[Event]:
        """Every array's events in document order (key detection for generateMelody)."""
        return [ev for summary in self.summaries for ev in summary.events()]

    def setting(self, voice: int | None) -> Setting:
        """What voice ``voice`` hears of the others (``None``: a new voice), memoised."""
        from notegen.model.ensemble import setting_for, voice_lines

        with self._settings_lock:
            if voice not in self._settings:
                if self._lines is None:
                    voices = [s for s in self.summaries if s.kind == "voice"]
                    self._lines = voice_lines(voices, self._played_at(voices))
                self._settings[voice] = setting_for(self._lines, voice, shared=self._times)
            return self._settings[voice]

    def _played_at(self, voices: list[ArraySummary]) -> dict[int, float]:
        """The ``use_bpm`` in force where each voice is played, as the piece reader takes it
        for a section without a ``cN`` (the text is walked only when such a section exists)."""
        if self.text is None or all(s.bpm is not None and s.bpm > 0 for s in voices):
            return {}
        from notegen.sonicpi.tempo import voice_tempi

        return voice_tempi(self.text).voices

    def prepare_settings(self) -> None:
        """Compute every voice's setting and the other voices' harmony table now.

        Called on the reader thread right after the reading: a table costs ~20 ms of CPU per
        voice in a 20-voice, 20,000-note piece, which the first completion in each voice (or
        a warm-up step) on the inference thread would otherwise pay.

        The voices' lines (every note as an event: 1.7 MB for the benchmark piece) are let go
        afterwards: only a voice the reading did not have would need them again (rebuilt then,
        the same lines).
        """
        from notegen.model.conditioning import harmony_rows

        # (every voice: one written without sections, ``a1=[...]``, is not in ``voices``; its
        # first completion made its setting, walking the whole text: ~0.6 s for 200,000 notes)
        numbered = {s.voice for s in self.summaries if s.kind == "voice" and s.voice is not None}
        for voice in [*sorted(numbered), None]:
            others = self.setting(voice).others
            if others:
                harmony_rows(others, _NO_TIME)
        with self._settings_lock:
            self._lines = None
        self.prepared = True
        self._register_ensemble()

    def document_bpm(self) -> float | None:
        """The first positive tempo any voice gives."""
        for summary in self.summaries:
            if summary.bpm is not None and summary.bpm > 0:
                return summary.bpm
        return None


_NO_TIME = np.zeros(1)


def before_events(reading: Reading | None, ctx: CursorContext, skipped: int = 0) -> list[Event]:
    """The notes before the cursor as events, each with its duration where one is known.

    Durations come from the context's own duration array when the region held it, otherwise
    from the same array (kind, voice, section, name) in the whole-file reading, by index.
    Elements Sonic Pi would reject are left out: they carry no pitch.
    """
    durations: DurationArray | Beats | None = ctx.durations
    if durations is None and reading is not None:
        array = ctx.array
        twin = reading.by_identity.get((array.kind, array.voice, array.section, array.name))
        if twin is not None:
            durations = twin.durations
    return [
        shared(tok.midi, durations.duration_for(i) if durations is not None else None)
        for i, tok in enumerate(ctx.before, start=skipped)
        if tok.error is None
    ]


def voice_history(
    arrays: list[NoteArray] | None, array: NoteArray, before: list[Event]
) -> list[Event]:
    """Model context as events: earlier sections of the same voice, then ``before``."""
    if not arrays:
        return before
    history: list[Event] = []
    voice = [a for a in arrays if a.kind == "voice" and a.voice == array.voice]
    for section in Reading(None, voice, NoteStyle()).earlier_sections(array):
        history.extend(section.events())
    history.extend(before)
    return history
