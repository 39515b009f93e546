/**
 * Status bar item shown while Sonic Pi plays something notegen sent; clicking it stops playback.
 *
 * The server says how long the snippet lasts (`{played: true, seconds}` in the command's result);
 * the item then goes away by itself, or earlier on "Stop Sonic Pi".
 */
import * as vscode from "vscode";
import { playbackSeconds, played } from "./commandArgs";

export const PLAY_COMMAND = "notegen.playInSonicPi";
export const STOP_COMMAND = "notegen.stopSonicPi";

export class SonicPiStatus implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private timer: NodeJS.Timeout | undefined;

  constructor(stopCommandId: string) {
    this.item = vscode.window.createStatusBarItem("notegen.sonicPi", vscode.StatusBarAlignment.Left, 100);
    this.item.name = "notegen: Sonic Pi playback";
    this.item.text = "$(debug-stop) Sonic Pi playing";
    this.item.tooltip = "notegen sent code to Sonic Pi — click to stop";
    this.item.command = stopCommandId;
  }

  /** Observe a server command and its result (from the palette or a code action). */
  observe(command: string, result: unknown): void {
    if (command === PLAY_COMMAND && played(result)) {
      this.playing(playbackSeconds(result));
    } else if (command === STOP_COMMAND) {
      this.stopped();
    }
  }

  playing(seconds: number | undefined): void {
    this.clearTimer();
    this.item.show();
    if (seconds !== undefined) {
      this.timer = setTimeout(() => this.stopped(), seconds * 1000 + 500);
    }
  }

  stopped(): void {
    this.clearTimer();
    this.item.hide();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  dispose(): void {
    this.clearTimer();
    this.item.dispose();
  }
}
