/**
 * The server's state, always visible in the status bar: starting, ready, failed, or waiting
 * for the first Sonic Pi file. Clicking it offers what fixes or explains the state.
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
    const look = LOOK[state];
    this.item.text = look.text;
    this.item.tooltip = detail === undefined ? look.tooltip : `${look.tooltip}\n${detail}`;
    this.item.backgroundColor =
      state === "failed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
