"""notegen beside other Ruby code: silent in a Rails controller, at work in a Sonic Pi file.

The same server serves both; a Ruby file is served when it looks like Sonic Pi, or when the
user enables notegen for it (``enable: "always"`` or an ``include`` glob).
"""

from __future__ import annotations

from lsprotocol import types

RAILS = """\
class PostsController < ApplicationController
  before_action :set_post, only: [:show, :edit, :update, :destroy]
  SCALE = [:c, :d, :e, :f]
  RATINGS = [:a, :b, :c, :x]

  def index
    @posts = Post.all
  end
end
"""
SYMBOLS_LINE = 2
AFTER_COMMA = len("  SCALE = [:c, :d,")


async def _actions(editor, uri: str, line: int, character: int) -> list[str]:
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(line, character), types.Position(line, character)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return [a.title for a in actions or []]


async def _hover(editor, uri: str, line: int, character: int) -> types.Hover | None:
    return await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
    )


async def test_a_rails_controller_gets_no_notes_no_actions_no_diagnostics(editor):
    uri = editor.open(RAILS, "posts_controller.rb", language_id="ruby")
    assert await editor.diagnostics(uri) == []  # :x is no note, yet no complaint
    assert await editor.complete(uri, SYMBOLS_LINE, AFTER_COMMA, ",") == []
    assert await _actions(editor, uri, SYMBOLS_LINE, AFTER_COMMA) == []
    assert await _actions(editor, uri, 4, 0) == []  # the blank line: no "Generate melody"
    assert await _hover(editor, uri, SYMBOLS_LINE, len("  SCALE = [:")) is None


async def test_the_same_arrays_in_a_sonic_pi_file_are_served(editor):
    text = "use_synth :piano\n" + RAILS
    uri = editor.open(text, "song.rb", language_id="ruby")
    diags = await editor.diagnostics(uri)
    assert any(d.code == "invalid-note" and ":x" in d.message for d in diags), diags
    items = await editor.complete(uri, SYMBOLS_LINE + 1, AFTER_COMMA, ",")
    assert items, "no notes offered in a Sonic Pi file"
    assert "Generate melody" in {t.split(" (")[0] for t in await _actions(editor, uri, 5, 0)}


async def test_typing_the_first_sonic_pi_line_wakes_notegen_up(editor):
    uri = editor.open(RAILS, "new_piece.rb", language_id="ruby")
    assert await editor.diagnostics(uri) == []
    editor.client.diagnostics.pop(uri)
    editor.change(uri, "live_loop :melody do\nend\n" + RAILS)
    assert [d for d in await editor.diagnostics(uri) if d.code == "invalid-note"]


async def test_enable_always_or_an_include_glob_serves_any_ruby_file(editor):
    uri = editor.open(RAILS, "posts_controller.rb", language_id="ruby")
    assert await editor.diagnostics(uri) == []
    editor.client.diagnostics.pop(uri)
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"notegen": {"enable": "always"}})
    )
    assert [d for d in await editor.diagnostics(uri) if d.code == "invalid-note"]
    assert await editor.complete(uri, SYMBOLS_LINE, AFTER_COMMA, ",")

    editor.client.diagnostics.pop(uri)
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"notegen": {"enable": "auto"}})
    )
    assert await editor.diagnostics(uri) == []
    editor.client.diagnostics.pop(uri)
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"notegen": {"include": ["**/*_controller.rb"]}}
        )
    )
    assert [d for d in await editor.diagnostics(uri) if d.code == "invalid-note"]


async def test_enable_never_silences_even_a_sonic_pi_file(editor):
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"notegen": {"enable": "never"}})
    )
    uri = editor.open("a1[0]=[:C4,:H4,\n", "song.rb", language_id="sonic-pi")
    assert await editor.diagnostics(uri) == []
    assert await editor.complete(uri, 0, len("a1[0]=[:C4,"), ",") == []


async def test_commands_run_in_any_file_because_the_user_asked(editor):
    uri = editor.open("", "empty.rb", language_id="ruby")
    result = await editor.command(
        "notegen.generateMelody",
        {"uri": uri, "position": {"line": 0, "character": 0}, "length": 8, "seed": 1},
    )
    assert result and "a1[0]=[" in editor.texts[uri]
