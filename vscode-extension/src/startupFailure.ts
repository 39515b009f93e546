/**
 * Turn "the server did not start" into a message that says what to do.
 *
 * Pure: given the launch and what the process left behind (spawn error code, exit code, the end
 * of its stderr), pick the cause and the fix. The person reading it has never seen notegen, so
 * each message names the command that was run, why it failed and the setting or the pip command
 * that fixes it. Notifications show text as it is (no Markdown), so commands are quoted with
 * plain quotes, never backticks. The server's Python distribution is `sonic-pi-notegen`: the
 * PyPI name `notegen` is an unrelated project, so no message ever suggests it.
 */
import { describeLaunch, type Launch } from "./launch";

export interface Failure {
  /** `error.code` of a failed spawn (`ENOENT`, `EACCES`...). */
  spawnErrorCode?: string;
  /** Exit code of a process that ended before or during initialization. */
  exitCode?: number | null;
  /** The last lines the process wrote on stderr. */
  stderrTail?: string;
  /** The error the language client reported, when nothing better is known. */
  errorMessage?: string;
}

export type Cause = "notFound" | "notExecutable" | "notInstalled" | "crashed";

export interface Explanation {
  cause: Cause;
  message: string;
}

const SETTING_NAME: Record<Launch["source"], string> = {
  serverCommand: "the setting notegen.server.command",
  pythonPath: "the setting notegen.server.pythonPath",
  pythonExtension: "the Python extension's selected interpreter",
  default: "python3 on PATH (no interpreter configured)",
};

/** The last non-empty line of stderr, which is where Python puts the exception. */
export function lastLine(text: string | undefined): string | undefined {
  const lines = (text ?? "").split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  return lines.length > 0 ? lines[lines.length - 1] : undefined;
}

/** The Python distribution that provides the server (not yet on PyPI). */
export const DISTRIBUTION = "sonic-pi-notegen";

/** How to install the server into `python`: from a clone of the repository or a built wheel. */
export function installAdvice(python: string): string {
  return (
    `Install ${DISTRIBUTION} into it from a clone of the notegen repository ` +
    `("${python} -m pip install ./notegen") or from a wheel built there ` +
    `("${python} -m pip install sonic_pi_notegen-0.1.0-py3-none-any.whl")`
  );
}

export function explainStartFailure(launch: Launch, failure: Failure): Explanation {
  const ran = ` (Ran "${describeLaunch(launch)}", from ${SETTING_NAME[launch.source]}.)`;
  const settings =
    'choose a Python that has it ("Choose interpreter"), or set notegen.server.command to the notegen-lsp executable';
  const stderr = failure.stderrTail ?? "";

  if (failure.spawnErrorCode === "ENOENT") {
    const what = launch.python !== undefined ? "Python interpreter" : "command";
    return {
      cause: "notFound",
      message:
        `notegen: the language server cannot start: the ${what} ${launch.command} was not found. ` +
        `The server is the Python package ${DISTRIBUTION}: install it from a clone of the notegen repository (pip install ./notegen), then ${settings}.${ran}`,
    };
  }
  if (failure.spawnErrorCode === "EACCES") {
    return {
      cause: "notExecutable",
      message:
        `notegen: the language server cannot start: ${launch.command} is not executable. ` +
        `Point notegen.server.command or notegen.server.pythonPath at an executable file.${ran}`,
    };
  }
  if (/No module named '?notegen/.test(stderr)) {
    const python = launch.python ?? launch.command;
    return {
      cause: "notInstalled",
      message:
        `notegen: the language server cannot start: the Python at ${python} does not have the notegen server (Python package ${DISTRIBUTION}). ` +
        `${installAdvice(python)}, or ${settings}.${ran}`,
    };
  }
  const detail =
    lastLine(stderr) ??
    (failure.exitCode !== undefined && failure.exitCode !== null
      ? `it exited with code ${failure.exitCode}`
      : failure.errorMessage ?? "no output");
  return {
    cause: "crashed",
    message:
      `notegen: the language server stopped while starting: ${detail.replace(/\.$/, "")}. ` +
      `"notegen: Show server log" has its whole output.${ran}`,
  };
}
