/**
 * End-to-end test in a real VS Code: code-server (VS Code 1.139 in the browser) driven by
 * headless Chromium through playwright-core.
 *
 * The driver installs the .vsix, opens a Sonic Pi file, types inside a note array and records
 * the completion items notegen offers, runs "notegen: Generate melody" from the command palette
 * and saves the document, changes a setting to check it reaches the running server, then points
 * the extension at a Python without notegen and records the message the user gets. Everything it
 * sees goes into a JSON result that `tests/editor/test_vscode.py` checks with the project's own
 * Sonic Pi reader; screenshots go next to it.
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
  /** The working server: the value for `notegen.server.command`. */
  serverCommand: string;
  /** The model for `notegen.modelPath`. */
  modelPath: string;
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

async function main(): Promise<void> {
  fs.mkdirSync(config.outDir, { recursive: true });
  const userDir = path.join(config.workDir, "user-data");
  const extDir = path.join(config.workDir, "extensions");
  const workspace = path.join(config.workDir, "songs");
  fs.mkdirSync(workspace, { recursive: true });
  const docPath = path.join(workspace, "tune.rb");
  fs.writeFileSync(docPath, config.document);

  const baseSettings: Record<string, unknown> = {
    "notegen.server.command": config.serverCommand,
    "notegen.modelPath": config.modelPath,
    "editor.wordBasedSuggestions": "off",
    "editor.quickSuggestions": { other: false, comments: false, strings: false },
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
    { stdio: ["ignore", csOut, csOut], detached: true, env: { ...process.env, PATH: `${path.dirname(config.node)}:${process.env.PATH ?? ""}` } },
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

    // Open the song with Quick Open.
    await sleep(1500);
    await page.keyboard.press("Control+P");
    await page.locator(".quick-input-widget input").waitFor({ state: "visible" });
    await page.keyboard.type("tune.rb");
    await page.locator(".quick-input-widget .monaco-list-row", { hasText: "tune.rb" }).first().waitFor({ state: "visible" });
    await page.keyboard.press("Enter");
    await page.locator(".monaco-editor .view-lines").first().waitFor({ state: "visible" });
    await page.locator(".tab.active", { hasText: "tune.rb" }).waitFor({ state: "visible" });
    step("opened");

    // Completion: type the trigger inside the note array; retry until the server has started.
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
    result.completionDetail =
      (await page.locator(".editor-widget.suggest-widget.visible .monaco-list-row.focused .details-label").first().textContent().catch(() => null)) ??
      undefined;
    log(`completion items: ${JSON.stringify(result.completionLabels)}`);
    await screenshot(page, "completion.png");
    step("completed");
    await page.keyboard.press("Escape");
    // Undo the typed trigger so the document is the user's again.
    if (config.typeAtCursor !== "") {
      await page.keyboard.press("Control+Z");
    }

    // Generate melody from the palette, at the end of the document.
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Enter");
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
    const original = fs.readFileSync(docPath, "utf8");
    result.documentAfterGenerate = await until("the generated block in the saved file", Math.min(60000, remaining()), async () => {
      await page.keyboard.press("Control+S");
      await sleep(500);
      const text = fs.readFileSync(docPath, "utf8");
      return text.replace(/\s+$/, "") !== original.replace(/\s+$/, "") && /in_thread/.test(text.slice(original.trimEnd().length)) ? text : undefined;
    });
    await sleep(800);
    await screenshot(page, "generate-melody.png");
    step("generated");

    // Ghost text: after a comma at the end of the note array, the server's continuation shows
    // inline (asked for explicitly, so the suggest widget does not hide it).
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
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+Z");
    step("ghostText");

    // Continue melody: the palette appends notes (and durations) to the array under the cursor.
    await page.keyboard.press("Control+S");
    const beforeContinue = fs.readFileSync(docPath, "utf8");
    await goTo(page, config.cursor[0], config.cursor[1]);
    await runFromPalette(page, "notegen: Continue melody");
    result.continuePrompt = await waitForPrompt(page, /How many notes/);
    await page.keyboard.press("Enter");
    result.documentAfterContinue = await until("the continued array in the saved file", 30000, async () => {
      await page.keyboard.press("Control+S");
      await sleep(400);
      const text = fs.readFileSync(docPath, "utf8");
      return text !== beforeContinue ? text : undefined;
    });
    step("continued");

    result.notificationsBeforeFailure = await notifications(page);

    // Play in Sonic Pi: either Sonic Pi plays (status bar item) or the server says it is not running.
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

    // A settings change, made in the Settings editor as a user would, reaches the running server:
    // fewer note items, no reload.
    await page.keyboard.press("Control+Comma");
    await page.locator(".settings-editor").waitFor({ state: "visible" });
    await sleep(500);
    await page.keyboard.type("notegen.maxItems");
    // The search filters the list asynchronously: wait for notegen's own row, not the first input.
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
    await screenshot(page, "settings.png");
    await page.keyboard.press("Control+W");
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
    log(`completion items after maxItems=${config.maxItemsAfterChange}: ${JSON.stringify(result.completionLabelsAfterSettingChange)}`);
    await page.keyboard.press("Escape");
    if (config.typeAtCursor !== "") {
      await page.keyboard.press("Control+Z");
    }
    await page.keyboard.press("Control+S");
    step("settingsPushed");
    // The server crashes: the extension starts a new one and completion comes back by itself.
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
    step("restartedAfterCrash");
    result.notificationsBeforeFailure.push(...(await notifications(page)));

    // The server cannot start: a Python without notegen. The user must be told what to do.
    const { "notegen.server.command": _unused, ...withoutCommand } = baseSettings;
    void _unused;
    writeSettings(userDir, { ...withoutCommand, "notegen.server.pythonPath": config.pythonWithoutNotegen });
    result.missingServerMessage = await until("the message about the missing server", 30000, async () =>
      (await notifications(page)).find((text) => text.includes("cannot start")),
    );
    log(`missing-server message: ${result.missingServerMessage}`);
    await sleep(1000);
    result.notificationsAtFailure = await notifications(page);
    await screenshot(page, "server-missing.png");
    step("missingServerExplained");
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
