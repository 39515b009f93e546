"""The work of ``generateMelody`` and ``continueMelody``: notes from the model, as text.

Module-level functions of ``(model, view, ...)`` with picklable arguments and results, so
the same code runs in the server (small jobs, warm model) and in a child process
(:mod:`notegen.lsp.child`, big ones): same seed, same notes either way. Results leave out the
generated events unless they are wanted (a preview draws them): 100,000 events are ~10 MB of
small objects that the server would otherwise unpickle for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from notegen.melody import Event
from notegen.model.context_cache import ContextCache
from notegen.model.ensemble import piece_lines, setting_for
from notegen.model.generate import Block, generate_block, generate_long
from notegen.model.generate_options import GenerateOptions
from notegen.model.network import MelodyModel
from notegen.notes import NoteStyle, infer_style
from notegen.sonicpi import format_duration, next_free_voice
from notegen.sonicpi.piece import piece_bpm, piece_of
from notegen.sonicpi.placement import Placement, never_runs, new_voice_placement
from notegen.sonicpi.statement_writer import next_loop_name, render_live_loop
from notegen.sonicpi.statements import PlayRun
from notegen.sonicpi.types import NoteArray

from .context import is_numeric_array
from .documents import DocumentView
from .reading import Reading, voice_history

FORMS = ("voice", "live_loop")
"""generateMelody's ``form``: ``aN``/``bN`` arrays and their loop, or play/sleep lines."""


def default_form(kinds: Iterable[str]) -> str:
    """The form a new melody takes when none is asked for: the document's own, from the
    ``kind`` of each of its arrays. A file whose melodies are play/sleep lines (and no ``aN``
    voice) gets a ``live_loop``, so every editor's Generate command writes in a live coder's
    style without asking."""
    found = set(kinds)
    return "live_loop" if "play" in found and "voice" not in found else "voice"


@dataclass(frozen=True)
class Melody:
    """A generated block, how many notes it has, where it goes, and its form."""

    block: Block
    notes: int
    where: Placement
    form: str
    """The block's form, one of :data:`FORMS` (the document's own when none was asked)."""
    moved: bool = False
    """The position asked for is in code that never runs: the block goes to ``where``."""


def melody_block(
    model: MelodyModel,
    view: DocumentView,
    position: tuple[int, int] | None,
    options: GenerateOptions,
    form: str | None,
    keep_events: bool,
    reading: Reading | None = None,
) -> Melody:
    """generateMelody's block for ``view``: a new voice (or ``live_loop``) in the piece's key,
    tempo, spelling, form and free register, placed at ``position`` or after the piece.

    ``reading``: the server's whole reading of this very text, if it has one: what a new
    voice hears of the others is taken from it (made again here, with the other voices'
    harmony: ~90 ms of a 16-note block in the 20,000-note benchmark piece).

    ``form`` ``None``: the document's own (:func:`default_form`), read off the parse made
    here. A big job's child reads it so: the server, asked before its reading of the text
    had landed, parsed the whole text for the form alone, which took its memory up by
    ~25 MB for ~0.2 s (the 20,000-note piece; ``lsp_latency.py``'s peak, 164.5 MB)."""
    doc = view.parsed()
    arrays = view.arrays()
    piece = piece_of(doc, arrays)
    if form is None:
        form = default_form(a.kind for a in arrays)
    hidden = None
    if position is not None:
        line = min(position[0], view.line_count - 1)
        hidden = never_runs(doc, view.starts[line])
    if position is not None and hidden is None:
        where = Placement(view.starts[line], f"at line {line + 1}, where it was asked for")
        near = view.array_at(view.offset_at(*position))
        register = piece.new_voice_register(near.voice if near is not None else None)
    else:  # no position, or one where code never runs: where a new voice goes
        where = new_voice_placement(doc)
        if hidden is not None:
            why = f"line {line + 1} is in {hidden}, where code never runs; {where.why}"
            where = Placement(where.offset, why)
        register = piece.new_voice_register()
    voices = [ev for v in piece.voices for ev in v.melody()]
    bpm = piece_bpm(doc, piece, where.offset)
    setting = (
        reading.setting(None) if reading is not None else setting_for(piece_lines(piece), None)
    )
    block = generate_block(
        model,
        options,
        voice=next_free_voice(view.text),
        document_events=voices or [ev for a in piece.arrays for ev in a.events()],
        document_bpm=bpm,
        style=piece.style,
        form=piece.form,
        register=register,
        setting=setting,
    )
    if form == "live_loop":  # the same melody as play/sleep lines in a live_loop
        loop = render_live_loop(
            next_loop_name(view.text),
            block.events,
            options.bpm or bpm,
            piece.style,
            default_duration=model.default_duration,
        )
        block = replace(block, text=loop)
    notes = len(block.events)
    if not keep_events:
        block = replace(block, events=[])
    return Melody(block, notes, where, form, moved=hidden is not None)


@dataclass(frozen=True)
class Continuation:
    edits: list[tuple[int, int, str]]
    events: list[Event]
    own: list[Event]
    name: str
    notes: int


def continuation_edits(
    view: DocumentView, array: NoteArray, events: list[Event], style: NoteStyle, numeric: bool
) -> list[tuple[int, int, str]]:
    """Insertions after the array's last element and after its durations' last value."""
    from .spelling import spell_note

    notes = [spell_note(ev.pitch, style, numeric) for ev in events]
    sep = style.joiner(", ")
    if array.notes:
        at = array.notes[-1].span.end
        note_text = sep + sep.join(notes)
    else:
        at = array.content_start
        note_text = sep.join(notes)
    out = [(at, at, note_text)]
    durations = array.durations
    if durations is not None and not durations.scalar:
        beats = [format_duration(ev.duration or 1.0, style.whole_float) for ev in events]
        if durations.values:
            d_at = durations.values[-1].span.end
            out.append((d_at, d_at, sep + sep.join(beats)))
        elif durations.open is not None:
            d_at = durations.open + 1
            out.append((d_at, d_at, sep.join(beats)))
    return out


def continued(view: DocumentView, position: tuple[int, int]) -> NoteArray | None:
    """What continueMelody at ``position`` continues: the run of ``play``/``sleep`` lines
    there (a :class:`PlayRun`), else the note array holding it;
    ``None`` in neither. Whole-file reading: off the event loop.

    Inside the elements of an array that is no run the cursor reads that array (as
    :func:`notegen.sonicpi.context_at` does): the document's statements are read for a run
    only elsewhere (a second reading of the whole text, ~0.4 s of a 4-note continuation in
    a 78 kB real piece)."""
    from . import play_lines

    offset = view.offset_at(*position)
    arrays = view.arrays()
    if not any(a.kind != "play" and a.content_start <= offset <= a.content_end for a in arrays):
        run = play_lines.run_at(view, *position)
        if run is not None:
            return run
    return view.array_at(offset)


def continuation(
    model: MelodyModel,
    view: DocumentView,
    position: tuple[int, int],
    options: GenerateOptions,
    count: int,
    max_context: int,
    cache: ContextCache | None,
    keep_events: bool,
    reading: Reading | None = None,
) -> Continuation | None:
    """continueMelody's edits: ``count`` notes after the array (or play/sleep lines) at
    ``position``; ``None`` when the position is in neither.

    ``reading``: the server's whole reading of this very text, if it has one: the voice's
    setting and the spelling style are taken from it (the same as read here, where the piece
    is read once more: ~0.15 s of a 4-note continuation in a 78 kB real piece)."""
    from . import play_lines

    array = continued(view, position)
    if array is None:
        return None
    if cache is None:  # in a child process: read the context as a cold server would
        cache = ContextCache(model)
    style = reading.style if reading is not None else infer_style(view.text)
    if isinstance(array, PlayRun):  # play/sleep lines: new lines after the run
        run = array
        made = play_lines.shifted_generate(
            model,
            play_lines.continue_history(
                view.arrays(), run, reading.play_voices if reading is not None else None
            ),
            count,
            **options.sampling(),
            max_context=max_context,
            cache=cache,
        )
        numeric = is_numeric_array(run.notes)
        at, new_text = play_lines.continuation_lines(view.text, run, made, style, numeric)
        found = Continuation([(at, at, new_text)], made, run.events(), run.name or "play", 0)
    else:
        arrays = view.arrays()
        own = array.events()
        history = voice_history(arrays, array, own)
        setting = None
        if array.kind == "voice" and array.voice is not None:
            if reading is not None:
                setting = reading.setting(array.voice)
            else:
                setting = setting_for(piece_lines(piece_of(view.text, arrays)), array.voice)
        made = generate_long(
            model,
            history,
            count,
            **options.sampling(),
            max_context=max_context,
            cache=cache,
            setting=setting,
        )
        numeric = sum(t.text.strip()[:1].isdigit() for t in array.notes) * 2 > len(array.notes)
        name = array.name or (f"a{array.voice}[{array.section}]" if array.voice else "notes")
        edits = continuation_edits(view, array, made, style, numeric)
        found = Continuation(edits, made, own, name, 0)
    found = replace(found, notes=len(found.events))
    if not keep_events:
        found = replace(found, events=[], own=[])
    return found
