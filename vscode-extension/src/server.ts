/**
 * The notegen language server's lifecycle: launch, settings sync, restart, failure messages.
 *
 * The process is spawned here (not by the language client) so that its stderr tail and spawn
 * error are at hand when it fails: the user then gets one message that names the cause and the
 * fix, instead of the client's generic "couldn't create connection to server".
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  CloseAction,
  type CloseHandlerResult,
  DidChangeConfigurationNotification,
  ErrorAction,
  type ErrorHandlerResult,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type Message,
  State,
} from "vscode-languageclient/node";
import { describeLaunch, type Launch, resolveLaunch } from "./launch";
import { MODEL_NOTIFICATION, type ModelInfo, parseModelInfo } from "./modelInfo";
import { openNotegenSettings } from "./openSettings";
import { interpreterFromPythonExtension } from "./pythonExtension";
import { changeKind, expandVariables, type PathContext, serverSettings } from "./settings";
import type { ServerStatusItem } from "./status";
import { explainStartFailure, type Failure, lastLine } from "./startupFailure";

/** Ruby files, and the language ids of the Sonic Pi extensions on the marketplace. */
export const LANGUAGE_IDS = ["ruby", "sonic-pi", "sonicpi"] as const;

/** Plain filters, valid both as a VS Code selector and as the language client's. */
export const DOCUMENT_SELECTOR: { scheme: string; language?: string; pattern?: string }[] = [
  ...LANGUAGE_IDS.flatMap((language) => [
    { scheme: "file", language },
    { scheme: "untitled", language },
  ]),
  { scheme: "file", pattern: "**/*.rb" },
];

const STDERR_TAIL_CHARS = 4000;
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 3 * 60 * 1000;

/** The language client, quiet about start failures: NotegenServer explains them itself. */
class NotegenClient extends LanguageClient {
  quietStart = false;

  override error(message: string, data?: unknown, showNotification: boolean | "force" = true): void {
    super.error(message, data, this.quietStart ? false : showNotification);
  }
}

/** A spawned server process and what it said on stderr. */
class ServerProcess {
  readonly child: ChildProcess;
  stderrTail = "";
  spawnErrorCode: string | undefined;
  exitCode: number | null | undefined;
  readonly closed: Promise<void>;
  readonly spawned: Promise<void>;

  constructor(launch: Launch, cwd: string | undefined) {
    this.child = spawn(launch.command, launch.args, {
      cwd,
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_CHARS);
    });
    this.spawned = new Promise((resolve, reject) => {
      this.child.once("spawn", () => resolve());
      this.child.once("error", (error: NodeJS.ErrnoException) => {
        this.spawnErrorCode = error.code;
        reject(error);
      });
    });
    this.spawned.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      this.child.once("close", (code) => {
        this.exitCode = code;
        resolve();
      });
      this.child.once("error", () => resolve());
    });
  }

  failure(errorMessage?: string): Failure {
    return {
      spawnErrorCode: this.spawnErrorCode,
      exitCode: this.exitCode,
      stderrTail: this.stderrTail,
      errorMessage,
    };
  }
}

export interface ServerHooks {
  /** Called with every server command that ran and its result (palette or code action). */
  onCommandResult(command: string, result: unknown): void;
  /** The status bar item that shows starting / ready / failed. */
  status: ServerStatusItem;
  /** The server said which model serves a document (`notegen/model`). */
  onModel(info: ModelInfo): void;
}

/** Commands the failure messages offer. */
export const CHOOSE_INTERPRETER = "notegen.chooseInterpreter";

export class NotegenServer implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  private client: NotegenClient | undefined;
  private process: ServerProcess | undefined;
  private restarts: number[] = [];
  private starting: Promise<void> | undefined;
  private restarting: Promise<void> = Promise.resolve();
  /** Why the server is not running, to repeat when a command needs it. */
  private lastFailure: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** The model of each document the server has read, by normalized URI. */
  private readonly models = new Map<string, ModelInfo>();

  constructor(private readonly hooks: ServerHooks) {
    this.output = vscode.window.createOutputChannel("notegen", { log: true });
    this.disposables.push(
      this.output,
      vscode.workspace.onDidChangeConfiguration((event) => this.onConfigurationChanged(event)),
    );
  }

  /** Which model serves `uri`, as the server last said (`undefined`: not read by it). */
  modelOf(uri: vscode.Uri): ModelInfo | undefined {
    return this.models.get(uri.toString());
  }

  private onModelNotification(params: unknown): void {
    const info = parseModelInfo(params);
    if (info === undefined) {
      this.log(`ignored a malformed ${MODEL_NOTIFICATION} notification: ${JSON.stringify(params)}`);
      return;
    }
    const key = vscode.Uri.parse(info.uri).toString();
    this.models.set(key, info);
    this.log(`model for ${key}: ${info.model} (${info.source})${info.error === null ? "" : `: ${info.error}`}`);
    this.hooks.onModel(info);
  }

  get isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  log(line: string): void {
    this.output.info(line);
  }

  /** Whether start() was ever asked for (the server starts with the first Sonic Pi file). */
  get wanted(): boolean {
    return this.startedOnce;
  }

  private startedOnce = false;

  /**
   * Make sure the server runs before a command asks the user anything: start it if it never
   * was, wait for a start under way. False (and the reason shown, with its fixes) if it cannot.
   */
  async ensureRunning(): Promise<boolean> {
    if (!this.startedOnce) {
      await this.start();
    } else if (this.starting !== undefined) {
      await this.starting;
    }
    if (this.isRunning) {
      return true;
    }
    this.report(this.lastFailure ?? "notegen: the language server is not running.");
    return false;
  }

  /** Start the server; resolves when it is running or when the failure has been explained. */
  start(): Promise<void> {
    this.startedOnce = true;
    this.starting ??= this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      try {
        if (client.state !== State.Stopped) {
          await client.stop(5000);
        }
      } catch (error) {
        this.log(`stopping the server: ${String(error)}`);
      }
    }
    const proc = this.process;
    this.process = undefined;
    if (proc !== undefined && proc.exitCode === undefined) {
      proc.child.kill();
    }
  }

  /** Restart; restarts asked for while one runs (several settings saved at once) queue up. */
  restart(): Promise<void> {
    const run = async (): Promise<void> => {
      this.log("restarting the server");
      await this.starting;
      await this.stop();
      this.restarts = [];
      await this.start();
    };
    this.restarting = this.restarting.then(run, run);
    return this.restarting;
  }

  /**
   * Run one of the server's commands with its ONE argument object. `ran` is false when the
   * server is not running (the user has been told and offered a restart).
   */
  async executeCommand(command: string, args: object): Promise<{ ran: boolean; result?: unknown }> {
    if (!(await this.ensureRunning())) {
      return { ran: false };
    }
    const client = this.client;
    if (client === undefined || client.state !== State.Running) {
      return { ran: false };
    }
    this.log(`${command} ${JSON.stringify(args)}`);
    const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, {
      command,
      arguments: [args],
    });
    // Previews carry their picture (kilobytes of base64): the log keeps the rest.
    const logged = JSON.stringify(result, (key, value: unknown) => (key === "svg" || key === "picture" ? "…" : value));
    this.log(`${command} -> ${logged ?? "null"}`);
    this.hooks.onCommandResult(command, result);
    return { ran: true, result };
  }

  private settingsForServer(): ReturnType<typeof serverSettings> {
    const config = vscode.workspace.getConfiguration("notegen");
    // notegen.enable is a folder setting: folders set to "always" travel as include globs.
    const alwaysFolders = (vscode.workspace.workspaceFolders ?? [])
      .filter((f) => vscode.workspace.getConfiguration("notegen", f.uri).get("enable") === "always")
      .map((f) => f.uri.fsPath);
    return serverSettings((key) => config.get(key), pathContext(), alwaysFolders);
  }

  private async resolve(): Promise<Launch> {
    const config = vscode.workspace.getConfiguration("notegen");
    const serverCommand = config.get<string | null>("server.command");
    const pythonPath = config.get<string | null>("server.pythonPath");
    const needsExtension = !nonBlank(serverCommand) && !nonBlank(pythonPath);
    const resource = vscode.window.activeTextEditor?.document.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri;
    const pythonFromExtension = needsExtension
      ? await interpreterFromPythonExtension(resource, (line) => this.log(line))
      : undefined;
    const ctx = pathContext();
    return resolveLaunch({
      serverCommand: expandVariables(serverCommand, ctx),
      pythonPath: expandVariables(pythonPath, ctx),
      pythonFromExtension,
      defaultPython: process.platform === "win32" ? "python" : "python3",
    });
  }

  private async doStart(): Promise<void> {
    const status = this.hooks.status;
    status.set("starting");
    let launch: Launch;
    try {
      launch = await this.resolve();
    } catch (error) {
      status.set("failed", error instanceof Error ? error.message : String(error));
      this.report(`notegen: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.log(`starting the server: ${describeLaunch(launch)} (source: ${launch.source})`);
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
    // A new process for every (re)start: the client calls this again after a crash.
    const client = new NotegenClient(
      "notegen",
      "notegen",
      async () => {
        const proc = new ServerProcess(launch, cwd);
        this.process = proc;
        await proc.spawned;
        this.log(`server process started (pid ${proc.child.pid ?? "?"})`);
        return proc.child;
      },
      this.clientOptions(),
    );
    this.client = client;
    this.lastFailure = undefined;
    this.models.clear(); // a new server says again which model serves each document
    client.onNotification(MODEL_NOTIFICATION, (params: unknown) => this.onModelNotification(params));
    // After a crash the client restarts the server by itself: the status follows its state.
    client.onDidChangeState((event) => {
      if (this.client !== client || this.starting !== undefined) {
        return; // doStart() reports the first start
      }
      if (event.newState === State.Running) {
        status.set("ready", describeLaunch(launch));
      } else if (event.newState === State.Starting) {
        status.set("starting");
      }
    });
    client.quietStart = true;
    try {
      // start() can resolve although the server died during initialize (the client's close
      // handler clears its start promise), so the state decides.
      await client.start();
      if (client.state !== State.Running) {
        throw new Error("the server closed the connection during initialization");
      }
      this.log("server running");
      status.set("ready", describeLaunch(launch));
    } catch (error) {
      this.client = undefined;
      const proc = this.process;
      if (proc !== undefined) {
        await Promise.race([proc.closed, delay(1500)]);
        if (proc.exitCode === undefined && proc.spawnErrorCode === undefined) {
          proc.child.kill();
        }
      }
      const failure = proc?.failure(String(error)) ?? { errorMessage: String(error) };
      const explanation = explainStartFailure(launch, failure);
      this.log(`start failed (${explanation.cause}): ${String(error)}`);
      status.set("failed", explanation.message);
      this.report(explanation.message);
    } finally {
      client.quietStart = false;
    }
  }

  /** Show a failure with the buttons that fix it; never waits for the user's click. */
  private report(message: string): void {
    this.lastFailure = message;
    this.log(message);
    void vscode.window
      .showErrorMessage(message, "Choose interpreter", "Open settings", "Show log")
      .then((action) => {
        if (action === "Choose interpreter") {
          void vscode.commands.executeCommand(CHOOSE_INTERPRETER);
        } else if (action === "Open settings") {
          void openNotegenSettings("notegen.server");
        } else if (action === "Show log") {
          this.output.show(true);
        }
      });
  }

  private clientOptions(): LanguageClientOptions {
    const settings = this.settingsForServer();
    this.log(`settings: ${JSON.stringify(settings)}`);
    return {
      documentSelector: DOCUMENT_SELECTOR,
      outputChannel: this.output,
      initializationOptions: settings,
      // A server that dies during initialize is explained by doStart(); without this handler
      // the client would also pop up the raw JSON-RPC error.
      initializationFailedHandler: (error: unknown) => {
        this.log(`initialize failed: ${String(error)}`);
        return false;
      },
      errorHandler: {
        error: (_error: Error, _message: Message | undefined, count: number | undefined): ErrorHandlerResult => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
          handled: true,
        }),
        closed: (): CloseHandlerResult => this.onClosed(),
      },
      middleware: {
        // A folder set to notegen.enable "never" is not sent at all: the server never sees it.
        didOpen: (document, next) =>
          vscode.workspace.getConfiguration("notegen", document.uri).get("enable") === "never"
            ? Promise.resolve()
            : next(document),
        executeCommand: async (command, args, next) => {
          const result: unknown = await next(command, args);
          this.hooks.onCommandResult(command, result);
          return result;
        },
        workspace: {
          configuration: (params, token, next) => {
            const sections = params.items.map((item) => item.section);
            if (sections.every((section) => section === "notegen")) {
              return sections.map(() => this.settingsForServer());
            }
            return next(params, token);
          },
        },
      },
    };
  }

  private onClosed(): CloseHandlerResult {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.client?.state !== State.Running) {
      return { action: CloseAction.DoNotRestart, handled: true }; // doStart() explains it
    }
    if (this.restarts.length < MAX_RESTARTS) {
      this.restarts.push(now);
      this.log("the server stopped; restarting it");
      return { action: CloseAction.Restart, handled: true };
    }
    const last = lastLine(this.process?.stderrTail) ?? `exit code ${this.process?.exitCode ?? "unknown"}`;
    this.hooks.status.set("failed", last);
    this.report(
      `notegen: the language server stopped ${MAX_RESTARTS + 1} times in 3 minutes (${last}). ` +
        `See "notegen: Show server log", then run "notegen: Restart server".`,
    );
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  private onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    const kind = changeKind((section) => event.affectsConfiguration(section));
    if (kind === "restart") {
      if (!this.startedOnce) {
        return; // not started yet: the next start reads the new settings
      }
      this.log("server launch settings changed");
      void this.restart();
    } else if (kind === "push" && this.client !== undefined && this.isRunning) {
      const settings = this.settingsForServer();
      this.log(`settings changed: ${JSON.stringify(settings)}`);
      void this.client.sendNotification(DidChangeConfigurationNotification.type, { settings: { notegen: settings } });
    }
  }

  dispose(): void {
    void this.stop();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

function nonBlank(value: string | null | undefined): boolean {
  return typeof value === "string" && value.trim() !== "";
}

function pathContext(): PathContext {
  return { workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath, home: os.homedir() };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
