"""After a re-reading, the warm-up prepares the experts' tables of the voices completed in
lately (and only those): the first completion in such a voice does not build them itself."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from notegen.lsp.documents import DocumentView
from notegen.lsp.warm_up import RECENT_VOICES, note_voice, prepare_voices
from notegen.lsp.whole_reading import read_document
from notegen.model import consonance, imitation, rhythm
from notegen.model.network import MelodyModel

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"

PIECE = """\
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:F4,:G4,:E4,:D4,:C4]
b1[0]=[0.5,0.5,1,1,0.5,0.5,1,2]
a2=[]
b2=[]
a2[0]=[:C3,:G3,:E3,:G3]
b2[0]=[2,2,2,2]
a3=[]
b3=[]
a3[0]=[:G4,:A4,:B4,:C5,:D5]
b3[0]=[1,1,1,1,4]
"""


def cursor_in(voice: int | None, kind: str = "voice") -> SimpleNamespace:
    array = SimpleNamespace(kind=kind, voice=voice)
    return SimpleNamespace(local=SimpleNamespace(ctx=SimpleNamespace(array=array)))


def test_the_voices_completed_in_are_kept_latest_last_and_bounded():
    recent: dict[int, None] = {}
    for voice in (1, 2, 1, 3):
        note_voice(recent, cursor_in(voice))  # type: ignore[arg-type]
    assert list(recent) == [2, 1, 3]
    for voice in range(10, 10 + RECENT_VOICES):
        note_voice(recent, cursor_in(voice))  # type: ignore[arg-type]
    assert list(recent) == list(range(10, 10 + RECENT_VOICES))


def test_a_plain_array_or_a_play_run_is_no_voice():
    recent: dict[int, None] = {}
    note_voice(recent, cursor_in(None, kind="bare"))  # type: ignore[arg-type]
    note_voice(recent, cursor_in(None))  # type: ignore[arg-type]
    assert recent == {}


def read_piece():
    reading, _diags, _cost = read_document(DocumentView("file:///p.rb", 1, PIECE), True)
    return reading


def test_the_warm_up_prepares_the_voices_completed_in_that_this_reading_has():
    reading = read_piece()
    prepared: list = []
    model = SimpleNamespace(prepare_setting=prepared.append)
    steps = list(prepare_voices(reading, {2: None, 9: None}, model))  # 9: not in this reading
    assert len(steps) == 1
    assert prepared == [reading.setting(2)]


def test_a_setting_is_prepared_for_rhythm_imitation_and_consonance_at_once():
    model = MelodyModel.load(SHIPPED)
    assert model.rhythm and model.imitation and model.consonance  # (all three in the card)
    reading = read_piece()
    others = {voice: reading.setting(voice).others for voice in reading.voices}
    tables = (rhythm._CONTEXTS, imitation._TEXTS, consonance._TABLES)
    assert all(t.find(o) is None for t in tables for o in others.values())
    model.prepare_setting(reading.setting(2))
    assert all(t.find(others[2]) is not None for t in tables)
    assert all(t.find(others[v]) is None for t in tables for v in (1, 3))


def test_a_completion_answered_after_its_document_closed_keeps_nothing():
    from notegen.lsp.server import NotegenServer

    ls = SimpleNamespace(views={"file:///open.rb": object()}, voices_completed={})
    NotegenServer.completed_in(ls, "file:///open.rb", cursor_in(2))  # type: ignore[arg-type]
    NotegenServer.completed_in(ls, "file:///closed.rb", cursor_in(1))  # type: ignore[arg-type]
    assert ls.voices_completed == {"file:///open.rb": {2: None}}


async def test_a_new_reading_comes_with_the_tables_of_the_voice_completed_in_last(
    monkeypatch,
) -> None:
    """Made on the reader thread before the reading is put in place: the first completion in
    that voice after it, often asked while it lands, finds them (the other voices completed
    in lately get theirs from the warm-up)."""
    import time

    from lsprotocol import types
    from notegen.lsp import server as srv
    from pygls.workspace import Workspace

    ls = srv.NotegenServer(str(SHIPPED))
    ls.protocol._workspace = Workspace(None)
    try:
        ls.engine.load(ls.cli_model_path).result(timeout=30)
        uri = "file:///p.rb"
        item = types.TextDocumentItem(uri=uri, language_id="ruby", version=1, text=PIECE)
        ls.workspace.put_text_document(item)
        ls.voices_completed[uri] = {3: None, 2: None}  # (2 the last)
        tables = (rhythm._CONTEXTS, imitation._TEXTS, consonance._TABLES)
        found: list[dict[int, bool]] = []

        def put_in_place(_uri: str, reading) -> None:  # (the warm-up starts once it is)
            others = {v: reading.setting(v).others for v in (1, 2, 3)}
            found.append({v: all(t.find(o) is not None for t in tables) for v, o in others.items()})

        monkeypatch.setattr(ls, "warm_up", put_in_place)
        monkeypatch.setattr(ls, "text_document_publish_diagnostics", lambda params: None)
        monkeypatch.setattr(ls.slip_hints, "schedule", lambda *args: None)
        ls.protocol.last_message = time.monotonic() - 1.0
        await ls._read_and_publish(uri)
        assert found == [{1: False, 2: True, 3: False}]
    finally:
        ls.engine.shutdown()
        ls.reader.shutdown(wait=False)
