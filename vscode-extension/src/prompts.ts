/**
 * The palette's questions: length, key and scale, temperature, seed.
 *
 * Every step opens on its default, so pressing Enter through it gives a sensible melody;
 * Escape at any step cancels and nothing is sent.
 */
import * as vscode from "vscode";
import {
  checkInteger,
  checkPositive,
  type ContinueChoices,
  type GenerateChoices,
  KEYS,
  LENGTHS,
  MAX_LENGTH,
  MAX_SEED,
  randomSeed,
  SCALES,
  TEMPERATURES,
} from "./commandArgs";

interface Defaults {
  temperature: number;
  topP: number;
  phraseLength: number;
}

interface ValueItem<T> extends vscode.QuickPickItem {
  value: T | "other";
}

const OTHER = "Other…";

async function pick<T>(title: string, items: ValueItem<T>[], placeholder: string): Promise<T | "other" | undefined> {
  const chosen = await vscode.window.showQuickPick(items, { title, placeHolder: placeholder, ignoreFocusOut: true });
  return chosen?.value;
}

async function askNumber(title: string, prompt: string, value: string, validate: (text: string) => string | undefined): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    prompt,
    value,
    ignoreFocusOut: true,
    validateInput: validate,
  });
  return text === undefined ? undefined : Number(text.trim());
}

async function askLength(title: string, choices: readonly number[], what: string): Promise<number | undefined> {
  const items: ValueItem<number>[] = choices.map((n, i) => ({
    label: `${n} notes`,
    description: i === 0 ? "default" : undefined,
    value: n,
  }));
  items.push({ label: OTHER, value: "other" });
  const chosen = await pick(title, items, `How many notes should notegen ${what}?`);
  if (chosen !== "other") {
    return chosen;
  }
  return askNumber(title, `Number of notes (1–${MAX_LENGTH})`, String(choices[0]), (t) =>
    checkInteger(t, 1, MAX_LENGTH, "The number of notes"),
  );
}

async function askTemperature(title: string, fromSettings: number): Promise<number | undefined> {
  const items: ValueItem<number>[] = [
    { label: fromSettings.toFixed(2), description: "from settings (notegen.temperature)", value: fromSettings },
  ];
  for (const t of TEMPERATURES) {
    if (Math.abs(t.value - fromSettings) > 1e-9) {
      items.push({ label: t.value.toFixed(2), description: t.description, value: t.value });
    }
  }
  items.push({ label: OTHER, value: "other" });
  const chosen = await pick(title, items, "Temperature: lower is safer, higher is more surprising");
  if (chosen !== "other") {
    return chosen;
  }
  return askNumber(title, "Temperature (greater than 0, at most 5)", String(fromSettings), (t) =>
    checkPositive(t, 5, "The temperature"),
  );
}

async function askSeed(title: string): Promise<number | undefined> {
  return askNumber(
    title,
    "Random seed: the same seed and options give the same melody again",
    String(randomSeed()),
    (t) => checkInteger(t, 0, MAX_SEED, "The seed"),
  );
}

async function askKeyAndScale(title: string): Promise<{ key?: string; scale?: string } | undefined> {
  const keyItems: ValueItem<string | null>[] = [
    { label: "Detect from the document", description: "default: the key of the notes already there", value: null },
    ...KEYS.map((k) => ({ label: k.label, description: `:${k.name}`, value: k.name })),
  ];
  const key = await pick(`${title} — key`, keyItems, "Key of the melody");
  if (key === undefined || key === "other") {
    return undefined;
  }
  if (key === null) {
    return {};
  }
  const scaleItems: ValueItem<string>[] = SCALES.map((s) => ({
    label: `:${s.name}`,
    description: s.description,
    value: s.name,
  }));
  const scale = await pick(`${title} — scale`, scaleItems, `Scale on ${key.toUpperCase()}`);
  if (scale === undefined || scale === "other") {
    return undefined;
  }
  return { key, scale };
}

/** Ask for Generate melody's options; `undefined` when the user cancelled. */
export async function askGenerateChoices(d: Defaults): Promise<GenerateChoices | undefined> {
  const title = "notegen: Generate melody";
  const length = await askLength(title, LENGTHS, "generate");
  if (length === undefined) {
    return undefined;
  }
  const keyScale = await askKeyAndScale(title);
  if (keyScale === undefined) {
    return undefined;
  }
  const temperature = await askTemperature(title, d.temperature);
  if (temperature === undefined) {
    return undefined;
  }
  const seed = await askSeed(title);
  if (seed === undefined) {
    return undefined;
  }
  return { length, temperature, topP: d.topP, seed, ...keyScale };
}

/** Ask for Continue melody's options; `undefined` when the user cancelled. */
export async function askContinueChoices(d: Defaults): Promise<ContinueChoices | undefined> {
  const title = "notegen: Continue melody";
  const counts = [d.phraseLength, ...[4, 8, 16].filter((n) => n !== d.phraseLength)];
  const count = await askLength(title, counts, "append to this array");
  if (count === undefined) {
    return undefined;
  }
  return { count, temperature: d.temperature, topP: d.topP, seed: randomSeed() };
}
