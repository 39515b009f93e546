/**
 * notegen for VS Code: a thin client of the `notegen-lsp` language server.
 *
 * Completion, ghost text, diagnostics and hover come from the server through the language
 * client; this file only wires the palette commands, which ask for options and run the server's
 * commands at the cursor. Nothing of the model lives in TypeScript.
 */
import * as vscode from "vscode";
import { wantsNotegen } from "./coexistence";
import { buildContinueArgs, buildGenerateArgs, describeEditResult, numberOr, randomSeed } from "./commandArgs";
import { chooseInterpreter } from "./interpreter";
import { describeModel } from "./modelInfo";
import { openNotegenSettings } from "./openSettings";
import { askWithPreview } from "./preview";
import { askContinueChoices, askGenerateChoices } from "./prompts";
import { CHOOSE_INTERPRETER, DOCUMENT_SELECTOR, NotegenServer } from "./server";
import { PLAY_COMMAND, SonicPiStatus, STOP_COMMAND } from "./sonicPiStatus";
import { ServerStatusItem, STATUS_MENU } from "./status";

/** Palette command ids. The server's own ids (notegen.generateMelody...) are registered by the
 * language client for code actions, so the palette entries use ids of their own. */
export const PALETTE = {
  generate: "notegen.palette.generateMelody",
  continue: "notegen.palette.continueMelody",
  play: "notegen.palette.playInSonicPi",
  stop: "notegen.palette.stopSonicPi",
  restart: "notegen.restartServer",
  showLog: "notegen.showLog",
  showMelody: "notegen.showMelody",
} as const;

let server: NotegenServer | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const status = new SonicPiStatus(PALETTE.stop);
  const serverStatus = new ServerStatusItem();
  // The status item names the model serving the file in front (notegen/model).
  const showModel = (): void => {
    const uri = vscode.window.activeTextEditor?.document.uri;
    const info = uri === undefined ? undefined : notegen.modelOf(uri);
    serverStatus.setModel(info === undefined ? undefined : describeModel(info));
  };
  const notegen: NotegenServer = new NotegenServer({
    onCommandResult: (command, result) => status.observe(command, result),
    status: serverStatus,
    onModel: () => showModel(),
  });
  server = notegen;
  context.subscriptions.push(
    status,
    serverStatus,
    notegen,
    vscode.commands.registerCommand(CHOOSE_INTERPRETER, () => chooseInterpreter((line) => notegen.log(line))),
    vscode.commands.registerCommand(STATUS_MENU, () => statusMenu(notegen)),
    vscode.commands.registerCommand(PALETTE.showMelody, () => showMelody(notegen)),
    vscode.commands.registerCommand(PALETTE.generate, () => generateMelody(notegen)),
    vscode.commands.registerCommand(PALETTE.continue, () => continueMelody(notegen)),
    vscode.commands.registerCommand(PALETTE.play, () => playInSonicPi(notegen)),
    vscode.commands.registerCommand(PALETTE.stop, () => runReporting(notegen, STOP_COMMAND, {})),
    vscode.commands.registerCommand(PALETTE.restart, () => notegen.restart()),
    vscode.commands.registerCommand(PALETTE.showLog, () => notegen.output.show(true)),
  );
  // The server (Python, the model) starts with the first Sonic Pi file, not with any Ruby file.
  const consider = (document: vscode.TextDocument): void => {
    if (!notegen.wanted && isForNotegen(document)) {
      notegen.log(`starting for ${document.uri.toString()}`);
      void notegen.start();
    }
  };
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument(consider),
    vscode.window.onDidChangeActiveTextEditor(showModel),
    vscode.workspace.onDidChangeTextDocument((event) => {
      const key = event.document.uri.toString();
      if (notegen.wanted || pending.has(key)) {
        return;
      }
      pending.set(key, setTimeout(() => {
        pending.delete(key);
        consider(event.document);
      }, 500));
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("notegen.enable") || event.affectsConfiguration("notegen.include")) {
        vscode.workspace.textDocuments.forEach(consider);
      }
    }),
    { dispose: () => pending.forEach((timer) => clearTimeout(timer)) },
  );
  vscode.workspace.textDocuments.forEach(consider);
}

/** A document the server is for: Sonic Pi-looking, or enabled for its folder (notegen.enable). */
function isForNotegen(document: vscode.TextDocument): boolean {
  if (vscode.languages.match(DOCUMENT_SELECTOR, document) === 0) {
    return false;
  }
  const config = vscode.workspace.getConfiguration("notegen", document.uri);
  return wantsNotegen(
    { path: document.uri.fsPath || document.uri.path, languageId: document.languageId, text: () => document.getText() },
    config.get("enable"),
    config.get("include"),
  );
}

async function statusMenu(notegen: NotegenServer): Promise<void> {
  const actions: { label: string; run: () => unknown }[] = [
    { label: "$(debug-restart) Restart server", run: () => notegen.restart() },
    { label: "$(output) Show server log", run: () => notegen.output.show(true) },
    { label: "$(symbol-namespace) Choose Python interpreter", run: () => vscode.commands.executeCommand(CHOOSE_INTERPRETER) },
    { label: "$(gear) Open notegen settings", run: () => openNotegenSettings() },
  ];
  const chosen = await vscode.window.showQuickPick(actions, { title: "notegen" });
  await chosen?.run();
}

/** "Show melody": the hover at the cursor, which pictures the voice in a note array. */
async function showMelody(notegen: NotegenServer): Promise<void> {
  const editor = sonicPiEditor();
  if (editor === undefined || !(await notegen.ensureRunning())) {
    return;
  }
  await vscode.commands.executeCommand("editor.action.showHover");
}

/** Bring an inserted block into view, its first line selected. */
function reveal(editor: vscode.TextEditor, result: unknown): void {
  const r = (typeof result === "object" && result !== null ? result : {}) as Record<string, unknown>;
  if (typeof r.startLine !== "number" || typeof r.endLine !== "number") {
    return;
  }
  const start = new vscode.Position(r.startLine, 0);
  editor.selection = new vscode.Selection(start, start);
  editor.revealRange(new vscode.Range(start, new vscode.Position(r.endLine, 0)), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

function previewWanted(): boolean {
  return vscode.workspace.getConfiguration("notegen").get("previewBeforeInsert") !== false;
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
  // The server first: no questions when it cannot answer them.
  if (editor === undefined || !(await notegen.ensureRunning())) {
    return;
  }
  const choices = await askGenerateChoices(defaults());
  if (choices === undefined) {
    return;
  }
  const position = editor.selection.active;
  for (;;) {
    const args = buildGenerateArgs(editor.document.uri.toString(), position, choices);
    if (previewWanted()) {
      const seen = await runReporting(notegen, "notegen.generateMelody", { ...args, preview: true }, "generating a melody");
      if (!seen.ran) {
        return;
      }
      const answer = await askWithPreview("Generate melody", seen.result as object);
      if (answer === "again") {
        choices.seed = randomSeed();
        continue;
      }
      if (answer !== "insert") {
        return;
      }
    }
    const outcome = await runReporting(notegen, "notegen.generateMelody", args, "generating a melody");
    if (outcome.ran) {
      report(describeEditResult("generate", outcome.result, choices.seed));
      reveal(editor, outcome.result);
    }
    return;
  }
}

async function continueMelody(notegen: NotegenServer): Promise<void> {
  const editor = sonicPiEditor();
  if (editor === undefined || !(await notegen.ensureRunning())) {
    return;
  }
  const choices = await askContinueChoices(defaults());
  if (choices === undefined) {
    return;
  }
  const position = editor.selection.active;
  let args = buildContinueArgs(editor.document.uri.toString(), position, choices);
  while (previewWanted()) {
    const seen = await runReporting(notegen, "notegen.continueMelody", { ...args, preview: true }, "continuing the melody");
    if (!seen.ran) {
      return;
    }
    const answer = await askWithPreview("Continue melody", seen.result as object);
    if (answer === "insert") {
      break;
    }
    if (answer !== "again") {
      return;
    }
    choices.seed = randomSeed();
    args = buildContinueArgs(editor.document.uri.toString(), position, choices);
  }
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
