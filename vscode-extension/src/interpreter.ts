/**
 * "notegen: Choose Python interpreter": the interpreters this machine has, which of them have
 * the notegen server, and the setting written for the one picked.
 *
 * Offered when the server cannot start (and from the status bar), so a first run without a
 * configured Python ends in a pick instead of a search through settings. Each candidate is
 * probed by running it (`import notegen.cli`), so the list says which ones will work.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { interpreterFromPythonExtension } from "./pythonExtension";
import { DISTRIBUTION, installAdvice } from "./startupFailure";

interface Candidate {
  python: string;
  where: string;
}

interface Probe {
  ok: boolean;
  version?: string;
}

const PROBE = "import sys, notegen.cli; print(sys.version.split()[0])";

/** Run `python -c PROBE`: ok when notegen imports there. */
export function probe(python: string, timeoutMs = 15000): Promise<Probe> {
  return new Promise((resolve) => {
    execFile(python, ["-c", PROBE], { timeout: timeoutMs }, (error, stdout) => {
      resolve(error ? { ok: false } : { ok: true, version: stdout.trim() });
    });
  });
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

const BIN = process.platform === "win32" ? "Scripts" : "bin";
const EXE = process.platform === "win32" ? "python.exe" : "python";

/** Interpreters worth offering: the Python extension's, workspace and home virtualenvs, PATH. */
async function candidates(log: (line: string) => void): Promise<Candidate[]> {
  const found: Candidate[] = [];
  const add = (python: string | undefined, where: string): void => {
    if (python !== undefined && executable(python) && !found.some((c) => c.python === python)) {
      found.push({ python, where });
    }
  };
  const folders = vscode.workspace.workspaceFolders ?? [];
  add(await interpreterFromPythonExtension(folders[0]?.uri, log), "the Python extension's interpreter");
  for (const folder of folders) {
    for (const venv of [".venv", "venv", "env"]) {
      add(path.join(folder.uri.fsPath, venv, BIN, EXE), `in ${folder.name}`);
    }
  }
  for (const base of [path.join(os.homedir(), ".venvs"), path.join(os.homedir(), ".virtualenvs")]) {
    try {
      for (const name of fs.readdirSync(base)) {
        add(path.join(base, name, BIN, EXE), `~/${path.basename(base)}/${name}`);
      }
    } catch {
      // no such folder
    }
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter((d) => d !== "")) {
    for (const name of ["python3", "python"]) {
      add(path.join(dir, process.platform === "win32" ? `${name}.exe` : name), "on PATH");
    }
  }
  return found;
}

interface Item extends vscode.QuickPickItem {
  python?: string;
  browse?: boolean;
}

/** Show the picker; writes notegen.server.pythonPath and returns the interpreter picked. */
export async function chooseInterpreter(log: (line: string) => void): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick<Item>();
  pick.title = "notegen: Choose the Python that runs the notegen server";
  pick.placeholder = `Looking for Python interpreters that have ${DISTRIBUTION}…`;
  pick.busy = true;
  pick.ignoreFocusOut = true;
  pick.show();
  const found = await candidates(log);
  const probed = await Promise.all(found.map(async (c) => ({ ...c, ...(await probe(c.python)) })));
  probed.sort((a, b) => Number(b.ok) - Number(a.ok));
  const items: Item[] = probed.map((c) => ({
    label: `${c.ok ? "$(pass)" : "$(circle-slash)"} ${c.python}`,
    description: c.ok ? `has notegen · Python ${c.version ?? "?"}` : `no notegen server here`,
    detail: c.where,
    python: c.python,
  }));
  items.push({ label: "$(folder-opened) Browse…", description: "pick a python executable", browse: true });
  pick.items = items;
  pick.busy = false;
  pick.placeholder = probed.some((c) => c.ok)
    ? "Pick an interpreter that has notegen"
    : `No interpreter here has ${DISTRIBUTION} yet: pick one, then install it there`;
  const chosen = await new Promise<Item | undefined>((resolve) => {
    pick.onDidAccept(() => resolve(pick.selectedItems[0]));
    pick.onDidHide(() => resolve(undefined));
  });
  pick.dispose();
  let python = chosen?.python;
  if (chosen?.browse === true) {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: "Use this Python" });
    python = uris?.[0]?.fsPath;
  }
  if (python === undefined) {
    return undefined;
  }
  await vscode.workspace
    .getConfiguration("notegen")
    .update("server.pythonPath", python, vscode.ConfigurationTarget.Global);
  log(`notegen.server.pythonPath set to ${python}`);
  const check = await probe(python);
  if (!check.ok) {
    void vscode.window.showWarningMessage(
      `notegen: ${python} does not have the notegen server yet. ${installAdvice(python)}; then run "notegen: Restart server".`,
    );
  }
  return python;
}
