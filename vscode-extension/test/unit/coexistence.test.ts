// The extension starts the server for Sonic Pi files only, as the server itself decides.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { globMatches, looksLikeSonicPi, wantsNotegen } from "../../src/coexistence";

const RAILS = `class PostsController < ApplicationController
  before_action :set_post, only: [:show, :edit]
  SCALE = [:c, :d, :e, :f]
  def index
    sleep 1
  end
end
`;

describe("looksLikeSonicPi", () => {
  for (const line of ["a1[0]=[:C4]", "play :c4", "play 60", "live_loop :x do", "use_synth :piano", "use_bpm 90",
    "play_pattern_timed [:c4], [1]", "sample :bd_haus", "with_fx :reverb do", "in_thread do"]) {
    it(`takes "${line}" for Sonic Pi`, () => assert.equal(looksLikeSonicPi(`# song\n${line}\n`), true));
  }
  for (const [name, text] of [["a Rails controller", RAILS], ["a symbol array", "x = [:c4, :e4]\n"],
    ["Kernel#sleep", "sleep 2\n"], ["a comment", "# live_loop :a do\n"], ["a method call", "player.play :video\n"], ["nothing", ""]]) {
    it(`leaves ${name} alone`, () => assert.equal(looksLikeSonicPi(text), false));
  }
  it("trusts a Sonic Pi language id", () => assert.equal(looksLikeSonicPi("", "sonic-pi"), true));
});

describe("wantsNotegen", () => {
  const rails = { path: "/w/app/controllers/posts_controller.rb", languageId: "ruby", text: () => RAILS };
  it("auto: no for Rails, yes once it looks like Sonic Pi", () => {
    assert.equal(wantsNotegen(rails, "auto", []), false);
    assert.equal(wantsNotegen({ ...rails, text: () => "use_bpm 60\n" + RAILS }, "auto", []), true);
  });
  it("always / never / include globs override the look", () => {
    assert.equal(wantsNotegen(rails, "always", []), true);
    assert.equal(wantsNotegen({ ...rails, languageId: "sonic-pi" }, "never", []), false);
    assert.equal(wantsNotegen(rails, "auto", ["**/controllers/*.rb"]), true);
    assert.equal(wantsNotegen(rails, "auto", ["music/**"]), false);
  });
});

describe("globMatches", () => {
  it("matches like the server's globs", () => {
    assert.equal(globMatches(["music/*.rb"], "/home/me/music/a.rb"), true);
    assert.equal(globMatches(["music/*.rb"], "/home/me/music/x/a.rb"), false);
    assert.equal(globMatches(["**/*.{sp,spi}"], "/w/a.spi"), true);
    assert.equal(globMatches(["/w/app/**"], "/elsewhere/w/app/a.rb"), false);
    assert.equal(globMatches([""], "/w/a.rb"), false);
  });
});
