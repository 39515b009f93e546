// What the palette sends: ONE argument object per server command (COMMON contract), and the
// input boxes' checks that refuse bad entries before anything is sent.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildContinueArgs,
  buildGenerateArgs,
  checkInteger,
  checkPositive,
  describeEditResult,
  KEYS,
  LENGTHS,
  numberOr,
  playbackSeconds,
  played,
  randomSeed,
  SCALES,
} from "../../src/commandArgs";

const uri = "file:///songs/tune.rb";

describe("buildGenerateArgs", () => {
  it("builds the generateMelody object with the cursor position and snake_case top_p", () => {
    const args = buildGenerateArgs(uri, { line: 3, character: 14 }, {
      length: 16,
      temperature: 0.7,
      topP: 0.9,
      seed: 42,
      key: "eb",
      scale: "minor_pentatonic",
    });
    assert.deepEqual(args, {
      uri,
      position: { line: 3, character: 14 },
      length: 16,
      temperature: 0.7,
      top_p: 0.9,
      seed: 42,
      key: "eb",
      scale: "minor_pentatonic",
    });
  });

  it("leaves key and scale out when the key is to be detected from the document", () => {
    const args = buildGenerateArgs(uri, { line: 0, character: 0 }, { length: 8, temperature: 1, topP: 0.95, seed: 1 });
    assert.equal("key" in args, false);
    assert.equal("scale" in args, false);
    assert.equal("bpm" in args, false);
  });

  it("defaults the scale to major when only a key is given, and passes bpm", () => {
    const args = buildGenerateArgs(uri, { line: 0, character: 0 }, { length: 8, temperature: 1, topP: 1, seed: 1, key: "g", bpm: 90 });
    assert.equal(args.scale, "major");
    assert.equal(args.bpm, 90);
  });

  it("copies the position so later cursor moves do not change what was sent", () => {
    const pos = { line: 1, character: 2 };
    const args = buildGenerateArgs(uri, pos, { length: 8, temperature: 1, topP: 1, seed: 1 });
    pos.line = 9;
    assert.deepEqual(args.position, { line: 1, character: 2 });
  });
});

describe("buildContinueArgs", () => {
  it("builds the continueMelody object", () => {
    assert.deepEqual(buildContinueArgs(uri, { line: 5, character: 20 }, { count: 8, temperature: 1.3, topP: 0.95, seed: 7 }), {
      uri,
      position: { line: 5, character: 20 },
      count: 8,
      temperature: 1.3,
      top_p: 0.95,
      seed: 7,
    });
  });
});

describe("pickers", () => {
  it("offer the twelve keys as Sonic Pi note names", () => {
    assert.equal(KEYS.length, 12);
    for (const k of KEYS) {
      assert.match(k.name, /^[a-g][sb]?$/);
    }
  });

  it("offer Sonic Pi scale names, major first", () => {
    assert.equal(SCALES[0].name, "major");
    assert.ok(SCALES.some((s) => s.name === "minor_pentatonic"));
    assert.ok(SCALES.every((s) => /^[a-z_0-9]+$/.test(s.name)));
  });

  it("offer 32 notes as the default length, as the code action and the CLI do", () => {
    assert.equal(LENGTHS[0], 32);
  });
});

describe("input checks", () => {
  it("accept whole numbers in range", () => {
    assert.equal(checkInteger(" 32 ", 1, 5000, "Length"), undefined);
  });

  it("refuse fractions, words and out-of-range numbers with a reason", () => {
    assert.equal(checkInteger("1.5", 1, 5000, "Length"), "Length must be a whole number");
    assert.equal(checkInteger("many", 1, 5000, "Length"), "Length must be a whole number");
    assert.equal(checkInteger("0", 1, 5000, "Length"), "Length must be between 1 and 5000");
  });

  it("accept a positive temperature and refuse zero, negatives and text", () => {
    assert.equal(checkPositive("0.8", 5, "The temperature"), undefined);
    assert.equal(checkPositive("0", 5, "The temperature"), "The temperature must be greater than 0 and at most 5");
    assert.equal(checkPositive("-1", 5, "The temperature"), "The temperature must be greater than 0 and at most 5");
    assert.equal(checkPositive("warm", 5, "The temperature"), "The temperature must be a number");
    assert.equal(checkPositive("", 5, "The temperature"), "The temperature must be a number");
  });
});

describe("randomSeed and numberOr", () => {
  it("draws a whole seed from the random source", () => {
    assert.equal(randomSeed(() => 0.123456789), 123456);
    assert.equal(randomSeed(() => 0), 0);
  });

  it("replaces non-numbers from settings with the default", () => {
    assert.equal(numberOr("1.2", 1), 1);
    assert.equal(numberOr(Number.NaN, 1), 1);
    assert.equal(numberOr(0.5, 1), 0.5);
  });
});

describe("playbackSeconds", () => {
  it("reads how long the snippet Sonic Pi now plays lasts", () => {
    assert.equal(playbackSeconds({ played: true, seconds: 12.5, listening: true }), 12.5);
  });

  it("is undefined when nothing plays or the length is unknown", () => {
    assert.equal(playbackSeconds({ played: false, message: "Sonic Pi is not running" }), undefined);
    assert.equal(playbackSeconds(null), undefined);
    assert.equal(playbackSeconds({ played: true, seconds: "long" }), undefined);
    assert.equal(playbackSeconds({ played: true, seconds: -1 }), undefined);
  });

  it("played() tells a snippet that reached Sonic Pi from one that did not", () => {
    assert.equal(played({ played: true, seconds: 4 }), true);
    assert.equal(played({ played: false }), false);
    assert.equal(played(undefined), false);
  });
});

describe("describeEditResult", () => {
  it("says which voice, how many notes, the key and the seed of a generated melody", () => {
    const r = describeEditResult("generate", { applied: true, voice: 2, notes: 16, key: "eb", scale: "major" }, 7);
    assert.deepEqual(r, { ok: true, text: "notegen: generated 16 notes as voice 2 in eb major (seed 7)" });
  });

  it("reports an edit the editor refused, with the reason", () => {
    const r = describeEditResult("generate", { applied: false, failureReason: "document changed" }, 7);
    assert.deepEqual(r, { ok: false, text: "notegen: the editor did not apply the generated melody: document changed" });
  });

  it("counts the notes a continuation added", () => {
    assert.deepEqual(describeEditResult("continue", { applied: true, notes: 8 }, 3), {
      ok: true,
      text: "notegen: added 8 notes (seed 3)",
    });
  });
});
