"""notegen.notes agrees with Sonic Pi's own ``note.rb``, run under Ruby, on thousands of symbols.

CI installs ``ruby`` and Debian's ``sonic-pi-server`` (see ``.ci/apt-packages.txt``); this
test fails, rather than skips, when either is missing, so a green run always means the
comparison happened. Set ``NOTEGEN_SONIC_PI_NOTE_RB`` to use another copy of ``note.rb``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from notegen.notes import NoteError, note_to_midi

KNOWN_PATHS = [
    Path("/usr/lib/sonic-pi/app/server/ruby/lib/sonicpi/note.rb"),
    Path("/usr/lib/sonic-pi/server/ruby/lib/sonicpi/note.rb"),
    Path("/opt/sonic-pi/app/server/ruby/lib/sonicpi/note.rb"),
]

# Sonic Pi's note(): symbols :r and :rest are rests before note.rb is asked; anything else
# goes through SonicPi::Note (the regex and the interval table). Inputs are what
# notegen.notes takes: a symbol's name with or without its colon (":r" and "r" are both :r;
# note.rb's own regex allows one leading colon).
RUBY_HARNESS = r"""
require "json"
require ARGV[0]
names = JSON.parse(STDIN.read)
out = names.map do |name|
  sym = name.delete_prefix(":").to_sym
  if sym == :r || sym == :rest
    ["rest", nil]
  else
    begin
      ["midi", SonicPi::Note.new(name).midi_note]
    rescue SonicPi::Note::InvalidNoteError, SonicPi::Note::InvalidOctaveError => e
      ["invalid", e.message]
    end
  end
end
puts JSON.generate(out)
"""


def find_note_rb() -> Path:
    env = os.environ.get("NOTEGEN_SONIC_PI_NOTE_RB")
    if env:
        return Path(env)
    for path in KNOWN_PATHS:
        if path.is_file():
            return path
    if shutil.which("dpkg"):
        listing = subprocess.run(
            ["dpkg", "-L", "sonic-pi-server"], capture_output=True, text=True, check=False
        ).stdout
        for line in listing.splitlines():
            if line.endswith("/sonicpi/note.rb"):
                return Path(line)
    pytest.fail(
        "Sonic Pi's note.rb not found: install Debian's sonic-pi-server "
        "(it is in .ci/apt-packages.txt) or set NOTEGEN_SONIC_PI_NOTE_RB"
    )


def generated_names() -> list[str]:
    """Valid and invalid names: every letter, modifier, case and octave form, plus junk."""
    letters = [*list("abcdefgABCDEFG"), "h", "H", "r", "R", "x", "", "1", "_"]
    modifiers = ["", "s", "S", "b", "B", "f", "F", "#", "x", "ss", "bb", "sf"]
    octaves = [
        "",
        "0",
        "1",
        "4",
        "9",
        "10",
        "127",
        "-",
        "-1",
        "-2",
        "-10",
        "--1",
        "01",
        "007",
        "4.5",
        " 4",
        "+4",
        "4-",
        "e4",
    ]
    names: set[str] = set()
    for letter, mod, octave in itertools.product(letters, modifiers, octaves):
        names.add(letter + mod + octave)
    names.update(":" + n for n in list(names)[::7])
    names.update(
        [
            "r",
            "rest",
            "R",
            "Rest",
            "REST",
            "rests",
            ":r",
            "::c4",
            "c4\n",
            "c4\n\n",
            "\nc4",
            "c4 ",
            "",
            ":",
            "é4",
            "c٤",
            "c４",
            "C4\r",
        ]
    )
    rng = random.Random(20240521)
    alphabet = "abcdefgrsABCFGS-0123456789:_ #."
    for _ in range(1500):
        names.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
    return sorted(names)


def python_verdict(name: str) -> list[object]:
    try:
        midi = note_to_midi(name)
    except NoteError:
        return ["invalid", None]
    return ["rest", None] if midi is None else ["midi", midi]


def test_notegen_agrees_with_sonic_pi_note_rb_on_every_symbol() -> None:
    ruby = shutil.which("ruby")
    assert ruby is not None, "ruby is required (it is in .ci/apt-packages.txt)"
    note_rb = find_note_rb()
    assert note_rb.is_file(), f"{note_rb} does not exist"
    names = generated_names()
    assert len(names) > 3000
    proc = subprocess.run(
        [ruby, "-e", RUBY_HARNESS, str(note_rb)],
        input=json.dumps(names),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    verdicts = json.loads(proc.stdout)
    disagreements = []
    counts = {"midi": 0, "rest": 0, "invalid": 0}
    for name, (kind, value) in zip(names, verdicts, strict=True):
        counts[kind] += 1
        ruby_verdict = [kind, value if kind == "midi" else None]
        if python_verdict(name) != ruby_verdict:
            disagreements.append((name, ruby_verdict, python_verdict(name)))
    assert disagreements == []
    # Both sides of the grammar were exercised, not just one.
    assert counts["midi"] > 1000 and counts["invalid"] > 1000 and counts["rest"] >= 2
