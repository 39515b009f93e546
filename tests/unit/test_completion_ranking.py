"""Completion logic without the protocol: a document, a cursor, the expected items."""

from __future__ import annotations

import numpy as np
import pytest
from lsprotocol import types
from notegen.lsp import completion
from notegen.lsp.completion import HABIT_WEIGHT
from notegen.lsp.config import Settings
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.reading import Reading
from notegen.lsp.spelling import spell_matching
from notegen.model.sampling import softmax
from notegen.notes import NoteStyle, infer_style

DOC = """\
a1=[]
b1=[]
a1[0]=[:C4,:Ef4,:G4,:r]
b1[0]=[1,0.5,0.5,2]
a1[1]=[:G4,:F4,:Ef4]
b1[1]=[1,1,1]
play 60
"""


def items_at(engine, text, line, character, settings=None, reading=True):
    settings = settings or Settings()
    view = DocumentView("file:///t.rb", 1, text)
    read = Reading(1, view.arrays(), infer_style(text)) if reading else None
    nc = note_context(view, line, character, read, settings.maxContext)
    if nc is None:
        return None, None
    where = types.Range(types.Position(line, character), types.Position(line, character))
    return nc, completion.complete(engine, nc, settings, where)


def test_nothing_outside_note_arrays(engine):
    for line, character in [(0, 3), (3, 9), (6, 2)]:  # (6, 2): inside the word `play`
        assert items_at(engine, DOC, line, character) == (None, None)


def test_items_are_the_models_ranking_of_the_next_note(engine):
    line = 4
    nc, items = items_at(engine, DOC, line, DOC.splitlines()[line].rindex("]"))
    # context: section 0 of voice 1 (with durations), then this array's notes
    assert [ev.pitch for ev in nc.history] == [60, 63, 67, None, 67, 65, 63]
    assert [ev.duration for ev in nc.history][:4] == [1.0, 0.5, 0.5, 2.0]
    model = engine.model
    logits = model.run(nc.history)[0][-1]
    probs = softmax(logits)
    probs[0] = 0
    # the model mixed with the voice's habits: how often each pitch came in its history
    habits = np.zeros_like(probs)
    for ev in nc.history:
        habits[model.pitch_vocab.index("rest" if ev.pitch is None else ev.pitch)] += 1
    probs = (1 - HABIT_WEIGHT) * probs + HABIT_WEIGHT * habits / len(nc.history)
    expected = [model.pitch_of(int(i)) for i in np.argsort(-probs, kind="stable")[:12]]
    notes = [i for i in items if i.kind == types.CompletionItemKind.Value]
    assert len(notes) == 12
    got = [None if i.label == ":r" else i.detail.split("MIDI ")[1].split(" ")[0] for i in notes]
    assert got == [None if p is None else str(p) for p in expected]
    assert [i.sort_text for i in notes] == sorted(i.sort_text for i in notes)
    # after :Ef4 a comma, written as this file writes them (no space)
    assert all(i.text_edit.new_text == "," + i.label for i in notes)


def test_spelled_in_the_documents_style(engine):
    _, items = items_at(engine, DOC, 4, DOC.splitlines()[4].rindex("]"))
    labels = [i.label for i in items if i.kind == types.CompletionItemKind.Value]
    assert not any(label.startswith((":Cs", ":Ds", ":Fs", ":Gs", ":As")) for label in labels)


def test_partial_token_filters_case_insensitively(engine):
    text = "a1[0]=[:C4, :e"
    _, items = items_at(engine, text, 0, len(text), reading=False)
    labels = [i.label for i in items]
    assert labels and all(label.lower().startswith(":e") for label in labels)
    assert all(i.text_edit.new_text == i.label for i in items)  # replaces ":e", no comma
    text = "a1[0]=[:c4, Eb"
    _, items = items_at(engine, text, 0, len(text), reading=False)
    assert items and all(i.label.lower().startswith(":eb") for i in items)


def test_phrase_items_of_4_and_phrase_length(engine):
    text = "a1[0]=[:C4, :D4, "
    _, items = items_at(engine, text, 0, len(text), Settings(phraseLength=6), reading=False)
    phrases = [i for i in items if i.kind == types.CompletionItemKind.Snippet]
    assert [len(p.label.split(", ")) for p in phrases] == [4, 6]
    assert phrases[1].label.startswith(phrases[0].label)
    assert not phrases[0].text_edit.new_text.startswith(",")  # a space after the comma


def test_phrases_are_still_offered_right_after_the_colon_that_starts_a_symbol(engine):
    text = "a1[0]=[:C4, :D4, :"
    _, items = items_at(engine, text, 0, len(text), Settings(phraseLength=8), reading=False)
    phrases = [i for i in items if i.kind == types.CompletionItemKind.Snippet]
    assert [len(p.label.split(", ")) for p in phrases] == [4, 8]
    assert all(p.filter_text.startswith(":") for p in phrases)  # VS Code keeps them after ":"


def test_numeric_arrays_get_numbers(engine):
    text = "play_pattern_timed [60, 62, 64, ], [0.5]"
    _, items = items_at(engine, text, 0, text.index("]"), reading=False)
    notes = [i.label for i in items if i.kind == types.CompletionItemKind.Value]
    assert all(label.isdigit() or label == ":r" for label in notes)


@pytest.mark.parametrize(
    ("midi", "partial", "expected"),
    [
        (63, ":E", ":Ef4"),
        (63, ":eb", ":Eb4"),
        (63, "Ds", ":Ds4"),
        (61, ":c", ":Cs4"),
        (61, ":d", ":Df4"),
        (None, ":re", ":rest"),
        (60, ":d", None),
        (62, "6", "62"),
    ],
)
def test_spell_matching(midi, partial, expected):
    style = NoteStyle(accidental="flat", flat_letter="f")
    assert spell_matching(midi, style, partial) == expected


def test_a_voice_that_rests_for_bars_is_offered_its_rest():
    from notegen.model.generate import Candidate

    model_only = [Candidate(60, 0.35, 1.0), Candidate(62, 0.35, 1.0), Candidate(None, 0.3, 4.0)]
    ranked = completion.with_habits(model_only, [None] * 6 + [60, 62])
    assert [c.pitch for c in ranked] == [None, 60, 62]
    assert completion.with_habits(model_only, []) == model_only


def test_candidates_ranked_one_at_a_time_are_the_habit_ranking(engine):
    """Completion takes its candidates one at a time (``ranked_with_habits``): the same
    candidates, probabilities and order as mixing the model's whole ranking with the voice's
    habits (``with_habits``), for random distributions, ties, rests, repeated and microtonal
    recent pitches, and no history at all."""
    from notegen.model.context_cache import Primed
    from notegen.model.generate import next_note_candidates

    model = engine.model
    rng = np.random.default_rng(6)
    for case in range(200):
        logits = rng.normal(0, 3, len(model.pitch_vocab))
        if case % 4 == 0:
            logits[5:9] = logits[4]  # ties: the stable order decides
        primed = Primed(None, logits, rng.normal(0, 2, len(model.duration_vocab)), 0)
        notes = [None, 60, 62, 64.5, *(model.pitch_of(i) for i in range(2, 8))]
        recent = [notes[i] for i in rng.integers(0, len(notes), int(rng.integers(0, 40)))]
        whole = next_note_candidates(model, primed, len(model.pitch_vocab))
        expected = completion.with_habits(whole, recent)
        assert list(completion.ranked_with_habits(model, primed, recent)) == expected
