"""How much model work a completion costs once the server has read the file.

After a whole-file reading the server primes the state at the start of every section
(batching independent voices as rows of one model call). A completion then reads only the
notes before the cursor in its own array; asked again in the same place it reads nothing,
and the phrase items are only sampled once per context. Counted in model calls, not time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lsprotocol import types
from notegen.lsp import completion, warm_up
from notegen.lsp.config import Settings
from notegen.lsp.context import STOP_EVERY, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.engine import Engine
from notegen.lsp.reading import Reading
from notegen.lsp.warm_up import warm_sections, warm_stride
from notegen.melody import Event
from notegen.model.context_cache import ContextCache
from notegen.notes import infer_style


def melody(n: int, shift: int) -> list[Event]:
    return [Event(55 + (i * 5 + shift) % 17, (0.5, 1.0, 0.25)[i % 3]) for i in range(n)]


def step_shapes(monkeypatch: pytest.MonkeyPatch, model: Any) -> list[tuple[int, ...]]:
    """The ``[rows, events]`` shape of every model call from now on."""
    calls: list[tuple[int, ...]] = []
    original = model.step
    monkeypatch.setattr(
        model, "step", lambda *a, **k: calls.append(np.shape(a[0])) or original(*a, **k)
    )
    return calls


def test_batched_priming_matches_priming_one_context_at_a_time(model, monkeypatch):
    contexts = [melody(30, 0), melody(7, 3), melody(41, 9), melody(30, 1)]
    one = ContextCache(model)
    expected = [one.prime(ctx, checkpoints=[5]) for ctx in contexts]

    many = ContextCache(model)
    calls = step_shapes(monkeypatch, model)
    got = many.prime_many([(many.ids(ctx), [5]) for ctx in contexts])

    assert [p.length for p in got] == [len(ctx) for ctx in contexts]
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_allclose(have.pitch_logits, want.pitch_logits, atol=1e-5)
        np.testing.assert_allclose(have.dur_logits, want.dur_logits, atol=1e-5)
        np.testing.assert_allclose(have.state[0], want.state[0], atol=1e-5)
    # Every context's checkpoint and end are cached, read in a few calls with all rows.
    assert all(many.cached(many.ids(ctx)) and many.cached(many.ids(ctx[:5])) for ctx in contexts)
    # Stretches of common length: 0-5 (all four), 5-7, 7-30 (three left), 30-41 (one).
    assert calls == [(4, 5), (4, 2), (3, 23), (1, 11)]


def test_notes_scored_after_a_context_together_get_each_context_s_own_next_pitches(
    model, monkeypatch
):
    # ten candidate notes after one context: one model call for all of them, and each row's
    # served next-pitch distribution is the one that context primed alone is served
    cache = ContextCache(model)
    ctx = melody(30, 4)
    candidates = [Event(p, 0.5) for p in (60, 62, 64, 65, 67, 69, 71, 72, 55, None)]
    ids = cache.ids(ctx)
    cache.prime_ids(ids)
    calls = step_shapes(monkeypatch, model)
    got = cache.pitches_after_each(ids, cache.ids(candidates))
    assert calls == [(10,)]  # (the context's state was cached: no read)
    alone = ContextCache(model)
    for row, candidate in zip(got, candidates, strict=True):
        want = alone.prime([*ctx, candidate]).pitch_logits
        np.testing.assert_allclose(row, want, atol=1e-5)
    assert not np.allclose(got[0], got[1])  # (the candidates lead on differently)


def test_notes_scored_together_hear_the_other_voices_as_each_alone_does(tmp_path):
    # a model that hears other voices: each candidate (of its own duration) is read with the
    # conditioning row its step has, and served as its context primed alone is
    from fixtures.tiny_model import build_tiny_model
    from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
    from notegen.model.network import MelodyModel

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    heard = MelodyModel.load(card)
    bass = VoiceTimes.of([Event(p, 1.0) for p in [48, 43, 45, 41] * 8])
    setting = Setting(others=(bass,))
    cache = ContextCache(heard)
    ctx = melody(20, 6)
    candidates = [Event(60, 0.5), Event(64, 1.0), Event(67, 0.5), Event(None, 2.0)]
    got = cache.pitches_after_each(cache.ids(ctx), cache.ids(candidates), setting)
    alone = ContextCache(heard)
    for row, candidate in zip(got, candidates, strict=True):
        want = alone.prime_ids(alone.ids([*ctx, candidate]), (), setting).pitch_logits
        np.testing.assert_allclose(row, want, atol=1e-5)


def test_batched_priming_starts_from_the_cached_prefix(model, monkeypatch):
    cache = ContextCache(model)
    ctx = melody(40, 2)
    cache.prime(ctx[:30])
    calls = step_shapes(monkeypatch, model)
    (primed,) = cache.prime_many([(cache.ids(ctx), [])])
    assert calls == [(1, 10)] and primed.length == 40


def counted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """A one-item list counting the calls of ``owner.name`` from now on."""
    count = [0]
    original = getattr(owner, name)

    def counting(*a: Any, **k: Any) -> Any:
        count[0] += 1
        return original(*a, **k)

    monkeypatch.setattr(owner, name, counting)
    return count


def test_background_priming_stops_after_every_short_call(model, monkeypatch):
    cache = ContextCache(model)
    contexts = [melody(70, 0), melody(45, 4)]
    calls = step_shapes(monkeypatch, model)
    served = counted(monkeypatch, cache, "served")
    steps = cache.prime_steps([(cache.ids(ctx), []) for ctx in contexts], max_span=16)
    before = (0, 0)
    work = []
    for _ in steps:  # one context's lookup, one model call or one context's experts a step
        work.append(len(calls) + served[0] - sum(before))
        before = (len(calls), served[0])
    assert work[:2] == [0, 0]  # the two lookups (no model call: nothing cached, no setting)
    assert all(done == 1 for done in work[2:])  # then never two calls in one step
    assert all(shape[1] <= 16 for shape in calls)
    assert served[0] == 2
    assert [cache.cached(cache.ids(ctx)) for ctx in contexts] == [True, True]


def test_contexts_that_end_together_are_served_one_per_step(model, monkeypatch):
    # a warm-up round's rows often end at the same call: each row's experts (~1 ms) is a
    # step of its own, so a completion waits for one of them at most
    cache = ContextCache(model)
    contexts = [melody(24, shift) for shift in range(6)]
    served = counted(monkeypatch, cache, "served")
    seen = []
    for _ in cache.prime_steps([(cache.ids(ctx), []) for ctx in contexts], max_span=8):
        seen.append(served[0])
    assert served[0] == 6
    assert all(b - a <= 1 for a, b in zip([0, *seen], seen, strict=False))


def test_the_int8_graph_is_read_a_few_rows_between_two_yields(monkeypatch):
    # the shipped graph reads each row in a call of its own anyway: a round of 10 contexts is
    # read ROWS_PER_YIELD rows at a time, and each comes out as it does read alone
    from notegen.model import context_cache
    from notegen.model.network import MelodyModel

    shipped = MelodyModel.load(Path(__file__).resolve().parents[2] / "models" / "notegen.json")
    assert shipped.quantized
    contexts = [melody(20, shift) for shift in range(10)]
    cache = ContextCache(shipped)
    calls = step_shapes(monkeypatch, shipped)
    primed = cache.prime_many([(cache.ids(ctx), []) for ctx in contexts])
    assert max(rows for rows, _events in calls) == context_cache.ROWS_PER_YIELD == 4
    assert sum(rows for rows, _events in calls) == 10
    monkeypatch.undo()
    for ctx, got in zip(contexts, primed, strict=True):
        alone = ContextCache(shipped).prime(ctx)
        assert np.array_equal(got.pitch_logits, alone.pitch_logits)
        assert np.array_equal(got.dur_logits, alone.dur_logits)


DOC = "\n".join(
    [f"a{v}=[]" for v in (1, 2, 3)]
    + [
        f"a{v}[{k}]=[" + ",".join([":C4", ":E4", ":G4", ":A4", ":F4", ":D4"][(v + k) % 3 :]) + "]"
        for v in (1, 2, 3)
        for k in range(4)
    ]
)


@pytest.fixture
def engine(tiny):
    e = Engine()
    e.load(tiny[0]).result()
    assert e.model is not None, e.error
    return e


def test_a_completion_in_a_warmed_file_reads_only_its_own_array(engine, monkeypatch):
    view = DocumentView("file:///w.rb", 1, DOC)
    reading = Reading(1, view.arrays(), infer_style(DOC))
    sections = [reading.voices[v][k] for v in (1, 2, 3) for k in range(4)]
    for k in range(4):  # what the server's warm-up does: one section of every voice per round
        for _call in warm_sections(reading, sections[k::4], engine.cache, 256):
            pass  # the server lets other requests run here, between model calls

    calls = step_shapes(monkeypatch, engine.model)
    line = DOC.splitlines().index(next(t for t in DOC.splitlines() if t.startswith("a2[3]=")))
    character = DOC.splitlines()[line].index(",")  # after the first note of the last section
    settings = Settings(phraseLength=8)
    where = types.Range(types.Position(line, character), types.Position(line, character))

    nc = note_context(view, line, character, reading, settings.maxContext)
    items = completion.complete(engine, nc, settings, where)
    assert any(item.kind == types.CompletionItemKind.Snippet for item in items)
    # The three earlier sections are cached: one call reads this array's note, then the
    # phrase costs one step per note after its first.
    assert calls[0] == (1, 1) and len(calls) == 1 + (8 - 1)

    calls.clear()
    again = completion.complete(engine, nc, settings, where)
    assert calls == [] and [i.label for i in again] == [i.label for i in items]


NOTES = [":C4", ":E4", ":G4", ":A4", ":F4", ":D4", ":B3", ":r"]
LONG = "\n".join(
    ["a1=[]"]
    + [f"a1[{k}]=[" + ",".join(NOTES[(i * 3 + k) % 8] for i in range(100)) + "]" for k in range(3)]
)


def warmed_long(engine: Engine, max_context: int, stride: int) -> tuple[DocumentView, Reading]:
    """:data:`LONG` read, and warmed up as the server does (one section per round)."""
    view = DocumentView("file:///long.rb", 1, LONG)
    reading = Reading(1, view.arrays(), infer_style(LONG))
    for k in range(3):
        for _call in warm_sections(
            reading, [reading.voices[1][k]], engine.cache, max_context, stride
        ):
            pass
    return view, reading


def test_a_new_cursor_late_in_a_long_array_of_a_warmed_file_reads_from_the_stop_before_it(
    engine, tiny, monkeypatch
):
    """Lines of 100 notes: the warm-up keeps the state every 32 notes of each array too, so
    a cursor after note 70 of a line nobody completed in yet reads 6 notes, not 70, and is
    offered what a server that never warmed up offers there."""
    view, reading = warmed_long(engine, 256, 32)
    assert warm_stride(reading, 256) == (STOP_EVERY, 3 * 3)
    calls = step_shapes(monkeypatch, engine.model)
    line = 2  # a1[1]
    text = LONG.splitlines()[line]
    character = [i for i, ch in enumerate(text) if ch == ","][69] + 1  # after its 70th note
    settings = Settings(phraseLength=1)
    where = types.Range(types.Position(line, character), types.Position(line, character))
    nc = note_context(view, line, character, reading, settings.maxContext)
    assert len(nc.before) == 70
    items = completion.complete(engine, nc, settings, where)
    assert calls[0] == (1, 70 - 64)

    cold = Engine()
    cold.load(tiny[0]).result()
    fresh = note_context(view, line, character, reading, settings.maxContext)
    assert [i.label for i in completion.complete(cold, fresh, settings, where)] == [
        i.label for i in items
    ]


def test_the_warm_up_keeps_no_stops_in_an_array_longer_than_half_the_window(engine, monkeypatch):
    engine.cache.clear()
    view, reading = warmed_long(engine, 198, 32)
    calls = step_shapes(monkeypatch, engine.model)
    text = LONG.splitlines()[2]
    character = [i for i, ch in enumerate(text) if ch == ","][69] + 1  # after its 70th note
    nc = note_context(view, 2, character, reading, 198)
    nc.prime(engine.cache)
    assert calls[0] == (1, 32)  # from the array's start to its first stop: none was kept


def test_the_warm_up_keeps_stops_every_32_notes_or_a_multiple_within_its_budget(monkeypatch):
    view = DocumentView("file:///long.rb", 1, LONG)
    reading = Reading(1, view.arrays(), infer_style(LONG))
    monkeypatch.setattr(warm_up, "WARM_STOPS", 3)
    assert warm_stride(reading, 256) == (64, 3)  # one stop per 100-note array
    monkeypatch.setattr(warm_up, "WARM_STOPS", 2)
    assert warm_stride(reading, 256) == (0, 0)  # none past half the window (128)
    short = DocumentView("file:///short.rb", 1, DOC)
    assert warm_stride(Reading(1, short.arrays(), infer_style(DOC)), 256) == (0, 0)
    # arrays longer than half the window: the cursors' windows start inside them, no stops
    monkeypatch.setattr(warm_up, "WARM_STOPS", 4096)
    assert warm_stride(reading, 198) == (0, 0) and warm_stride(reading, 200) == (32, 9)


def test_priming_starts_from_the_longest_state_kept_and_serves_one_kept_on_the_way(
    model, monkeypatch
):
    """Kept: the state after 5 notes (a section start) and after 18 (a cursor). Priming 20
    notes reads the last 2, not 15; a state passed on the way by a batched priming is
    served, when a cursor stops there, as a fresh cache serves it."""
    ctx = melody(20, 4)
    cache = ContextCache(model)
    cache.prime_many([(cache.ids(ctx[:18]), [5])])
    calls = step_shapes(monkeypatch, model)
    cache.prime_ids(cache.ids(ctx), [5])
    assert calls == [(1, 2)]

    calls.clear()
    at_five = cache.prime(ctx[:5])
    assert calls == []
    want = ContextCache(model).prime(ctx[:5])
    np.testing.assert_allclose(at_five.pitch_logits, want.pitch_logits, atol=1e-6)
    np.testing.assert_allclose(at_five.dur_logits, want.dur_logits, atol=1e-6)


def test_a_new_reading_keeps_the_states_its_changes_do_not_reach(tmp_path, monkeypatch):
    """A voice heard against another: after a new reading of the piece in which the other
    voice changed a note only once this voice's context has ended, the context's state is
    still cached (no model call) and is the one a fresh read gives; a change while the
    context still sounds makes the model read it again."""
    from fixtures.tiny_model import build_tiny_model
    from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
    from notegen.model.network import MelodyModel

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    model = MelodyModel.load(card)
    own, other = melody(12, 0), melody(40, 5)  # own: 7 beats; the other voice: 23.3 beats

    def heard(changed_at: int) -> Setting:
        notes = list(other)
        notes[changed_at] = Event(notes[changed_at].pitch + 1, notes[changed_at].duration)
        return Setting(others=(VoiceTimes.of(notes),))

    cache = ContextCache(model)
    ids = cache.ids(own)
    cache.prime_ids(ids, [4], heard(changed_at=39))
    calls = step_shapes(monkeypatch, model)

    later = heard(changed_at=30)  # the other voice's 31st note starts after 17 beats
    kept = cache.prime_ids(ids, [4], later)
    assert calls == []
    fresh = ContextCache(model).prime_ids(ids, [4], later)
    np.testing.assert_allclose(kept.pitch_logits, fresh.pitch_logits, atol=1e-6)
    np.testing.assert_allclose(kept.state[0], fresh.state[0], atol=1e-6)

    calls.clear()
    cache.prime_ids(ids, [4], heard(changed_at=10))  # sounds at beat 5.8, inside the context
    assert calls  # read again (from the state at the checkpoint, unchanged before it)


def test_a_step_reads_the_rows_its_keys_were_made_of(tmp_path, monkeypatch):
    """The conditioning rows made for a context's keys serve the model's steps over it (no
    second making), and are the rows a step makes for itself: row ``s`` reads the durations
    before event ``s`` only."""
    from fixtures.tiny_model import build_tiny_model
    from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
    from notegen.model.network import MelodyModel

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    model = MelodyModel.load(card)
    setting = Setting(others=(VoiceTimes.of(melody(40, 5)),)).later(1.5)
    cache = ContextCache(model)
    ids = cache.ids(melody(50, 0))
    rows = cache._rows(ids, 50, setting)
    condition = model.condition
    made: list[int] = []
    monkeypatch.setattr(model, "condition", lambda *a: made.append(1) or condition(*a))
    for done, span in ((0, 50), (17, 33), (31, 1), (49, 1)):
        kept = cache._cond(ids, done, span, setting)[0]
        assert made == []
        np.testing.assert_array_equal(kept, rows[done + 1 : done + span + 1])
        own = condition(ids[: done + span] % cache.vd, done + 1, span, setting)
        np.testing.assert_array_equal(kept, own)  # what the step made itself before

    primed = ContextCache(model).prime_ids(ids, [20], setting)
    unkept = ContextCache(model)  # its keys' rows never kept: every step makes its own
    monkeypatch.setattr(unkept, "_rows", lambda ids, top, setting: rows[: top + 1])
    np.testing.assert_array_equal(
        primed.pitch_logits, unkept.prime_ids(ids, [20], setting).pitch_logits
    )


def test_a_cursor_jumping_around_one_version_is_hidden_where_a_fresh_search_says() -> None:
    """A version remembers how far its text is plain code: cursors in any order (lines of
    ``=begin`` blocks, heredocs, shifts, plain arrays, needles split across earlier cursors)
    are in a comment or heredoc exactly where searching the text from its start says."""
    from notegen.lsp.documents import hidden_above, line_starts

    pieces = [
        "a1=[:c4,:e4]\n",
        "x = y << 2\n",
        "=begin\nnotes [:c4]\n=end\n",
        "s = <<~EOS\n  [:c4, :d4]\nEOS\n",
        "b1=[1,0.5]\n",
        "# a <<COMMENT\n",
        "play 60; sleep 1\n",
    ]
    rng = np.random.default_rng(3)
    for _case in range(200):
        text = "".join(pieces[i] for i in rng.integers(0, len(pieces), int(rng.integers(1, 12))))
        view = DocumentView("file:///x.rb", 1, text)
        starts = line_starts(text)
        for line in rng.integers(0, len(starts), 2 * len(starts)).tolist():
            assert view.hidden(starts[line]) == hidden_above(text, starts[line])


def test_the_lines_that_open_and_close_a_comment_block_are_found_where_the_patterns_say() -> None:
    """``=begin``/``=end`` lines are found by a literal search of the line break before them
    (the line-anchored patterns tried every character: ~20 ms above a cursor in 4.8 MB): the
    first and the last in any stretch are where those patterns find them, for texts of such
    words, look-alikes (``=beginx``, `` =begin``), line ends of every kind and stretch ends."""
    import re

    from notegen.lsp.documents import _word_line

    # (the patterns hidden_above searched with, \r being a Windows line's end)
    begin_line = re.compile(r"^=begin(?=[ \t\r\n]|$)", re.MULTILINE)
    end_line = re.compile(r"^=end(?=[ \t\r\n]|$)", re.MULTILINE)

    pieces = ["=begin", "=end", "=beginx", "=end ", "=begin\t", " =begin", "\n", "\r", "\r\n"]
    pieces += ["x", "=en", "begin"]
    rng = np.random.default_rng(8)
    for _case in range(20_000):
        text = "".join(pieces[i] for i in rng.integers(0, len(pieces), int(rng.integers(0, 12))))
        lo = int(rng.integers(0, len(text) + 1))
        hi = int(rng.integers(lo, len(text) + 1))
        for word, pattern in (("=begin", begin_line), ("=end", end_line)):
            found = [m.start() for m in pattern.finditer(text, lo, hi)] or [-1]
            assert _word_line(text, word, lo, hi) == found[0], (text, lo, hi)
            assert _word_line(text, word, lo, hi, last=True) == found[-1], (text, lo, hi)


def test_only_a_whole_needle_inside_the_range_may_hide_the_lines_after_it() -> None:
    """``may_hide``: a ``<<`` or an ``=begin`` wholly inside ``text[start:end]``."""
    from notegen.lsp.documents import may_hide

    text = "a = 1 << 2\n=begin\nx\n=end\nb < c\n"
    heredoc, block = text.index("<<"), text.index("=begin")
    assert may_hide(text, 0, len(text))
    assert may_hide(text, heredoc, heredoc + 2) and not may_hide(text, heredoc, heredoc + 1)
    assert not may_hide(text, heredoc + 1, block + 5)  # (half of each)
    assert may_hide(text, block, block + 6) and not may_hide(text, block + 1, len(text))
    assert not may_hide("b < c\n== begin\n<\n<", 0, 20)


def test_versions_made_by_edits_are_hidden_where_a_fresh_search_says() -> None:
    """Each version starts from how far the one it was spliced from is plain code, up to the
    edit: edits that open or close ``=begin`` blocks and heredocs above, at or below the
    cursors asked before leave every cursor hidden exactly where a fresh search says."""
    from types import SimpleNamespace

    from lsprotocol import types
    from notegen.lsp.documents import hidden_above, line_starts
    from notegen.lsp.protocol import _splice

    inserts = ["=begin\n", "=end\n", "s = <<~EOS\n", "EOS\n", "a1=[:c4,:e4]\n", "x", "<"]
    rng = np.random.default_rng(5)
    for _case in range(40):
        text = "a1=[:c4,:e4]\nb1=[1,0.5]\n" * int(rng.integers(1, 8))
        for _edit in range(12):
            view = DocumentView("file:///x.rb", 1, text)
            starts = line_starts(text)
            for line in rng.integers(0, len(starts), 3).tolist():
                assert view.hidden(starts[line]) == hidden_above(text, starts[line])
            at = types.Position(line=int(rng.integers(0, len(starts))), character=0)
            insert = inserts[int(rng.integers(0, len(inserts)))]
            doc = SimpleNamespace(source=text, _source=text)
            assert _splice(doc, types.TextDocumentContentChangePartial(types.Range(at, at), insert))
            text = doc._source


def test_a_cleared_cache_lets_the_voices_it_heard_go(tmp_path):
    """The server clears the cache when the last document closes: the voices of the piece it
    last completed in (and what the experts memoised for them) must go with it."""
    import gc
    import weakref

    from fixtures.tiny_model import build_tiny_model
    from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
    from notegen.model.network import MelodyModel

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    cache = ContextCache(MelodyModel.load(card))
    other = VoiceTimes.of(melody(40, 5))
    gone = weakref.ref(other)
    ids = cache.ids(melody(12, 0))
    cache.prime_ids(ids, [4], Setting(others=(other,)))
    cache.prime_ids(ids, [4], Setting(others=(other,)))  # a hit: the experts redone
    del other
    gc.collect()
    assert gone() is not None  # still the cache's last setting
    cache.clear()
    gc.collect()
    assert gone() is None


def test_completion_and_ghost_text_at_one_cursor_of_one_version_read_its_array_once(
    monkeypatch,
) -> None:
    """An editor asks at each keystroke for completion and for ghost text at the same
    cursor: the second gets the first's context. Another cursor, another version of the
    text or another reading of the file is read afresh."""
    text = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4,:E4,:D4]\nb1[0]=[1,0.5,0.5,1,1]\n"
    reads: list[int] = []
    local_context = DocumentView.local_context

    def spy(self, line, character, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(line)
        return local_context(self, line, character, *args, **kwargs)

    monkeypatch.setattr(DocumentView, "local_context", spy)
    view = DocumentView("file:///a.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    first = note_context(view, 2, 15, reading, 256)
    assert first is not None and note_context(view, 2, 15, reading, 256) is first
    assert reads == [2]
    assert note_context(view, 2, 11, reading, 256) is not first  # another cursor
    again = note_context(view, 2, 15, reading, 256)
    assert again is not first and again.before == first.before
    newer = Reading(2, view.arrays(), infer_style(text))
    fresh = note_context(view, 2, 15, newer, 256)
    assert fresh is not again and fresh.reading is newer
    edited = DocumentView("file:///a.rb", 2, text.replace(":C4,:E4", ":C4,:F4"))
    assert note_context(edited, 2, 15, newer, 256).before != fresh.before  # type: ignore[union-attr]
    assert reads == [2, 2, 2, 2, 2]
    view.forget_cursor()
    assert note_context(view, 2, 15, newer, 256) is not fresh and len(reads) == 6


def typed(notes: int, at: int, more: int) -> tuple[DocumentView, int, int]:
    """:data:`LONG` with ``more`` notes typed after note ``at`` of its last line, and the
    cursor after them."""
    lines = LONG.splitlines()
    commas = [i for i, ch in enumerate(lines[3]) if ch == ","]
    cut = commas[at - 1] + 1
    lines[3] = lines[3][:cut] + ":C5," * more + lines[3][cut:]
    return DocumentView("file:///long.rb", 2, "\n".join(lines)), 3, cut + 4 * more


def test_the_move_of_the_window_s_start_a_few_notes_ahead_is_found(engine):
    """Sections of 100 notes, a window of 256: its start moves from 0 to the last section's
    start once that section holds 57 notes."""
    view, reading = warmed_long(engine, 256, 32)
    for at, expected in ((50, 200), (41, 200), (40, None), (30, None)):
        view, line, character = typed(100, at, 0)
        nc = note_context(view, line, character, reading, 256)
        found = nc.ahead(engine.cache, 16)
        if expected is None:
            assert found is None, at
            continue
        assert found is not None and found[0] == expected
        ids, marks, _ = found[1]
        assert len(ids) == at and marks == [32]  # this array's notes, its stop every 32


def test_a_keystroke_that_moves_the_window_s_start_reads_a_few_notes_once_read_ahead(
    engine, tiny, monkeypatch
):
    engine.cache.clear()
    view, reading = warmed_long(engine, 256, 32)
    view, line, character = typed(100, 50, 0)
    nc = note_context(view, line, character, reading, 256)
    found = nc.ahead(engine.cache, 16)
    assert found is not None
    for _call in engine.cache.prime_steps([found[1]], warm_up.WARM_SPAN):
        pass  # (the server's trips between requests)

    after, line, character = typed(100, 50, 8)  # eight keystrokes later
    settings = Settings(phraseLength=1)
    where = types.Range(types.Position(line, character), types.Position(line, character))
    calls = step_shapes(monkeypatch, engine.model)
    nc = note_context(after, line, character, reading, 256)
    assert nc.context(engine.cache)[0].size == 58  # the window starts at this array now
    items = completion.complete(engine, nc, settings, where)
    assert calls[0] == (1, 8)  # from the cursor's state read ahead, not 58 notes

    cold = Engine()
    cold.load(tiny[0]).result()
    cold_calls = step_shapes(monkeypatch, cold.model)
    fresh = note_context(after, line, character, reading, 256)
    labels = [i.label for i in completion.complete(cold, fresh, settings, where)]
    assert labels == [i.label for i in items]
    assert cold_calls[:2] == [(1, 32), (1, 26)]  # (without it: the whole array)


def test_a_setting_s_start_is_kept_as_the_network_left_it_and_served_when_asked(
    tmp_path, monkeypatch
):
    # the warm-up keeps each section's start (<bos> in the section's setting) for its reads
    # to go on from: one model call, no experts (served, each was ~4.5 ms of one warm-up
    # step); a context that empty, asked later, is served then as a cold cache serves it
    from fixtures.tiny_model import build_tiny_model
    from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
    from notegen.model.network import MelodyModel

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    heard = MelodyModel.load(card)
    bass = VoiceTimes.of([Event(p, 1.0) for p in [48, 43, 45, 41] * 8])
    setting = Setting(others=(bass,)).later(2.0)
    cache = ContextCache(heard)
    calls = step_shapes(monkeypatch, heard)
    served = counted(monkeypatch, cache, "served")
    cache.keep_start(setting)
    cache.keep_start(setting)  # kept: nothing made again
    assert (len(calls), served[0]) == (1, 0)
    ctx = melody(12, 1)
    got = cache.prime_ids(cache.ids(ctx), (), setting)  # reads on from the kept start
    assert len(calls) == 2 and served[0] == 1
    empty = cache.prime_ids(cache.ids([]), (), setting)
    cold = ContextCache(heard)
    for mine, theirs in (
        (got, cold.prime_ids(cold.ids(ctx), (), setting)),
        (empty, cold.prime_ids(cold.ids([]), (), setting)),
    ):
        np.testing.assert_allclose(mine.pitch_logits, theirs.pitch_logits, atol=1e-5)
        np.testing.assert_allclose(mine.dur_logits, theirs.dur_logits, atol=1e-5)
