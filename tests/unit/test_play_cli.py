"""``notegen play`` and ``notegen render``: which Sonic Pi was found, errors at the note's line,
and output files that are never overwritten unasked nor left half-written.

``play`` runs against the fake spider server of tests/fixtures/fake_sonic_pi.py, given by
``--port/--token/--reply-port`` (explicit settings, the first thing discovery tries).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import notegen.playback.sonic_pi_client as spc
import pytest
from fixtures.fake_sonic_pi import FakeSpider, free_udp_port
from notegen.melody import Event
from notegen.playback.output_files import install, temp_beside
from notegen.playback.play_cli import main
from notegen.sonicpi import render_block

TUNE = render_block(1, [[Event(60, 0.5), Event(64, 0.5), Event(67, 1.0)]], 120)


@pytest.fixture(autouse=True)
def no_real_sonic_pi_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spc, "V3_SERVER_PORT", free_udp_port())


@pytest.fixture
def spider() -> Iterator[FakeSpider]:
    fake = FakeSpider()
    yield fake
    fake.close()


def connection(fake: FakeSpider) -> list[str]:
    return [
        "--port",
        str(fake.port),
        "--token",
        str(fake.token),
        "--reply-port",
        str(fake.reply_port),
    ]


def test_play_says_which_sonic_pi_played_the_file(spider: FakeSpider, tmp_path: Path, capsys):
    source = tmp_path / "tune.rb"
    source.write_text(TUNE)
    assert main(["play", str(source), *connection(spider)]) == 0
    out, err = capsys.readouterr()
    found = f"Sonic Pi 5.0.0-beta-1 at 127.0.0.1:{spider.port}, found from your settings"
    assert found in err
    assert out == f"played {source} in {found}\n"
    assert spider.runs == [TUNE]


def test_play_reports_an_invalid_note_at_the_notes_line(spider: FakeSpider, tmp_path, capsys):
    spider.invalid = {":H4"}
    source = tmp_path / "tune.rb"
    source.write_text(TUNE.replace(":G4", ":H4"))
    assert main(["play", str(source), "--voice", "1", *connection(spider)]) == 1
    _, err = capsys.readouterr()
    line = TUNE.splitlines().index("a1[0]=[:C4,:E4,:G4]") + 1
    assert f"{source}:{line}: Sonic Pi error: SonicPi::Note::InvalidNoteError" in err


def test_render_never_overwrites_an_existing_midi_file_unasked(tmp_path: Path, capsys) -> None:
    source, out = tmp_path / "tune.rb", tmp_path / "tune.mid"
    source.write_text(TUNE)
    out.write_bytes(b"mine")
    assert main(["render", str(source), "--midi", str(out)]) == 2
    assert out.read_bytes() == b"mine"
    assert "exists; give --force to overwrite it" in capsys.readouterr().err
    assert main(["render", str(source), "--midi", str(out), "--force"]) == 0
    assert out.read_bytes().startswith(b"MThd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tune.mid", "tune.rb"]  # no temp


def test_render_refuses_an_existing_wav_before_playing_anything(tmp_path: Path, capsys) -> None:
    source, wav = tmp_path / "tune.rb", tmp_path / "tune.wav"
    source.write_text(TUNE)
    wav.write_bytes(b"mine")
    assert main(["render", str(source), "--wav", str(wav), "--port", "1"]) == 2
    assert wav.read_bytes() == b"mine"
    assert "tune.wav exists; give --force" in capsys.readouterr().err


def test_a_file_that_appears_while_rendering_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "late.mid"
    temp = temp_beside(out)
    temp.write_bytes(b"new")
    out.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        install(temp, out, force=False)
    assert out.read_bytes() == b"someone else's" and not temp.exists()


def test_an_invalid_midi_render_leaves_no_file_behind(tmp_path: Path) -> None:
    source, out = tmp_path / "bad.rb", tmp_path / "bad.mid"
    source.write_text("a1=[]\nb1=[]\na1[0]=[:C4,:H4]\nb1[0]=[1,1]\n")
    assert main(["render", str(source), "--midi", str(out)]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.rb"]
