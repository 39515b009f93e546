"""The install name and commands: nothing may collide with PyPI's unrelated `notegen` package.

That package (2.4.1, YouTube/web pages to Obsidian notes) is the distribution `notegen`, module
`notes_gen`, and installs one console script, `notegen`. Ours is `sonic-pi-notegen`, every script
starts with ``notegen-``, and no instruction tells a user to ``pip install notegen``.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
THEIR_SCRIPTS = {"notegen"}
THEIR_MODULES = {"notes_gen"}


def test_the_distribution_is_not_called_notegen():
    assert PYPROJECT["project"]["name"] == "sonic-pi-notegen"


def test_no_console_script_is_one_of_the_other_packages():
    scripts = PYPROJECT["project"]["scripts"]
    assert set(scripts) == {"notegen-lsp", "notegen-melody", "notegen-train"}
    assert not set(scripts) & THEIR_SCRIPTS
    assert all(name.startswith("notegen-") for name in scripts)


@pytest.mark.parametrize("name", ["notegen-lsp", "notegen-melody"])
def test_each_runtime_script_points_at_a_function_that_exists(name: str):
    module, _, attr = PYPROJECT["project"]["scripts"][name].partition(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_the_import_packages_are_not_the_other_packages_module():
    packages = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert {Path(p).name for p in packages} == {"notegen", "notegen_training"}
    assert not {Path(p).name for p in packages} & THEIR_MODULES


@pytest.mark.parametrize(
    "doc", ["README.md", "vscode-extension/README.md", "vscode-extension/package.json"]
)
def test_no_instruction_installs_the_wrong_package(doc: str):
    text = (REPO / doc).read_text()
    for match in re.finditer(r"pip install notegen\b", text):
        before = text[max(0, match.start() - 16) : match.start()]
        assert re.search(r"\bnot\b", before), (
            f"{doc}: '{text[match.start() - 40 : match.end() + 20]}' tells users to install "
            "PyPI's unrelated notegen"
        )
    assert "sonic-pi-notegen" in text
