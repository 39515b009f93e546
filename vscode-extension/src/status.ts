/**
 * The server's state, always visible in the status bar: starting, ready, failed, or waiting
 * for the first Sonic Pi file; once ready, also the model serving the current file (the
 * server's `notegen/model` notification). Clicking it offers what fixes or explains the state.
 */
import * as vscode from "vscode";

export type ServerState = "waiting" | "starting" | "ready" | "failed";

export const STATUS_MENU = "notegen.statusMenu";

const LOOK: Record<ServerState, { text: string; tooltip: string }> = {
  waiting: {
    text: "$(circle-outline) notegen",
    tooltip: "notegen starts its server with the first Sonic Pi file (notegen.enable)",
  },
  starting: { text: "$(loading~spin) notegen: starting", tooltip: "notegen: starting the language server" },
  ready: { text: "$(pass) notegen", tooltip: "notegen: the language server is running" },
  failed: { text: "$(error) notegen: not running", tooltip: "notegen: the language server could not start" },
};

export class ServerStatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  state: ServerState = "waiting";
  private detail: string | undefined;
  private model: { text: string; tooltip: string; failed: boolean } | undefined;

  constructor() {
    this.item = vscode.window.createStatusBarItem("notegen.server", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "notegen server";
    this.item.command = STATUS_MENU;
    this.set("waiting");
    this.item.show();
  }

  /** Show `state`; `detail` (the launch, or why it failed) goes in the tooltip. */
  set(state: ServerState, detail?: string): void {
    this.state = state;
    this.detail = detail;
    this.render();
  }

  /** The model serving the active file (`undefined`: none known, e.g. not a Sonic Pi file). */
  setModel(model: { text: string; tooltip: string; failed: boolean } | undefined): void {
    this.model = model;
    this.render();
  }

  private render(): void {
    const look = LOOK[this.state];
    const model = this.state === "ready" ? this.model : undefined;
    this.item.text = model === undefined ? look.text : `${look.text}: ${model.text}`;
    const lines = [look.tooltip, this.detail, model?.tooltip].filter((l): l is string => l !== undefined);
    this.item.tooltip = lines.join("\n");
    this.item.backgroundColor =
      this.state === "failed"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : model?.failed === true
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
