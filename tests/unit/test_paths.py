"""User paths: ``~`` expanded where there is a home to expand it to, kept where there is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from notegen.paths import user_path


def test_a_tilde_is_the_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_path("~/models/card.json") == tmp_path / "models" / "card.json"


def test_the_home_of_no_such_user_is_left_as_written() -> None:
    with pytest.raises(RuntimeError):
        Path("~notegen-no-such-user/card.json").expanduser()  # what the server called
    assert user_path("~notegen-no-such-user/card.json") == Path("~notegen-no-such-user/card.json")


def test_other_paths_are_unchanged(tmp_path: Path) -> None:
    assert user_path(tmp_path / "card.json") == tmp_path / "card.json"
    assert user_path("models/card.json") == Path("models/card.json")
