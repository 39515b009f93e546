"""Which documents notegen serves: Sonic Pi files yes, other Ruby files only when enabled."""

from __future__ import annotations

import pytest
from notegen.lsp.coexistence import Coexistence, glob_matches
from notegen.lsp.config import Settings, parse_settings
from notegen.sonicpi.recognise import looks_like_sonic_pi

RAILS = """\
class PostsController < ApplicationController
  before_action :set_post, only: [:show, :edit, :update, :destroy]
  SCALE = [:c, :d, :e, :f]

  def index
    sleep 1
    @posts = Post.all.sample(3)
  end
end
"""


@pytest.mark.parametrize(
    "line",
    [
        "a1[0]=[:C4,:E4]",
        "  a12 [ 3 ] = [60, 62]",
        "play :c4",
        "play 60, release: 2",
        "play [:c4, :e4]",
        "play chord(:e3, :minor)",
        "live_loop :drums do",
        "use_synth :prophet",
        "with_synth :tb303 do",
        "use_bpm 120",
        "play_pattern_timed [:c4, :d4], [0.5]",
        "play_pattern [:c4]",
        "sample :bd_haus",
        "with_fx :reverb do",
        "in_thread do",
    ],
)
def test_a_line_only_sonic_pi_writes_makes_it_sonic_pi(line: str):
    assert looks_like_sonic_pi(f"# a piece\n{line}\n")


@pytest.mark.parametrize(
    "line",
    [
        "x='ab';a1[0]=[:c4, :e4]",
        "x = 1; play :c4",
        "use_bpm 60;live_loop :a do",
    ],
)
def test_a_sonic_pi_statement_after_a_semicolon_counts_too(line: str):
    assert looks_like_sonic_pi(f"{line}\n")


@pytest.mark.parametrize(
    "text",
    [
        RAILS,
        "notes = [:c4, :e4, :g4]\n",  # a symbol array alone is ordinary Ruby too
        "sleep 0.5\nputs 'waited'\n",  # Kernel#sleep
        "# live_loop :commented do\n",
        "player.play :video\n",  # a method call, not a statement
        "x = 1; player.play :video\n",  # ... after a ';' too
        "# slow; play :c4 later\n",  # a ';' in a comment
        "def play(x)\n  x\nend\n",
        "",
    ],
)
def test_ordinary_ruby_is_not_sonic_pi(text: str):
    assert not looks_like_sonic_pi(text)


def test_only_the_first_256_kb_are_looked_at():
    """The decision runs on the event loop at every version: its cost is bounded by size."""
    from notegen.sonicpi.recognise import RECOGNISE_CHARS

    filler = "x = 1\n" * (RECOGNISE_CHARS // 6 + 1)
    assert looks_like_sonic_pi("play :c4\n" + filler)
    assert not looks_like_sonic_pi(filler + "play :c4\n")


def test_a_sonic_pi_language_id_is_enough_even_for_an_empty_file():
    assert looks_like_sonic_pi("", "sonic-pi")
    assert looks_like_sonic_pi("", "sonicpi")
    assert not looks_like_sonic_pi("", "ruby")


@pytest.mark.parametrize(
    ("globs", "uri", "expected"),
    [
        (("**/music/**",), "file:///home/me/app/music/song.rb", True),
        (("music/*.rb",), "file:///home/me/app/music/song.rb", True),
        (("music/*.rb",), "file:///home/me/app/music/deep/song.rb", False),
        (("*.spi.rb",), "file:///w/a.spi.rb", True),
        (("**/*.{sp,spi}",), "file:///w/x/a.spi", True),
        (("/w/app/**",), "file:///w/app/models/post.rb", True),
        (("/w/app/**",), "file:///elsewhere/w/app/post.rb", False),
        (("**/music/**",), "file:///home/me/app/controllers/posts_controller.rb", False),
        (("",), "file:///w/a.rb", False),
        (("**/my%20songs/*",), "file:///w/my%20songs/a.rb", False),  # globs see decoded paths
        (("**/my songs/*",), "file:///w/my%20songs/a.rb", True),
    ],
)
def test_include_globs_match_the_documents_path(globs, uri, expected):
    assert glob_matches(globs, uri) is expected


def _settings(**raw) -> Settings:
    settings, warnings = parse_settings(raw)
    assert warnings == []
    return settings


def test_auto_serves_sonic_pi_and_skips_rails_until_it_looks_like_sonic_pi():
    co = Coexistence()
    uri = "file:///w/app/controllers/posts_controller.rb"
    assert not co.serves(_settings(), uri, 1, RAILS, "ruby")
    assert co.serves(_settings(), uri, 2, RAILS + "play :c4\n", "ruby")  # a new version


def test_always_never_and_include_override_the_look_of_the_file():
    rails = "file:///w/app/controllers/posts_controller.rb"
    song = "file:///w/music/song.rb"
    co = Coexistence()
    assert co.serves(_settings(enable="always"), rails, 1, RAILS, "ruby")
    assert not co.serves(_settings(enable="never"), song, 1, "play :c4\n", "sonic-pi")
    assert co.serves(_settings(include=["**/controllers/*.rb"]), rails, 1, RAILS, "ruby")
    assert co.serves(_settings(include="**/controllers/*.rb"), rails, 1, RAILS, "ruby")


def test_a_bad_enable_value_is_reported_and_falls_back_to_auto():
    settings, warnings = parse_settings({"enable": "sometimes", "include": 3})
    assert settings.enable == "auto" and settings.include == ()
    assert any("notegen.enable" in w and "sometimes" in w for w in warnings)
    assert any("notegen.include" in w for w in warnings)
