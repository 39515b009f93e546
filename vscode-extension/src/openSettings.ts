/**
 * "Open settings" that lands where the setting can be edited.
 *
 * In a remote window (SSH, containers, code-server) the server settings are machine settings:
 * the User tab hides them ("No Settings Found"). A folder's Workspace settings always show them,
 * so open those when a folder is open, else the Remote settings, else the User settings.
 */
import * as vscode from "vscode";

export async function openNotegenSettings(query = "notegen"): Promise<void> {
  if ((vscode.workspace.workspaceFolders?.length ?? 0) > 0) {
    await vscode.commands.executeCommand("workbench.action.openWorkspaceSettings", { query });
  } else if (vscode.env.remoteName !== undefined) {
    await vscode.commands.executeCommand("workbench.action.openRemoteSettings", { query });
  } else {
    await vscode.commands.executeCommand("workbench.action.openSettings", query);
  }
}
