"""The code action kinds the server advertises are protocol names clients filter on
(``"editor.codeActionsOnSave"``, ``only`` in a request): they stay what they were."""

from __future__ import annotations

from notegen.lsp import code_actions, play


def test_the_advertised_kinds_keep_their_names() -> None:
    assert code_actions.KINDS == [
        "refactor",
        "refactor.notegen.generate",
        "refactor.notegen.continue",
    ]
    assert play.KIND_PLAY == "notegen.play"
