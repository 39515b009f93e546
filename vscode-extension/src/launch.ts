/**
 * How the server process is started: which setting wins and what exactly is run.
 *
 * Pure so the resolution order (command setting, pythonPath setting, Python extension,
 * `python3`) is unit-tested; `server.ts` feeds it the settings and the Python extension's answer.
 */

/** The module that speaks LSP over stdio when run as `python -m notegen.cli`. */
export const SERVER_MODULE = "notegen.cli";

export type LaunchSource = "serverCommand" | "pythonPath" | "pythonExtension" | "default";

export interface Launch {
  command: string;
  args: string[];
  /** Which setting or fallback chose this launch: error messages name it so the user knows what to fix. */
  source: LaunchSource;
  /** The interpreter, when the server is run as a Python module. */
  python?: string;
}

export interface LaunchInputs {
  /** `notegen.server.command`. */
  serverCommand?: unknown;
  /** `notegen.server.pythonPath`. */
  pythonPath?: unknown;
  /** The interpreter selected in the Python extension, if it is installed and has one. */
  pythonFromExtension?: string;
  /** Interpreter used when nothing else is set. */
  defaultPython?: string;
}

/** Split a command line as a POSIX shell would for simple cases: quotes and backslashes. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote !== null) {
      if (ch === quote) {
        quote = null;
      } else if (ch === "\\" && quote === '"' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) {
        current += line[++i];
      } else {
        current += ch;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) {
        words.push(current);
        current = "";
        inWord = false;
      }
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote !== null) {
    throw new Error(`unclosed ${quote} quote in notegen.server.command: ${line}`);
  }
  if (inWord) {
    words.push(current);
  }
  return words;
}

function nonBlank(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** Decide what to run, in the documented order. */
export function resolveLaunch(inputs: LaunchInputs): Launch {
  const command = nonBlank(inputs.serverCommand);
  if (command !== undefined) {
    const [head, ...args] = splitCommandLine(command);
    return { command: head, args, source: "serverCommand" };
  }
  const python = nonBlank(inputs.pythonPath);
  if (python !== undefined) {
    return pythonLaunch(python, "pythonPath");
  }
  const fromExtension = nonBlank(inputs.pythonFromExtension);
  if (fromExtension !== undefined) {
    return pythonLaunch(fromExtension, "pythonExtension");
  }
  return pythonLaunch(inputs.defaultPython ?? "python3", "default");
}

function pythonLaunch(python: string, source: LaunchSource): Launch {
  return { command: python, args: ["-m", SERVER_MODULE], source, python };
}

/** How a launch reads in logs and messages: the exact command line. */
export function describeLaunch(launch: Launch): string {
  const quote = (w: string): string => (/[\s"'\\$]/.test(w) ? JSON.stringify(w) : w);
  return [launch.command, ...launch.args].map(quote).join(" ");
}
