/**
 * Arguments of the server's commands, built from what the user picked.
 *
 * Pure: the palette prompts (`prompts.ts`) collect strings, these helpers check them and build
 * the ONE JSON object each LSP command takes (COMMON contract), so a bad entry is refused in the
 * input box with a reason instead of becoming a JSON-RPC error later.
 */

export interface Position {
  line: number;
  character: number;
}

/** `notegen.generateMelody` arguments. `key`/`scale` absent = detected from the document. */
export interface GenerateArgs {
  uri: string;
  position: Position;
  length: number;
  temperature: number;
  top_p: number;
  seed: number;
  key?: string;
  scale?: string;
  bpm?: number;
}

/** `notegen.continueMelody` arguments. */
export interface ContinueArgs {
  uri: string;
  position: Position;
  count: number;
  temperature: number;
  top_p: number;
  seed: number;
}

/** Keys offered in the picker, as Sonic Pi note names (sent without the colon). */
export const KEYS: readonly { name: string; label: string }[] = [
  { name: "c", label: "C" },
  { name: "cs", label: "C♯ / D♭" },
  { name: "d", label: "D" },
  { name: "eb", label: "E♭ / D♯" },
  { name: "e", label: "E" },
  { name: "f", label: "F" },
  { name: "fs", label: "F♯ / G♭" },
  { name: "g", label: "G" },
  { name: "ab", label: "A♭ / G♯" },
  { name: "a", label: "A" },
  { name: "bb", label: "B♭ / A♯" },
  { name: "b", label: "B" },
];

/** Scales offered in the picker: Sonic Pi scale names, the common ones first. */
export const SCALES: readonly { name: string; description: string }[] = [
  { name: "major", description: "Ionian" },
  { name: "minor", description: "natural minor, Aeolian" },
  { name: "major_pentatonic", description: "five notes, no semitones" },
  { name: "minor_pentatonic", description: "five notes, blues and rock" },
  { name: "dorian", description: "minor with a raised sixth" },
  { name: "mixolydian", description: "major with a flat seventh" },
  { name: "harmonic_minor", description: "minor with a raised seventh" },
  { name: "phrygian", description: "minor with a flat second" },
  { name: "lydian", description: "major with a raised fourth" },
  { name: "blues_minor", description: "minor pentatonic with the blue note" },
  { name: "chromatic", description: "all twelve notes" },
];

/** Phrase lengths offered for Generate melody; the first is the default, the same 32 as the
 * server's code action and `notegen-melody generate`. */
export const LENGTHS: readonly number[] = [32, 16, 8, 64];

/** Temperatures offered, with what they sound like. The setting's value is offered first. */
export const TEMPERATURES: readonly { value: number; description: string }[] = [
  { value: 0.7, description: "safe: sticks to the likeliest notes" },
  { value: 1.0, description: "as learned" },
  { value: 1.3, description: "adventurous" },
];

export const MAX_LENGTH = 5000;
export const MAX_SEED = 2 ** 31 - 1;

/** A whole number in [min, max], or the reason it is not (for an input box's validation). */
export function checkInteger(text: string, min: number, max: number, what: string): string | undefined {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) {
    return `${what} must be a whole number`;
  }
  const value = Number(trimmed);
  if (value < min || value > max) {
    return `${what} must be between ${min} and ${max}`;
  }
  return undefined;
}

/** A positive number up to max, or the reason it is not. */
export function checkPositive(text: string, max: number, what: string): string | undefined {
  const value = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(value)) {
    return `${what} must be a number`;
  }
  if (value <= 0 || value > max) {
    return `${what} must be greater than 0 and at most ${max}`;
  }
  return undefined;
}

/** A fresh seed to show in the seed box, so the user can note it and get the same melody again. */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * 1_000_000);
}

/** Numbers from settings may be anything; fall back to the contract's defaults. */
export function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

export interface GenerateChoices {
  length: number;
  temperature: number;
  topP: number;
  seed: number;
  /** `undefined` = let the server detect the key from the document. */
  key?: string;
  scale?: string;
  bpm?: number;
}

export function buildGenerateArgs(uri: string, position: Position, c: GenerateChoices): GenerateArgs {
  const args: GenerateArgs = {
    uri,
    position: { line: position.line, character: position.character },
    length: c.length,
    temperature: c.temperature,
    top_p: c.topP,
    seed: c.seed,
  };
  if (c.key !== undefined) {
    args.key = c.key;
    args.scale = c.scale ?? "major";
  } else if (c.scale !== undefined) {
    args.scale = c.scale;
  }
  if (c.bpm !== undefined) {
    args.bpm = c.bpm;
  }
  return args;
}

export interface ContinueChoices {
  count: number;
  temperature: number;
  topP: number;
  seed: number;
}

export function buildContinueArgs(uri: string, position: Position, c: ContinueChoices): ContinueArgs {
  return {
    uri,
    position: { line: position.line, character: position.character },
    count: c.count,
    temperature: c.temperature,
    top_p: c.topP,
    seed: c.seed,
  };
}

/**
 * Seconds of playback announced in a `notegen.playInSonicPi` result (`{played, seconds}`), or
 * `undefined` when nothing is playing (the server has already told the user why) or it is unknown.
 */
export function playbackSeconds(result: unknown): number | undefined {
  if (typeof result !== "object" || result === null || (result as { played?: unknown }).played !== true) {
    return undefined;
  }
  const seconds = (result as { seconds?: unknown }).seconds;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/** Whether a `notegen.playInSonicPi` result says the code reached Sonic Pi. */
export function played(result: unknown): boolean {
  return typeof result === "object" && result !== null && (result as { played?: unknown }).played === true;
}

/** The user-facing line for a generate/continue result, or the reason its edit was refused. */
export function describeEditResult(command: "generate" | "continue", result: unknown, seed: number): { ok: boolean; text: string } {
  const r = (typeof result === "object" && result !== null ? result : {}) as Record<string, unknown>;
  if (r.applied === false) {
    const why = typeof r.failureReason === "string" && r.failureReason !== "" ? `: ${r.failureReason}` : "";
    return { ok: false, text: `notegen: the editor did not apply the ${command === "generate" ? "generated melody" : "continuation"}${why}` };
  }
  const notes = typeof r.notes === "number" ? r.notes : undefined;
  if (command === "continue") {
    return { ok: true, text: `notegen: added ${notes ?? "the"} notes (seed ${seed})` };
  }
  const voice = typeof r.voice === "number" ? ` as voice ${r.voice}` : "";
  const key = typeof r.key === "string" && r.key !== "" ? ` in ${r.key}${typeof r.scale === "string" ? ` ${r.scale}` : ""}` : "";
  return { ok: true, text: `notegen: generated ${notes ?? "a"} notes${voice}${key} (seed ${seed})` };
}
