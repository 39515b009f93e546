"""The slip check's kept evidence: one compressed file per section in the document's folder.

Spec: a check keeps each section it scored as a file named by the section's digest; the next
check with that folder reads them instead of scoring again and finds the same slips; a damaged
or missing file is a section scored again (never a failed check); without a folder nothing is
kept and the slips are the same; keeping a check's sections deletes every other file.
"""

from __future__ import annotations

import os
from pathlib import Path

import notegen.model.slips as slips_module
import pytest
from notegen.lsp.documents import DocumentView
from notegen.lsp.slip_check import Checked, EvidenceFolder, check
from notegen.model.network import MelodyModel

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
SOPRANO = "E5 F5 D5 C5 C5 D5 B4 C5 E5 F5 D5 E5 F5 D5 E5 C5"
ALTO = "G4 A4 G4 G4 A4 A4 G4 G4 G4 A4 G4 G4 A4 G4 G4 E4"
BASS = "C3 F3 G3 C3 A2 D3 G2 C3 C3 F3 G3 C3 F3 G3 C3 C3"


@pytest.fixture(scope="module")
def shipped() -> MelodyModel:
    return MelodyModel.load(SHIPPED)


def piece(slip: str = "Ef5") -> str:
    """Two sections of three voices; the soprano's E5 in section 1 played as ``slip``."""
    lines = []
    for section in (0, 1):
        voices = [SOPRANO.split(), ALTO.split(), BASS.split()]
        if section == 1:
            voices[0][14] = slip
        for number, notes in enumerate(voices, start=1):
            lines.append(f"a{number}[{section}]=[{','.join(':' + n for n in notes)}]")
            lines.append(f"b{number}[{section}]=[{','.join(['1'] * len(notes))}]")
    return "\n".join(lines) + "\n"


def run(model: MelodyModel, text: str, folder: EvidenceFolder | None) -> Checked:
    return check(model, DocumentView("file:///p.rb", 1, text), 0.5, False, folder)


def slips(found: Checked) -> list[tuple[int, int, str]]:
    return [(s.span.start, s.span.end, s.message) for s in found.slips]


def test_a_check_keeps_one_file_per_section_and_the_next_one_reads_them(shipped, tmp_path):
    folder = EvidenceFolder(tmp_path / "doc")
    first = run(shipped, piece(), folder)
    assert len(first.evidence) == 2
    assert sorted(p.name for p in folder.path.iterdir()) == sorted(d.hex() for d in first.evidence)
    written: list[bytes] = []

    class Watched(EvidenceFolder):
        def write(self, digest: bytes, blob: bytes) -> bool:
            written.append(digest)
            return super().write(digest, blob)

    again = run(shipped, piece(), Watched(folder.path, first.evidence))
    assert written == []  # nothing scored again
    assert again.evidence == first.evidence
    assert slips(again) == slips(first) and slips(first)


def test_an_edit_scores_again_only_the_section_it_touched(shipped, tmp_path, monkeypatch):
    folder = EvidenceFolder(tmp_path / "doc")
    first = run(shipped, piece(), folder)
    kept = folder.keeping(first.evidence)
    scored: list[int] = []
    model_steps = slips_module.section_steps

    def counted(model, section, *args):  # type: ignore[no-untyped-def]
        scored.append(section[0].section)
        return model_steps(model, section, *args)

    monkeypatch.setattr(slips_module, "section_steps", counted)
    edited = run(shipped, piece("E5"), kept)
    assert scored == [1]  # section 0 read back (its motif evidence redone without the model)
    assert len(edited.evidence & first.evidence) == 1
    assert slips(edited) == []


def test_a_damaged_or_missing_file_is_a_section_scored_again(shipped, tmp_path):
    folder = EvidenceFolder(tmp_path / "doc")
    first = run(shipped, piece(), folder)
    damaged, missing = sorted(first.evidence)
    folder.file(damaged).write_bytes(b"not zlib")
    folder.file(missing).unlink()
    again = run(shipped, piece(), EvidenceFolder(folder.path, first.evidence))
    assert slips(again) == slips(first)
    assert again.evidence == first.evidence
    assert folder.file(missing).exists()
    assert folder.file(damaged).read_bytes() == EvidenceFolder(tmp_path / "doc").read(damaged)
    assert folder.file(damaged).read_bytes() != b"not zlib"


def test_without_a_folder_nothing_is_kept_and_the_slips_are_the_same(shipped, tmp_path):
    kept = run(shipped, piece(), EvidenceFolder(tmp_path / "doc"))
    alone = run(shipped, piece(), None)
    assert alone.evidence == frozenset()
    assert slips(alone) == slips(kept)


def test_a_folder_that_cannot_be_made_keeps_nothing_and_fails_nothing(shipped, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    found = run(shipped, piece(), EvidenceFolder(blocker / "doc"))
    assert found.evidence == frozenset()
    assert slips(found) == slips(run(shipped, piece(), None))
    assert blocker.read_text() == "not a folder"


def test_keeping_a_checks_sections_deletes_every_other_file(shipped, tmp_path):
    folder = EvidenceFolder(tmp_path / "doc")
    first = run(shipped, piece(), folder)
    (folder.path / "stale").write_bytes(b"x")
    one = sorted(first.evidence)[:1]
    kept = folder.keeping(frozenset(one))
    assert [p.name for p in folder.path.iterdir()] == [one[0].hex()]
    assert kept.digests == frozenset(one)
    assert EvidenceFolder(tmp_path / "never made").keeping(frozenset()).digests == frozenset()


def test_a_new_server_sweeps_the_folders_of_servers_that_were_killed(tmp_path, monkeypatch):
    """A killed server leaves its evidence folder in the temporary directory; the next one to
    make its own deletes those whose process is gone, and nothing else."""
    import subprocess
    import sys
    import tempfile

    from notegen.lsp.slip_hints import EVIDENCE_PREFIX, SlipHints

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = tmp_path / f"{EVIDENCE_PREFIX}{int(gone.stdout)}-abc"
    (dead / "doc").mkdir(parents=True)
    (dead / "doc" / "00ff").write_bytes(b"evidence")
    living = tmp_path / f"{EVIDENCE_PREFIX}1-def"  # pid 1 is always there
    living.mkdir()
    unnamed = tmp_path / f"{EVIDENCE_PREFIX}xyz"
    unnamed.mkdir()
    a_file = tmp_path / f"{EVIDENCE_PREFIX}{int(gone.stdout)}-file"
    a_file.write_text("not a folder")
    other = tmp_path / "notes.rb"
    other.write_text("play 60")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    hints = SlipHints()
    folder = hints.folder("file:///song.rb")
    assert folder is not None and hints.root is not None
    assert hints.root.name.startswith(f"{EVIDENCE_PREFIX}{os.getpid()}-")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([living.name, unnamed.name, a_file.name, other.name, hints.root.name])
    hints.close()
    assert not hints.root.exists()
