/**
 * End-to-end test in a real VS Code: code-server (VS Code 1.139 in the browser) driven by
 * headless Chromium through playwright-core.
 *
 * The driver plays a newcomer: installs the .vsix into a workspace that holds a Rails-like
 * controller and a Sonic Pi file, with no notegen setting but the model. The controller opens
 * first (no server may start), then the song: `python3` has no notegen, so the message offers
 * "Choose interpreter", whose picker finds the project's `.venv`. Then it records completion,
 * the piano-roll hover ("notegen: Show melody"), Generate melody with its preview and the
 * revealed block, ghost text accepted with its durations (the item's command adds them to
 * `b1[0]`), Continue melody, Play, the Settings editor opened from the status item, a crash,
 * silence in the controller, and the status item naming the model of a folder that
 * `notegen.folderModels` maps to a model of `notegen.modelsDir`.
 * Everything it sees goes into a JSON result that `tests/editor/test_vscode.py` checks with the
 * project's own Sonic Pi reader; screenshots go next to it.
 *
 * Usage: node out/test/e2e/run.js CONFIG.json   (fields: see `Config`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { chromium, type Page } from "playwright-core";

interface Config {
  /** Node 24 binary that runs code-server. */
  node: string;
  /** code-server's `out/node/entry.js`. */
  codeServer: string;
  vsix: string;
  chromium: string;
  /** Empty scratch folder: user data, extensions, workspace. */
  workDir: string;
  /** Where the result JSON and the screenshots go. */
  outDir: string;
  /** The Python that has notegen (and its PYTHONPATH): the project's `.venv/bin/python` runs it. */
  serverPython: string;
  serverPythonPath: string;
  /** A Rails-like controller: notegen must stay silent there. */
  railsDocument: string;
  /** A cursor inside its symbol array `[:c, :d, |`. */
  railsCursor: [number, number];
  /** The model for `notegen.modelPath`. */
  modelPath: string;
  /** `notegen.modelsDir`: holds a model named `baroque`, which `baroque/` files use. */
  modelsDir: string;
  /** A Sonic Pi file written to `baroque/fugue.rb` (notegen.folderModels maps the folder). */
  folderDocument: string;
  /** `notegen.slips.sensitivity` in the user settings (must reach the server). */
  slipSensitivity: string;
  /** A Python interpreter that does not have notegen installed. */
  pythonWithoutNotegen: string;
  /** The Sonic Pi document and the cursor (0-based line, character) inside a note array. */
  document: string;
  cursor: [number, number];
  /** A cursor right after the last note of an array, where "," asks for ghost text. */
  ghostCursor: [number, number];
  /** What to type at the cursor before asking for completions (a trigger character). */
  typeAtCursor: string;
  /** The seed typed into Generate melody's seed box. */
  seed: number;
  /** Smaller maxItems pushed through settings.json while the server runs. */
  maxItemsAfterChange: number;
  timeoutSeconds?: number;
}

interface Result {
  steps: string[];
  /** The notegen log once the controller was open (and the extension active). */
  logAfterRails?: string;
  statusAfterRails?: string;
  /** Status item states seen, in order, from the first Sonic Pi file to the running server. */
  statusStates?: string[];
  /** The picker's rows (label · description). */
  interpreterRows?: string[];
  pythonPathChosen?: string;
  /** The piano-roll hover: its image's data URI and whether the browser decoded it. */
  hoverPicture?: string;
  hoverPictureWidth?: number;
  hoverText?: string;
  /** The preview panel of Generate melody: its image data URI. */
  generatePreviewPicture?: string;
  /** Line numbers (1-based) visible in the editor right after Generate melody inserted. */
  visibleLinesAfterGenerate?: number[];
  /** The document after ghost text was accepted (its command adds the durations). */
  documentAfterGhost?: string;
  /** A phrase accepted from the completion list at the end of a1[0], before and after. */
  phraseLabel?: string;
  documentBeforePhrase?: string;
  documentAfterPhrase?: string;
  /** The notegen log line of the settings sent at the last start (JSON after "settings: "). */
  settingsSent?: string;
  /** The status item with the song in front, then with `baroque/fugue.rb` in front. */
  statusWithSong?: string;
  statusWithFolderModel?: string;
  /** The Settings editor opened from the status item: tab and the text boxes found. */
  settingsTab?: string;
  settingsTextBoxes?: string[];
  /** In the controller, with the server running: completion rows and code action titles. */
  railsCompletion?: string[];
  railsCodeActions?: string[];
  completionLabels?: string[];
  completionDetail?: string;
  generatePrompts?: string[];
  documentAfterGenerate?: string;
  completionLabelsAfterSettingChange?: string[];
  ghostText?: string;
  completionLabelsAfterCrash?: string[];
  /** Server pids in start order: a new one after the crash. */
  serverPids?: number[];
  continuePrompt?: string;
  documentAfterContinue?: string;
  /** "status bar: Sonic Pi playing", or the message saying why nothing plays. */
  playOutcome?: string;
  /** Every notification showing once the missing-server message is up: that one alone. */
  notificationsAtFailure?: string[];
  /** Every notification shown before the missing-server step: must hold no error. */
  notificationsBeforeFailure?: string[];
  missingServerMessage?: string;
  /** Quick inputs showing once Generate, run with the server down, has answered: none. */
  promptsWhileDown?: string[];
  screenshots: string[];
  error?: string;
  log?: string;
}

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as Config;
const result: Result = { steps: [], screenshots: [] };
const deadline = Date.now() + (config.timeoutSeconds ?? 300) * 1000;

function log(line: string): void {
  process.stderr.write(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}
const started = Date.now();

function step(name: string): void {
  result.steps.push(name);
  log(`step: ${name}`);
}

function remaining(): number {
  const ms = deadline - Date.now();
  if (ms <= 0) {
    throw new Error("the end-to-end test ran out of time");
  }
  return ms;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      http.get(url, (res) => { res.resume(); resolve((res.statusCode ?? 500) < 500); }).on("error", () => resolve(false));
    });
    if (ok) {
      return;
    }
    await sleep(250);
  }
  throw new Error(`code-server did not answer at ${url}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `probe` returns a value, or fail with `what`. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Math.min(Date.now() + timeoutMs, deadline);
  while (Date.now() < end) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Write settings as a code-server user would: the server's launch settings are paths on the
 * machine that runs the extension, so VS Code reads them (scope machine-overridable) from the
 * remote "Machine" settings; everything else goes in the User settings.
 */
function writeSettings(userDir: string, settings: Record<string, unknown>): void {
  const machine: Record<string, unknown> = {};
  const user: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) {
    (key.startsWith("notegen.server.") ? machine : user)[key] = value;
  }
  for (const [folder, values] of [["User", user], ["Machine", machine]] as const) {
    fs.mkdirSync(path.join(userDir, folder), { recursive: true });
    fs.writeFileSync(path.join(userDir, folder, "settings.json"), JSON.stringify(values, null, 2));
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  const file = path.join(config.outDir, name);
  await page.screenshot({ path: file });
  result.screenshots.push(file);
  log(`screenshot ${file}`);
}

/** Labels of the visible rows of the suggest widget, once it shows at least one. */
async function suggestLabels(page: Page): Promise<string[] | undefined> {
  const rows = page.locator(".editor-widget.suggest-widget.visible .monaco-list-row");
  const n = await rows.count();
  if (n === 0) {
    return undefined;
  }
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = await rows.nth(i).locator(".label-name").first().textContent().catch(() => null);
    if (label !== null) {
      labels.push(label.trim());
    }
  }
  return labels.length > 0 ? labels : undefined;
}

/** The texts of the notification toasts now showing. */
async function notifications(page: Page): Promise<string[]> {
  return (await page.locator(".notifications-toasts .notification-list-item-message").allTextContents()).map((t) => t.trim());
}

/** Put the cursor at a 0-based (line, character) with "Go to line". */
async function goTo(page: Page, line: number, character: number): Promise<void> {
  await page.keyboard.press("Control+G");
  await page.locator(".quick-input-widget input").waitFor({ state: "visible", timeout: remaining() });
  await page.keyboard.type(`${line + 1}:${character + 1}`);
  await page.keyboard.press("Enter");
  await sleep(200);
}

async function runFromPalette(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: remaining() });
  await page.keyboard.type(title);
  await page
    .locator(".quick-input-widget .monaco-list-row", { hasText: title.replace(/^.*?: /, "") })
    .first()
    .waitFor({ state: "visible", timeout: Math.min(20000, remaining()) });
  await page.keyboard.press("Enter");
}

/** Wait until the quick input shows a question matching `pattern`; returns its text. */
async function waitForPrompt(page: Page, pattern: RegExp): Promise<string> {
  return until(`the question ${String(pattern)}`, 15000, async () => {
    const widget = page.locator(".quick-input-widget");
    if (!(await widget.isVisible())) {
      return undefined;
    }
    const title = (await widget.locator(".quick-input-title").textContent().catch(() => "")) ?? "";
    const placeholder = (await widget.locator("input").getAttribute("placeholder").catch(() => "")) ?? "";
    const message = (await widget.locator(".quick-input-message").textContent().catch(() => "")) ?? "";
    const prompt = [title, placeholder, message].filter((s) => s.trim() !== "").join(" | ");
    return pattern.test(prompt) ? prompt : undefined;
  });
}

/** Every file under `dir` whose name matches `pattern`. */
function findFiles(dir: string, pattern: RegExp): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (pattern.test(entry.name)) {
        found.push(full);
      }
    }
  };
  try {
    walk(dir);
  } catch {
    // no logs yet
  }
  return found;
}

/** The pids of the server processes the extension started, from its output channel's log. */
function serverPids(userDir: string): number[] {
  return findFiles(path.join(userDir, "logs"), /notegen\.log$/).flatMap((file) =>
    [...fs.readFileSync(file, "utf8").matchAll(/server process started \(pid (\d+)\)/g)].map((m) => Number(m[1])),
  );
}

/** Copy the extension host's notegen output channel next to the result, for failures. */
function copyExtensionLogs(userDir: string): void {
  for (const file of findFiles(path.join(userDir, "logs"), /notegen\.log$|exthost\.log$|remoteexthost\.log$/)) {
    fs.copyFileSync(file, path.join(config.outDir, path.basename(file)));
  }
}

/** notegen's server status item (not a passing "notegen: ..." status message). */
function statusItem(page: Page): ReturnType<Page["locator"]> {
  return page
    .locator(".part.statusbar .statusbar-item", { hasText: /notegen/ })
    .filter({ has: page.locator(".codicon-pass, .codicon-error, .codicon-loading, .codicon-circle-outline") })
    .first();
}

/** The notegen status item: its state (from its icon) and text. */
async function serverStatus(page: Page): Promise<string | undefined> {
  const item = statusItem(page);
  if ((await item.count()) === 0) {
    return undefined;
  }
  const html = (await item.innerHTML().catch(() => "")) ?? "";
  const text = ((await item.textContent().catch(() => "")) ?? "").trim();
  const state = /codicon-loading/.test(html)
    ? "starting"
    : /codicon-pass/.test(html)
      ? "ready"
      : /codicon-error/.test(html)
        ? "failed"
        : /codicon-circle-outline/.test(html)
          ? "waiting"
          : "unknown";
  return `${state}: ${text}`;
}

/** 1-based line numbers the editor shows now. */
async function visibleLineNumbers(page: Page): Promise<number[]> {
  const texts = await page.locator(".monaco-editor .margin-view-overlays .line-numbers").allTextContents();
  return texts.map((t) => Number(t.trim())).filter((n) => Number.isInteger(n) && n > 0);
}

async function clickNotificationButton(page: Page, label: string): Promise<void> {
  const button = page.locator(".notifications-toasts .monaco-button", { hasText: label }).first();
  await button.waitFor({ state: "visible", timeout: Math.min(30000, remaining()) });
  await button.click();
}

async function openWithQuickOpen(page: Page, name: string): Promise<void> {
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(name);
  await until(`Quick Open to pick ${name}`, 15000, async () => {
    const focused = page.locator(".quick-input-widget .monaco-list-row.focused", { hasText: name });
    return (await input.inputValue()) === name && (await focused.count()) > 0 ? true : undefined;
  });
  await page.keyboard.press("Enter");
  await page.locator(".tab.active", { hasText: name }).waitFor({ state: "visible" });
  await page.locator(".monaco-editor .view-lines").first().waitFor({ state: "visible" });
}

/** Completion rows at the cursor after Ctrl+Space, or [] when the widget says there are none. */
async function completionAt(page: Page): Promise<string[]> {
  return until("the suggest widget to answer", 30000, async () => {
    await page.keyboard.press("Control+Space");
    await sleep(800);
    const labels = await suggestLabels(page);
    if (labels !== undefined) {
      return labels;
    }
    const none = page.locator(".editor-widget.suggest-widget", { hasText: /No suggestions/ });
    return (await none.count()) > 0 ? [] : undefined;
  });
}

async function main(): Promise<void> {
  fs.mkdirSync(config.outDir, { recursive: true });
  const userDir = path.join(config.workDir, "user-data");
  const extDir = path.join(config.workDir, "extensions");
  const workspace = path.join(config.workDir, "songs");
  fs.mkdirSync(path.join(workspace, "app", "controllers"), { recursive: true });
  const docPath = path.join(workspace, "tune.rb");
  fs.writeFileSync(docPath, config.document);
  const railsPath = path.join(workspace, "app", "controllers", "posts_controller.rb");
  fs.writeFileSync(railsPath, config.railsDocument);
  fs.mkdirSync(path.join(workspace, "baroque"), { recursive: true });
  fs.writeFileSync(path.join(workspace, "baroque", "fugue.rb"), config.folderDocument);
  // The project's own virtualenv, as a newcomer would have made it: its python runs the one
  // that has notegen (a wrapper, so the server is this checkout's, whatever PATH says).
  const venvBin = path.join(workspace, ".venv", "bin");
  fs.mkdirSync(venvBin, { recursive: true });
  const projectPython = path.join(venvBin, "python");
  const pythonPathLine = config.serverPythonPath === "" ? "" : `export PYTHONPATH=${JSON.stringify(config.serverPythonPath)}\n`;
  fs.writeFileSync(projectPython, `#!/bin/sh\n${pythonPathLine}exec ${JSON.stringify(config.serverPython)} "$@"\n`, { mode: 0o755 });

  const baseSettings: Record<string, unknown> = {
    "notegen.modelPath": config.modelPath,
    "notegen.modelsDir": config.modelsDir,
    "notegen.folderModels": { "${workspaceFolder}/baroque": "baroque" },
    "notegen.slips.sensitivity": config.slipSensitivity,
    "editor.wordBasedSuggestions": "off",
    "editor.quickSuggestions": { other: false, comments: false, strings: false },
    "editor.inlineSuggest.enabled": false,
    "editor.minimap.enabled": false,
    "editor.fontSize": 15,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "security.workspace.trust.enabled": false,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": false,
    "extensions.ignoreRecommendations": true,
    "chat.disableAIFeatures": true,
    "files.autoSave": "off",
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.colorTheme": "Default Dark Modern",
  };
  writeSettings(userDir, baseSettings);

  const csArgs = ["--user-data-dir", userDir, "--extensions-dir", extDir];
  log("installing the .vsix into code-server");
  execFileSync(config.node, [config.codeServer, ...csArgs, "--install-extension", config.vsix], {
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 120000,
  });
  step("installed");

  const port = await freePort();
  const csConfig = path.join(config.workDir, "code-server.yaml");
  fs.writeFileSync(csConfig, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const codeServerLog = path.join(config.outDir, "code-server.log");
  const csOut = fs.openSync(codeServerLog, "w");
  // A newcomer's machine: `python3` on PATH has no notegen, nothing points at the checkout.
  const { PYTHONPATH: _pythonPath, ...cleanEnv } = process.env;
  void _pythonPath;
  const newcomerPath = [path.dirname(config.node), path.dirname(config.pythonWithoutNotegen), cleanEnv.PATH ?? ""].join(":");
  const cs: ChildProcess = spawn(
    config.node,
    [
      config.codeServer,
      "--config", csConfig,
      "--auth", "none",
      "--bind-addr", `127.0.0.1:${port}`,
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--ignore-last-opened",
      ...csArgs,
      workspace,
    ],
    { stdio: ["ignore", csOut, csOut], detached: true, env: { ...cleanEnv, PATH: newcomerPath } },
  );
  const browser = await chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  let failurePage: Page | undefined;
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60000);
    step("code-server");
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    failurePage = page;
    page.setDefaultTimeout(30000);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: Math.min(90000, remaining()) });
    await page.locator(".part.statusbar").waitFor({ state: "visible" });
    step("workbench");
    await sleep(1500);

    // 1. A Rails controller first: the extension activates (Ruby) but starts no server.
    await openWithQuickOpen(page, "posts_controller.rb");
    result.statusAfterRails = await until("the notegen status item", 60000, () => serverStatus(page));
    result.logAfterRails = findFiles(path.join(userDir, "logs"), /notegen\.log$/).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    step("railsQuiet");

    // 2. The song: the server starts with python3, which has no notegen: one clear message.
    const states: string[] = [];
    const watchStatus = async (): Promise<void> => {
      const s = await serverStatus(page);
      const state = s?.split(":")[0];
      if (state !== undefined && states.at(-1) !== state) {
        states.push(state);
      }
    };
    await openWithQuickOpen(page, "tune.rb");
    result.missingServerMessage = await until("the message about the missing server", 60000, async () => {
      await watchStatus();
      return (await notifications(page)).find((text) => text.includes("cannot start"));
    });
    await watchStatus();
    await sleep(500);
    result.notificationsAtFailure = await notifications(page);
    await screenshot(page, "server-missing.png");
    // Generate with the server down: the reason again (logged a second time), no questions.
    await runFromPalette(page, "notegen: Generate melody");
    result.promptsWhileDown = await until("Generate to repeat why the server is down", 30000, async () => {
      await screenshot(page, "status-model.png");
    const logged = findFiles(path.join(userDir, "logs"), /notegen\.log$/).map((f) => fs.readFileSync(f, "utf8")).join("\n");
      if (logged.split("does not have the notegen server").length - 1 < 2) {
        return undefined;
      }
      const widget = page.locator(".quick-input-widget");
      if (!(await widget.isVisible())) {
        return [];
      }
      if (((await widget.locator("input").inputValue().catch(() => "")) ?? "").startsWith(">")) {
        return undefined; // the command palette that ran Generate, still closing: look again
      }
      const title = (await widget.locator(".quick-input-title").textContent().catch(() => "")) ?? "";
      const placeholder = (await widget.locator("input").getAttribute("placeholder").catch(() => "")) ?? "";
      return [[title, placeholder].filter((s) => s.trim() !== "").join(" | ")];
    });
    step("missingServerExplained");

    // 3. "Choose interpreter": the picker finds the project's .venv and marks it.
    await clickNotificationButton(page, "Choose interpreter");
    const venvRow = page.locator(".quick-input-widget .monaco-list-row", { hasText: ".venv/bin/python" }).first();
    await venvRow.waitFor({ state: "visible", timeout: Math.min(60000, remaining()) });
    await until("the interpreters to be probed", 30000, async () =>
      (await page.locator(".quick-input-widget .monaco-list-row", { hasText: /has notegen|no notegen/ }).count()) > 0 ? true : undefined,
    );
    result.interpreterRows = (await page.locator(".quick-input-widget .monaco-list-row").allTextContents()).map((t) => t.replace(/\s+/g, " ").trim());
    await screenshot(page, "choose-interpreter.png");
    await venvRow.click();
    await until("the server to run after the pick", 90000, async () => {
      await watchStatus();
      return states.at(-1) === "ready" ? true : undefined;
    });
    result.statusStates = states;
    const machine = JSON.parse(fs.readFileSync(path.join(userDir, "Machine", "settings.json"), "utf8") || "{}") as Record<string, unknown>;
    const user = JSON.parse(fs.readFileSync(path.join(userDir, "User", "settings.json"), "utf8") || "{}") as Record<string, unknown>;
    const chosen = machine["notegen.server.pythonPath"] ?? user["notegen.server.pythonPath"];
    result.pythonPathChosen = typeof chosen === "string" ? chosen : JSON.stringify(chosen);
    await runFromPalette(page, "Notifications: Clear All Notifications");
    step("interpreterChosen");

    // 4. Completion inside the note array (the README's lead picture: no ghost text, no squiggle).
    await page.locator(".monaco-editor .view-lines").first().click();
    await goTo(page, config.cursor[0], config.cursor[1]);
    await page.keyboard.type(config.typeAtCursor);
    const labels = await until("notegen's completion items", Math.min(90000, remaining()), async () => {
      const found = await suggestLabels(page);
      if (found === undefined) {
        await page.keyboard.press("Control+Space");
        await sleep(700);
      }
      return found;
    });
    await sleep(600);
    result.completionLabels = (await suggestLabels(page)) ?? labels;
    result.statusWithSong = await until("the model in the status item", 30000, async () => {
      const shown = await serverStatus(page);
      return shown !== undefined && shown.startsWith("ready") && shown.includes("notegen: ") ? shown : undefined;
    }).catch(async () => (await serverStatus(page)) ?? "(no status item)");
    result.completionDetail =
      (await page.locator(".editor-widget.suggest-widget.visible .monaco-list-row.focused .details-label").first().textContent().catch(() => null)) ??
      undefined;
    log(`completion items: ${JSON.stringify(result.completionLabels)}`);
    await screenshot(page, "completion.png");
    step("completed");
    await page.keyboard.press("Escape");
    if (config.typeAtCursor !== "") {
      await page.keyboard.press("Control+Z");
    }

    // 5. The picture of the melody: "notegen: Show melody" on a note shows the hover.
    await goTo(page, config.cursor[0], config.cursor[1] - 3);
    const hoverImage = page.locator(".monaco-hover img[src^='data:image/svg+xml']").first();
    await until("the piano-roll hover", 30000, async () => {
      if ((await hoverImage.count()) > 0 && (await hoverImage.isVisible())) {
        return true;
      }
      await runFromPalette(page, "notegen: Show melody");
      await sleep(1500);
      return undefined;
    });
    result.hoverPicture = (await hoverImage.getAttribute("src")) ?? undefined;
    result.hoverPictureWidth = await hoverImage.evaluate((img) => (img as HTMLImageElement).naturalWidth);
    result.hoverText = ((await page.locator(".monaco-hover").first().textContent()) ?? "").trim();
    await sleep(400);
    await screenshot(page, "piano-roll-hover.png");
    await page.keyboard.press("Escape");
    step("melodyPictured");

    // 6. Generate melody at the end: questions, the preview, Insert, the block revealed.
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Control+S");
    await runFromPalette(page, "notegen: Generate melody");
    const prompts: string[] = [];
    prompts.push(await waitForPrompt(page, /How many notes/));
    await page.keyboard.press("Enter");
    prompts.push(await waitForPrompt(page, /Key of the melody/));
    await screenshot(page, "generate-melody-prompt.png");
    await page.keyboard.press("Enter");
    prompts.push(await waitForPrompt(page, /Temperature/));
    await page.keyboard.press("Enter");
    prompts.push(await waitForPrompt(page, /Random seed/));
    const seedBox = page.locator(".quick-input-widget input");
    await seedBox.fill(String(config.seed));
    await until("the seed in the input box", 5000, async () => ((await seedBox.inputValue()) === String(config.seed) ? true : undefined));
    await page.keyboard.press("Enter");
    result.generatePrompts = prompts;
    const previewFrame = page.frameLocator("iframe.webview").frameLocator("iframe#active-frame");
    const previewImage = previewFrame.locator("img[src^='data:image/svg+xml']").first();
    await previewImage.waitFor({ state: "visible", timeout: Math.min(60000, remaining()) });
    result.generatePreviewPicture = (await previewImage.getAttribute("src")) ?? undefined;
    await sleep(500);
    await screenshot(page, "generate-preview.png");
    const original = fs.readFileSync(docPath, "utf8");
    await clickNotificationButton(page, "Insert");
    result.documentAfterGenerate = await until("the generated block in the editor", Math.min(60000, remaining()), async () => {
      await page.keyboard.press("Control+S");
      await sleep(500);
      const text = fs.readFileSync(docPath, "utf8");
      return text.replace(/\s+$/, "") !== original.replace(/\s+$/, "") && /in_thread/.test(text.slice(original.trimEnd().length)) ? text : undefined;
    });
    await sleep(800);
    result.visibleLinesAfterGenerate = await visibleLineNumbers(page);
    await screenshot(page, "generate-melody.png");
    step("generated");

    // 7. Ghost text after a comma at the end of the note array, accepted with Tab; the item's
    //    command then adds the new notes' durations to b1[0].
    const userSettings = path.join(userDir, "User", "settings.json");
    const current = JSON.parse(fs.readFileSync(userSettings, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(userSettings, JSON.stringify({ ...current, "editor.inlineSuggest.enabled": true }, null, 2));
    await sleep(1000);
    await page.locator(".monaco-editor .view-lines").first().click();
    await goTo(page, config.ghostCursor[0], config.ghostCursor[1]);
    await page.keyboard.type(",");
    await page.keyboard.press("Escape");
    result.ghostText = await until("ghost text", 30000, async () => {
      const parts = page.locator(".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview, .monaco-editor .ghost-text");
      const n = await parts.count();
      const text = n === 0 ? "" : (await parts.allTextContents()).join("").trim();
      if (text === "") {
        await runFromPalette(page, "Trigger Inline Suggestion");
        await sleep(1000);
        return undefined;
      }
      return text;
    });
    log(`ghost text: ${result.ghostText}`);
    await sleep(300);
    await screenshot(page, "ghost-text.png");
    const durationsLine = (text: string): string => text.split(/\r?\n/)[config.ghostCursor[0] + 1] ?? "";
    const beforeTab = fs.readFileSync(docPath, "utf8");
    await page.keyboard.press("Tab");
    // The item's command adds the new notes' durations to b1[0] by itself (no quick fix).
    result.documentAfterGhost = await until("the accepted notes' durations in b1[0]", 30000, async () => {
      await page.keyboard.press("Control+S");
      await sleep(500);
      const text = fs.readFileSync(docPath, "utf8");
      return durationsLine(text) !== durationsLine(beforeTab) ? text : undefined;
    }).catch(() => fs.readFileSync(docPath, "utf8"));
    step("ghostText");

    // 8. Continue melody: the palette appends notes (and durations), after its preview.
    const beforeContinue = fs.readFileSync(docPath, "utf8");
    await goTo(page, config.cursor[0], config.cursor[1]);
    await runFromPalette(page, "notegen: Continue melody");
    result.continuePrompt = await waitForPrompt(page, /How many notes/);
    await page.keyboard.press("Enter");
    await previewFrame.locator("img[src^='data:image/svg+xml']").first().waitFor({ state: "visible", timeout: Math.min(60000, remaining()) });
    await clickNotificationButton(page, "Insert");
    result.documentAfterContinue = await until("the continued array in the saved file", 30000, async () => {
      await page.keyboard.press("Control+S");
      await sleep(400);
      const text = fs.readFileSync(docPath, "utf8");
      return text !== beforeContinue ? text : undefined;
    });
    step("continued");

    // 8b. A phrase from the completion list, typed after a comma at the end of a1[0]: its
    //     command (CompletionItem.command) gives b1[0] the phrase's durations.
    const beforePhrase = fs.readFileSync(docPath, "utf8");
    const notesLine = beforePhrase.split(/\r?\n/)[config.ghostCursor[0]] ?? "";
    await goTo(page, config.ghostCursor[0], notesLine.lastIndexOf("]"));
    await page.keyboard.type(",");
    // The list shows its first rows only; the phrases sort last: ArrowUp wraps to the longest.
    // The server's first list at a new cursor holds its notes only (it computes the phrase
    // after answering, or for the ghost text asked at the same keystroke): without a phrase
    // at the end, the list is asked for again, as a user would with Ctrl+Space.
    const focused = page.locator(".editor-widget.suggest-widget.visible .monaco-list-row.focused .label-name").first();
    const longest = await until("a phrase at the end of the completion list", 30000, async () => {
      if ((await suggestLabels(page)) === undefined) {
        await page.keyboard.press("Control+Space");
        await sleep(700);
        return undefined;
      }
      await page.keyboard.press("ArrowUp");
      await sleep(300);
      const label = ((await focused.textContent().catch(() => "")) ?? "").trim();
      if (label.includes(",")) return label;
      await page.keyboard.press("Escape");
      await sleep(200);
      return undefined;
    });
    result.phraseLabel = longest;
    await page.keyboard.press("Enter");
    result.documentAfterPhrase = await until("the phrase's durations in b1[0]", 30000, async () => {
      await page.keyboard.press("Control+S");
      await sleep(500);
      const text = fs.readFileSync(docPath, "utf8");
      return durationsLine(text) !== durationsLine(beforePhrase) ? text : undefined;
    }).catch(() => fs.readFileSync(docPath, "utf8"));
    result.documentBeforePhrase = beforePhrase;
    step("phraseAccepted");

    result.notificationsBeforeFailure = await notifications(page);

    // 9. Play in Sonic Pi: either Sonic Pi plays (status bar item) or the server says it is not running.
    await goTo(page, config.cursor[0], config.cursor[1]);
    await runFromPalette(page, "notegen: Play in Sonic Pi");
    result.playOutcome = await until("Sonic Pi playing or a message about Sonic Pi", 15000, async () => {
      const playing = page.locator(".part.statusbar", { hasText: "Sonic Pi playing" });
      if ((await playing.count()) > 0) {
        return "status bar: Sonic Pi playing";
      }
      return (await notifications(page)).find((text) => /Sonic Pi/i.test(text));
    });
    log(`play: ${result.playOutcome}`);
    await screenshot(page, "play-in-sonic-pi.png");
    await runFromPalette(page, "notegen: Stop Sonic Pi");
    await sleep(500);
    await page.keyboard.press("Escape");
    await runFromPalette(page, "Notifications: Clear All Notifications");
    step("played");

    // 10. Settings, opened from the status item as a user would: the Workspace tab, where the
    //     server's path settings are text boxes; a change reaches the running server.
    await statusItem(page).click();
    await page.locator(".quick-input-widget .monaco-list-row", { hasText: "Open notegen settings" }).first().click();
    await page.locator(".settings-editor").waitFor({ state: "visible" });
    await sleep(1000);
    result.settingsTab = ((await page.locator(".settings-editor .settings-tabs-widget .action-label.checked").first().textContent().catch(() => "")) ?? "").trim();
    // The search box has the focus (its query selected): search each path setting in turn.
    const boxes: string[] = [];
    for (const key of ["notegen.modelPath", "notegen.server.command", "notegen.server.pythonPath"]) {
      await page.keyboard.press("Control+A");
      await page.keyboard.type(key);
      const box = page.locator(`.settings-editor input[aria-label="${key}"]`);
      if (await box.waitFor({ state: "visible", timeout: 10000 }).then(() => true, () => false)) {
        boxes.push(key);
      }
    }
    result.settingsTextBoxes = boxes;
    await screenshot(page, "settings.png");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("notegen.maxItems");
    const maxItemsBox = page.locator('.settings-editor input[aria-label="notegen.maxItems"]');
    await maxItemsBox.waitFor({ state: "visible" });
    await maxItemsBox.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.type(String(config.maxItemsAfterChange));
    await page.keyboard.press("Tab");
    await until("the setting to be saved", 10000, async () =>
      (await maxItemsBox.inputValue()) === String(config.maxItemsAfterChange) ? true : undefined,
    );
    await sleep(1000);
    await page.keyboard.press("Control+W");
    if (await page.locator(".settings-editor").isVisible()) {
      await page.keyboard.press("Escape");
    }
    await page.locator(".settings-editor").waitFor({ state: "hidden" });
    await page.locator(".tab.active", { hasText: "tune.rb" }).waitFor({ state: "visible" });
    await page.locator(".monaco-editor .view-lines").first().click();
    await goTo(page, config.cursor[0], config.cursor[1]);
    await page.keyboard.type(config.typeAtCursor);
    let lastLabels: string[] = [];
    result.completionLabelsAfterSettingChange = await until(
      `completion with at most ${config.maxItemsAfterChange} notes after the settings change`,
      30000,
      async () => {
        await page.keyboard.press("Escape");
        await page.keyboard.press("Control+Space");
        await sleep(800);
        lastLabels = (await suggestLabels(page)) ?? [];
        const notes = lastLabels.filter((label) => !label.includes(","));
        return lastLabels.length > 0 && notes.length <= config.maxItemsAfterChange ? lastLabels : undefined;
      },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last items: ${JSON.stringify(lastLabels)}`);
    });
    await page.keyboard.press("Escape");
    if (config.typeAtCursor !== "") {
      await page.keyboard.press("Control+Z");
    }
    await page.keyboard.press("Control+S");
    step("settingsPushed");

    // 11. The server crashes: the extension starts a new one and completion comes back by itself.
    const crashedPid = await until("the server's pid in the notegen log", 10000, () => Promise.resolve(serverPids(userDir).at(-1)));
    process.kill(crashedPid, "SIGKILL");
    log(`killed the server (pid ${crashedPid})`);
    await sleep(1500);
    await goTo(page, config.cursor[0], config.cursor[1]);
    await page.keyboard.type(config.typeAtCursor);
    result.completionLabelsAfterCrash = await until("completion after the server crashed", 60000, async () => {
      await page.keyboard.press("Escape");
      await page.keyboard.press("Control+Space");
      await sleep(1000);
      return suggestLabels(page);
    });
    result.serverPids = serverPids(userDir);
    await page.keyboard.press("Escape");
    if (config.typeAtCursor !== "") {
      await page.keyboard.press("Control+Z");
    }
    await page.keyboard.press("Control+S");
    step("restartedAfterCrash");
    result.notificationsBeforeFailure.push(...(await notifications(page)));

    // 12. Back in the controller with the server running: no notes, no "Generate melody".
    await openWithQuickOpen(page, "posts_controller.rb");
    await page.locator(".monaco-editor .view-lines").first().click();
    await goTo(page, config.railsCursor[0], config.railsCursor[1]);
    result.railsCompletion = await completionAt(page);
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+.");
    result.railsCodeActions = await until("the code action menu in the controller", 15000, async () => {
      const rows = page.locator(".action-widget .monaco-list-row");
      if ((await rows.count()) > 0 && (await rows.first().isVisible())) {
        return (await rows.allTextContents()).map((t) => t.trim());
      }
      const none = page.locator(".monaco-editor", { hasText: /No code actions/ });
      return (await none.count()) > 0 ? ["(No code actions available)"] : undefined;
    }).catch(() => ["(no code action menu)"]);
    await page.keyboard.press("Escape");
    step("railsSilent");

    // 13. A file in baroque/: notegen.folderModels names the model of notegen.modelsDir that
    //     serves it, and the status item says so; the settings sent carry the slip settings.
    await openWithQuickOpen(page, "fugue.rb");
    result.statusWithFolderModel = await until("the folder's model in the status item", 60000, async () => {
      const shown = await serverStatus(page);
      return shown?.includes("baroque") === true ? shown : undefined;
    });
    await screenshot(page, "status-model.png");
    const logged = findFiles(path.join(userDir, "logs"), /notegen\.log$/).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    result.settingsSent = [...logged.matchAll(/settings: (\{.*\})$/gm)].map((m) => m[1]).at(-1);
    step("modelShown");
  } catch (error) {
    if (failurePage !== undefined) {
      await screenshot(failurePage, "failure.png").catch(() => undefined);
    }
    throw error;
  } finally {
    copyExtensionLogs(userDir);
    await browser.close().catch(() => undefined);
    if (cs.pid !== undefined) {
      try {
        process.kill(-cs.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    fs.closeSync(csOut);
    result.log = codeServerLog;
  }
}

main()
  .catch((error: unknown) => {
    result.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`FAILED: ${result.error}`);
  })
  .finally(() => {
    fs.writeFileSync(path.join(config.outDir, "result.json"), JSON.stringify(result, null, 2));
    log(`steps: ${result.steps.join(", ")}`);
    process.exit(result.error === undefined ? 0 : 1);
  });
