"""``textDocument/completion`` inside note arrays: the likely next notes, then whole phrases.

A cheap syntax check (the reader on the lines around the cursor) decides first; outside a note
array nothing is offered and the model is never run. Inside, the model reads the context (the
voice's earlier sections, then the notes before the cursor; cached, so the next keystroke only
reads the new notes) and the items are the most likely next notes and rest, ranked by
probability, filtered by the partial token and spelled like the document. Two phrase items
offer whole continuations (4 notes and ``phraseLength`` notes) once the phrase is known: the
server answers with the notes at once and computes the phrase between requests
(:func:`complete`'s ``phrase_later``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from lsprotocol import types

from notegen.lsp.config import Settings
from notegen.melody import Event
from notegen.model.context_cache import Primed
from notegen.model.generate import (
    Candidate,
    generate_steps,
    next_note_candidates,
    next_note_ranking,
)
from notegen.model.network import MelodyModel
from notegen.notes import playable_hz
from notegen.sonicpi import format_duration

from .context import NoteContext
from .engine import Engine
from .spelling import spell_matching, spell_note

TRIGGER_CHARACTERS = ["[", ",", ":", " "]
AfterPhrase = Callable[[str, list[Event]], types.Command | None]
"""The command a phrase item runs once accepted, from its text and its notes."""
PHRASE_SEED = 0
"""Phrases are sampled with a fixed seed: the same context always offers the same phrase."""


@dataclass(frozen=True)
class Suggestion:
    """One ranked note suggestion, already spelled for the document."""

    text: str
    candidate: Candidate
    rank: int


_TRIADS = tuple(
    frozenset({(root + third) % 12, root % 12, (root + 7) % 12})
    for root in range(12)
    for third in (3, 4)
)


def chord_tones(chord: tuple[int | float | None, ...]) -> frozenset[int] | None:
    """Pitch classes that complete a major or minor triad holding every note of ``chord``
    (``None`` when the chord has no notes yet: anything may start it)."""
    classes = {round(p) % 12 for p in chord if p is not None}
    if not classes:
        return None
    return frozenset(pc for triad in _TRIADS if classes <= triad for pc in triad)


HABIT_WEIGHT = 0.2
HABIT_WINDOW = 128
"""Completion mixes the model with how often the voice played each pitch (and rest) in its
last ``HABIT_WINDOW`` events, at ``HABIT_WEIGHT``: a cache model, as language models use.
Measured through the real server (shipped model) on 800 positions of the rbnpi/seed voice
pieces: weight 0.1 / 0.2 gave top-1 64.6 / 64.4 %, top-3 83.1 / 83.9 %, rests 70.2 / 73.1 %
(the "most frequent so far" baseline: 70.2 %); in-process, weight 0 gave top-1 63.1 % and
rests 68.3 %: a voice that enters late rests for bars, and the network alone kept offering
notes."""


def recent_pitches(nc: NoteContext, window: int = HABIT_WINDOW) -> list[int | float | None]:
    """The voice's last ``window`` pitches (rests as ``None``) before the cursor."""
    out = [ev.pitch for ev in nc.before[-window:]]
    for section in reversed(nc.earlier):
        if len(out) >= window:
            break
        out = section.event_pitches()[-(window - len(out)) :] + out
    return out


def with_habits(
    candidates: list[Candidate], recent: Sequence[int | float | None], weight: float = HABIT_WEIGHT
) -> list[Candidate]:
    """``candidates`` re-weighted by the voice's recent pitch counts, most likely first."""
    if not recent or weight <= 0:
        return candidates
    counts: dict[int | float | None, int] = {}
    for pitch in recent:
        counts[pitch] = counts.get(pitch, 0) + 1
    total = len(recent)
    mixed = [  # (the constructor, not dataclasses.replace: ~90 candidates per completion)
        Candidate(
            c.pitch,
            (1 - weight) * c.probability + weight * counts.get(c.pitch, 0) / total,
            c.duration,
        )
        for c in candidates
    ]
    return sorted(mixed, key=lambda c: -c.probability)


def ranked_with_habits(
    model: MelodyModel, primed: Primed, recent: Sequence[int | float | None]
) -> Iterator[Candidate]:
    """``with_habits(next_note_candidates(model, primed, every pitch), recent)``, one
    candidate at a time: the same numbers in the same order, computed on arrays, and only as
    many candidates made as the caller takes (a completion takes ~14 of ~60; making them all,
    twice, cost ~0.1 ms)."""
    if not recent or HABIT_WEIGHT <= 0:
        yield from next_note_candidates(model, primed, len(model.pitch_vocab))
        return
    probs, order, duration = next_note_ranking(model, primed)
    counts = Counter(recent)
    pitches = [model.pitch_of(int(i)) for i in order.tolist()]
    seen = np.array([counts.get(p, 0) for p in pitches], np.float64)
    weight, total = HABIT_WEIGHT, len(recent)
    mixed = (1 - weight) * probs[order] + weight * seen / total  # (with_habits' arithmetic)
    for k in (-mixed).argsort(kind="stable").tolist():
        yield Candidate(pitches[k], float(mixed[k]), duration)


def rank_notes(engine: Engine, nc: NoteContext, limit: int) -> list[Suggestion]:
    """The ``limit`` most likely next notes that match the partial token, most likely first.

    In a note array the model's distribution is mixed with the voice's recent habits
    (:func:`with_habits`).
    Inside a chord only chord tones are offered: notes that make a major or minor triad with
    what the chord holds, above its lowest note (none when no triad fits).
    """
    model, cache = engine.model, engine.cache
    if model is None or cache is None:
        return []
    primed = nc.prime(cache)
    everything: Iterable[Candidate]
    if nc.local.ctx.slot == "array":  # (play/sleep runs rank in their own register)
        everything = ranked_with_habits(model, primed, recent_pitches(nc))
    else:
        everything = next_note_candidates(model, primed, len(model.pitch_vocab))
    partial = nc.partial
    ctx = nc.local.ctx
    tones = chord_tones(ctx.chord) if ctx.in_chord else None
    floor = min((p for p in ctx.chord if p is not None), default=None)
    out: list[Suggestion] = []
    for candidate in everything:
        if tones is not None and (
            candidate.pitch is None
            or candidate.pitch % 12 not in tones
            or candidate.pitch in ctx.chord
            or (floor is not None and candidate.pitch < floor)
        ):
            continue
        text = spell_matching(candidate.pitch, nc.style, partial, nc.numeric)
        if text is None:
            continue
        out.append(Suggestion(text, candidate, len(out)))
        if len(out) >= limit:
            break
    return out


PhraseJob = tuple[tuple, Callable[[], Generator[None, None, list[Event]]]]
"""A phrase's key for :meth:`Engine.remember` and its stepwise computation."""


def phrase(
    engine: Engine,
    nc: NoteContext,
    settings: Settings,
    length: int,
    extra: Sequence[Event] = (),
) -> list[Event]:
    """A sampled continuation of ``length`` events after the context (and ``extra`` events
    not typed yet); seeded, so it is stable for a given context. Phrase items and ghost text
    share it, and its cached result."""
    job = _phrase_job(engine, nc, settings, length, extra)
    return [] if job is None else engine.finish(*job)


def known_phrase(
    engine: Engine, nc: NoteContext, settings: Settings, length: int
) -> list[Event] | None:
    """:func:`phrase` if it is known already; else ``None``, and it is computed between the
    requests that follow (:meth:`Engine.later`): what a completion asks, which answers with
    its notes at once."""
    job = _phrase_job(engine, nc, settings, length)
    if job is None:
        return []
    known: list[Event] | None = engine.known(job[0])
    if known is None:
        engine.later(*job)
    return known


def _phrase_job(
    engine: Engine,
    nc: NoteContext,
    settings: Settings,
    length: int,
    extra: Sequence[Event] = (),
) -> PhraseJob | None:
    model, cache = engine.model, engine.cache
    if model is None or cache is None or length <= 0:
        return None
    ids, marks, setting = nc.context(cache, extra)
    start, kept = nc.read_plan(cache, ids, marks, setting)
    salt = setting.key() if setting is not None else b""
    key = (
        "phrase",
        ids.tobytes() + salt,
        start,
        length,
        settings.temperature,
        settings.topK,
        settings.topP,
    )

    def steps() -> Generator[None, None, list[Event]]:
        primed = cache.prime_ids(ids, kept, setting, network_from=start)  # (when it runs)
        return (
            yield from generate_steps(
                model,
                [],
                length,
                temperature=settings.temperature,
                top_k=settings.topK,
                top_p=settings.topP,
                seed=PHRASE_SEED,
                primed=primed,
                setting=setting,
            )
        )

    return key, steps


def beats(duration: float) -> str:
    """``1 beat``, ``0.5 beats``, ``2 beats``: a duration as the details read it."""
    text = format_duration(duration)
    return f"{text} beat" if text == "1" else f"{text} beats"


def _detail(candidate: Candidate) -> str:
    midi = "rest" if candidate.pitch is None else f"MIDI {candidate.pitch}"
    return f"{candidate.probability:.1%} · {midi} · {beats(candidate.duration)}"


def _documentation(candidate: Candidate) -> str:
    if candidate.pitch is None:
        return f"A rest; the model gives it {candidate.probability:.1%} here."
    hz = playable_hz(candidate.pitch)  # (None beyond Sonic Pi's notes: no 3,000-digit figure)
    heard = "" if hz is None else f" ({hz:.2f} Hz)"
    return (
        f"MIDI {candidate.pitch}{heard}. The model gives it {candidate.probability:.1%} "
        f"here and suggests {beats(candidate.duration)} for it."
    )


def build_items(
    nc: NoteContext,
    notes: list[Suggestion],
    phrases: list[list],
    edit_range: types.Range,
    then: AfterPhrase | None = None,
) -> list[types.CompletionItem]:
    """Completion items: notes (sortText by rank) then phrases, each a text edit; ``then``
    gives a phrase the command its acceptance runs (its durations into ``bN[k]``). Each
    text ends with ``nc.trail``, so an element after the cursor stays apart from it."""
    lead, trail = nc.lead, nc.trail
    items: list[types.CompletionItem] = []
    for s in notes:
        items.append(
            types.CompletionItem(
                label=s.text,
                kind=types.CompletionItemKind.Value,
                detail=_detail(s.candidate),
                documentation=_documentation(s.candidate),
                sort_text=f"{s.rank:04d}",
                filter_text=s.text,
                text_edit=types.TextEdit(range=edit_range, new_text=lead + s.text + trail),
                preselect=s.rank == 0,
            )
        )
    for events in phrases:
        if not events:
            continue
        spelled = [spell_note(ev.pitch, nc.style, nc.numeric) for ev in events]
        text = nc.style.joiner(", ").join(spelled)
        beats = ", ".join(format_duration(ev.duration) for ev in events)
        new_text = lead + text + trail + nc.closing(events)
        items.append(
            types.CompletionItem(
                label=text,
                kind=types.CompletionItemKind.Snippet,
                label_details=types.CompletionItemLabelDetails(
                    description=f"phrase · {len(events)} notes"
                ),
                detail=f"{len(events)}-note continuation · durations {beats}",
                sort_text=f"9{len(events):03d}",
                filter_text=text,
                text_edit=types.TextEdit(range=edit_range, new_text=new_text),
                command=None if then is None else then(new_text, events),
            )
        )
    return items


def over_written(nc: NoteContext, edit_range: types.Range) -> types.Range:
    """``edit_range`` reaching over the value written after it in a ``play``/``sleep`` slot
    (``nc.written``, on the same line): an item replaces it rather than glue to it."""
    if not nc.written:
        return edit_range
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in nc.written)  # (UTF-16, as LSP counts)
    end = types.Position(edit_range.end.line, edit_range.end.character + units)
    return types.Range(edit_range.start, end)


def complete(
    engine: Engine,
    nc: NoteContext,
    settings: Settings,
    edit_range: types.Range,
    then: AfterPhrase | None = None,
    *,
    phrase_later: bool = False,
) -> list:
    """All items for a cursor (runs on the inference thread).

    With ``phrase_later`` (the server) the phrase items come only once their phrase is
    known: a phrase is ~7 model steps with their experts, more than the rest of the answer
    (p50 4.8 of 8.1 ms on the 20,000-note benchmark piece, in process), so a completion that
    does not find it answers with the notes and the phrase is computed between the requests
    that follow (:func:`phrase`). The list is incomplete, so an editor asks again at the next
    keystroke there (``:``) and gets them; the ghost text, asked at the same keystroke, shows
    the same phrase and computes it if need be."""
    if nc.occupied:
        return []  # something is written after the cursor that no item can replace cleanly
    edit_range = over_written(nc, edit_range)
    if nc.local.ctx.slot != "array":
        from . import play_lines  # play/sleep statements

        return play_lines.complete(engine, nc, settings, edit_range)
    notes = rank_notes(engine, nc, settings.maxItems)
    phrases: list[list] = []
    # Phrases when nothing is typed yet, or only the ``:`` that starts every symbol (a trigger
    # character: VS Code asks right after it and filters by it).
    if nc.partial in ("", ":") and not nc.local.ctx.in_chord:
        length = max(settings.phraseLength, 4)
        longest = (
            known_phrase(engine, nc, settings, length)
            if phrase_later
            else phrase(engine, nc, settings, length)
        )
        if longest is not None:
            lengths = sorted({min(4, settings.phraseLength), settings.phraseLength})
            phrases = [longest[:n] for n in lengths]
    return build_items(nc, notes, phrases, edit_range, then)
