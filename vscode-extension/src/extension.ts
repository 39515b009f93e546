/**
 * notegen for VS Code: a thin client of the `notegen-lsp` language server.
 *
 * Completion, ghost text, diagnostics and hover come from the server through the language
 * client; this file only wires the palette commands, which ask for options and run the server's
 * commands at the cursor. Nothing of the model lives in TypeScript.
 */
import * as vscode from "vscode";
import { buildContinueArgs, buildGenerateArgs, describeEditResult, numberOr } from "./commandArgs";
import { askContinueChoices, askGenerateChoices } from "./prompts";
import { DOCUMENT_SELECTOR, NotegenServer } from "./server";
import { PLAY_COMMAND, SonicPiStatus, STOP_COMMAND } from "./sonicPiStatus";

/** Palette command ids. The server's own ids (notegen.generateMelody...) are registered by the
 * language client for code actions, so the palette entries use ids of their own. */
export const PALETTE = {
  generate: "notegen.palette.generateMelody",
  continue: "notegen.palette.continueMelody",
  play: "notegen.palette.playInSonicPi",
  stop: "notegen.palette.stopSonicPi",
  restart: "notegen.restartServer",
  showLog: "notegen.showLog",
} as const;

let server: NotegenServer | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const status = new SonicPiStatus(PALETTE.stop);
  const notegen = new NotegenServer({ onCommandResult: (command, result) => status.observe(command, result) });
  server = notegen;
  context.subscriptions.push(
    status,
    notegen,
    vscode.commands.registerCommand(PALETTE.generate, () => generateMelody(notegen)),
    vscode.commands.registerCommand(PALETTE.continue, () => continueMelody(notegen)),
    vscode.commands.registerCommand(PALETTE.play, () => playInSonicPi(notegen)),
    vscode.commands.registerCommand(PALETTE.stop, () => runReporting(notegen, STOP_COMMAND, {})),
    vscode.commands.registerCommand(PALETTE.restart, () => notegen.restart()),
    vscode.commands.registerCommand(PALETTE.showLog, () => notegen.output.show(true)),
  );
  await notegen.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}

/** The editor the palette command applies to, or a message saying why there is none. */
function sonicPiEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined || vscode.languages.match(DOCUMENT_SELECTOR, editor.document) === 0) {
    void vscode.window.showWarningMessage("notegen: open a Sonic Pi file (.rb) and put the cursor where the melody goes.");
    return undefined;
  }
  return editor;
}

function defaults(): { temperature: number; topP: number; phraseLength: number } {
  const config = vscode.workspace.getConfiguration("notegen");
  return {
    temperature: numberOr(config.get("temperature"), 1.0),
    topP: numberOr(config.get("topP"), 0.95),
    phraseLength: Math.max(1, Math.round(numberOr(config.get("phraseLength"), 8))),
  };
}

async function generateMelody(notegen: NotegenServer): Promise<void> {
  const editor = sonicPiEditor();
  if (editor === undefined) {
    return;
  }
  const choices = await askGenerateChoices(defaults());
  if (choices === undefined) {
    return;
  }
  const args = buildGenerateArgs(editor.document.uri.toString(), editor.selection.active, choices);
  const outcome = await runReporting(notegen, "notegen.generateMelody", args, "generating a melody");
  if (outcome.ran) {
    report(describeEditResult("generate", outcome.result, choices.seed));
  }
}

async function continueMelody(notegen: NotegenServer): Promise<void> {
  const editor = sonicPiEditor();
  if (editor === undefined) {
    return;
  }
  const choices = await askContinueChoices(defaults());
  if (choices === undefined) {
    return;
  }
  const args = buildContinueArgs(editor.document.uri.toString(), editor.selection.active, choices);
  const outcome = await runReporting(notegen, "notegen.continueMelody", args, "continuing the melody");
  if (outcome.ran) {
    report(describeEditResult("continue", outcome.result, choices.seed));
  }
}

async function playInSonicPi(notegen: NotegenServer): Promise<void> {
  const editor = sonicPiEditor();
  if (editor === undefined) {
    return;
  }
  const { line, character } = editor.selection.active;
  await runReporting(notegen, PLAY_COMMAND, { uri: editor.document.uri.toString(), position: { line, character } });
}

/** A finished edit shows in the status bar; a refused one as an error. */
function report(outcome: { ok: boolean; text: string }): void {
  if (outcome.ok) {
    vscode.window.setStatusBarMessage(outcome.text, 10000);
  } else {
    void vscode.window.showErrorMessage(outcome.text);
  }
}

/** Run a server command with a progress note; a JSON-RPC error becomes an error message. */
async function runReporting(
  notegen: NotegenServer,
  command: string,
  args: object,
  doing?: string,
): Promise<{ ran: boolean; result?: unknown }> {
  try {
    const run = (): Promise<{ ran: boolean; result?: unknown }> => notegen.executeCommand(command, args);
    return doing === undefined
      ? await run()
      : await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `notegen: ${doing}…` }, run);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    notegen.log(`${command} failed: ${message}`);
    void vscode.window.showErrorMessage(`notegen: ${message}`);
    return { ran: false };
  }
}
