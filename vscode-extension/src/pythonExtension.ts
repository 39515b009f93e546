/**
 * Ask the Python extension (ms-python.python), if installed, which interpreter the user chose.
 *
 * Two API generations exist: `environments.getActiveEnvironmentPath` + `resolveEnvironment`
 * (2022+) and the older `settings.getExecutionDetails`. Anything unexpected means "no answer":
 * the caller then falls back to `python3`, never fails because of another extension.
 */
import * as vscode from "vscode";

interface EnvironmentPath {
  id: string;
  path: string;
}

interface PythonApi {
  ready?: Promise<void>;
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): EnvironmentPath;
    resolveEnvironment(env: EnvironmentPath | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand?: string[] };
  };
}

export const PYTHON_EXTENSION_ID = "ms-python.python";

export async function interpreterFromPythonExtension(
  resource: vscode.Uri | undefined,
  log: (line: string) => void,
): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>(PYTHON_EXTENSION_ID);
  if (extension === undefined) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    await api.ready;
    if (api.environments !== undefined) {
      const active = api.environments.getActiveEnvironmentPath(resource);
      const resolved = await api.environments.resolveEnvironment(active);
      const path = resolved?.executable.uri?.fsPath ?? active.path;
      if (path) {
        return path;
      }
    }
    const exec = api.settings?.getExecutionDetails(resource).execCommand;
    return exec !== undefined && exec.length > 0 ? exec[0] : undefined;
  } catch (error) {
    log(`Python extension did not give an interpreter: ${String(error)}`);
    return undefined;
  }
}
