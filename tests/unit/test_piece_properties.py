"""Reading, continuing and re-reading any piece keeps every note array and its durations the
same length, in every voice form and layout."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from notegen.lsp.commands import continuation_edits
from notegen.lsp.documents import DocumentView
from notegen.melody import Event
from notegen.notes import infer_style
from notegen.sonicpi import read

NOTE = st.sampled_from([":C4", ":r", ":Bf3", ":fs5", "60", "[:C4,:E4]", ":Ef4", ":r"])
BEAT = st.sampled_from(["1", "0.5", "1.0", "2", "0.25", "1+Last", "q"])
SEP = st.sampled_from([",", ", "])
NEWLINE = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def pieces(draw) -> str:
    """A piece of 1–3 voices in one form, with equal note and duration counts."""
    form = draw(st.sampled_from(["indexed", "plain", "pattern"]))
    sep = draw(SEP)
    nl = draw(NEWLINE)
    lines = ["Last = 4", "q = 0.5", "use_bpm 96"]
    for voice in range(1, draw(st.integers(1, 3)) + 1):
        n = draw(st.integers(0, 6))
        notes = sep.join(draw(st.lists(NOTE, min_size=n, max_size=n)))
        beats = sep.join(draw(st.lists(BEAT, min_size=n, max_size=n)))
        if form == "indexed":
            lines += [f"a{voice}=[]", f"b{voice}=[]"]
            for section in range(draw(st.integers(1, 2))):
                lines += [f"a{voice}[{section}]=[{notes}]", f"b{voice}[{section}]=[{beats}]"]
        elif form == "plain":
            lines += [f"a{voice}=[{notes}]", f"b{voice}=[{beats}]"]
        else:
            lines += [f"play_pattern_timed [{notes}], [{beats}]"]
    if draw(st.booleans()):
        lines.insert(0, "# " + draw(st.sampled_from(["é", "🎵", "a1=[:c4,"])))
    return nl.join(lines) + nl


def paired(text: str) -> list[tuple[int, int]]:
    return [
        (len(a.notes), len(a.durations.values))
        for a in read(text)
        if a.durations is not None and not a.durations.scalar
    ]


def apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


@settings(max_examples=150, deadline=None)
@given(
    pieces(),
    st.data(),
    st.lists(
        st.tuples(st.sampled_from([None, 48, 60, 63, 70, 79]), st.sampled_from([0.5, 1.0, 2.0])),
        min_size=1,
        max_size=6,
    ),
)
def test_continuing_any_array_keeps_notes_and_durations_paired(text, data, made) -> None:
    before = paired(text)
    assert all(n == d for n, d in before), (text, before)
    arrays = [a for a in read(text) if a.durations is not None and not a.durations.scalar]
    if not arrays:
        return
    array = data.draw(st.sampled_from(arrays))
    events = [Event(p, d) for p, d in made]
    view = DocumentView("file:///t.rb", 1, text)
    after = apply(text, continuation_edits(view, array, events, infer_style(text), False))
    again = paired(after)
    assert all(n == d for n, d in again), (after, again)
    assert sum(n for n, _ in again) == sum(n for n, _ in before) + len(events)
