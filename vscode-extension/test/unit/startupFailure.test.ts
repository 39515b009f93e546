// When the server cannot start, the message names what was run, the cause and the fix.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Launch, resolveLaunch } from "../../src/launch";
import { explainStartFailure, lastLine } from "../../src/startupFailure";

const systemPython: Launch = resolveLaunch({});
const configuredPython: Launch = resolveLaunch({ pythonPath: "/usr/bin/python3.11" });
const serverCommand: Launch = resolveLaunch({ serverCommand: "/opt/venv/bin/notegen-lsp" });

describe("explainStartFailure", () => {
  it("says how to install sonic-pi-notegen into that interpreter when the module is missing", () => {
    const e = explainStartFailure(configuredPython, {
      exitCode: 1,
      stderrTail:
        "/usr/bin/python3.11: Error while finding module specification for 'notegen.cli' (ModuleNotFoundError: No module named 'notegen')\n",
    });
    assert.equal(e.cause, "notInstalled");
    assert.match(e.message, /^notegen: the language server cannot start: the Python at \/usr\/bin\/python3\.11 does not have the notegen server \(Python package sonic-pi-notegen\)\./);
    assert.match(e.message, /"\/usr\/bin\/python3\.11 -m pip install \.\/notegen"/);
    assert.match(e.message, /"\/usr\/bin\/python3\.11 -m pip install sonic_pi_notegen-0\.1\.0-py3-none-any\.whl"/);
    assert.match(e.message, /notegen\.server\.pythonPath/);
    assert.match(e.message, /\(Ran "\/usr\/bin\/python3\.11 -m notegen\.cli", from the setting notegen\.server\.pythonPath\.\)$/);
  });

  it("explains the python3 fallback when nothing was configured", () => {
    const e = explainStartFailure(systemPython, { stderrTail: "ModuleNotFoundError: No module named 'notegen'" });
    assert.equal(e.cause, "notInstalled");
    assert.match(e.message, /python3 on PATH \(no interpreter configured\)/);
  });

  it("names the missing command and the settings that fix it", () => {
    const e = explainStartFailure(serverCommand, { spawnErrorCode: "ENOENT" });
    assert.equal(e.cause, "notFound");
    assert.match(e.message, /the command \/opt\/venv\/bin\/notegen-lsp was not found/);
    assert.match(e.message, /sonic-pi-notegen/);
    assert.match(e.message, /notegen\.server\.command/);
  });

  it("calls a missing interpreter an interpreter", () => {
    const e = explainStartFailure(configuredPython, { spawnErrorCode: "ENOENT" });
    assert.match(e.message, /the Python interpreter \/usr\/bin\/python3\.11 was not found/);
  });

  it("reports a file that cannot be executed", () => {
    const e = explainStartFailure(serverCommand, { spawnErrorCode: "EACCES" });
    assert.equal(e.cause, "notExecutable");
    assert.match(e.message, /is not executable/);
  });

  it("quotes the server's last stderr line when it crashed for another reason", () => {
    const e = explainStartFailure(serverCommand, {
      exitCode: 2,
      stderrTail: "Traceback (most recent call last):\n  ...\nnotegen.model.ModelError: /m.onnx: not an ONNX file\n\n",
    });
    assert.equal(e.cause, "crashed");
    assert.match(e.message, /stopped while starting: notegen\.model\.ModelError: \/m\.onnx: not an ONNX file\. /);
  });

  it("falls back to the exit code when the server said nothing", () => {
    const e = explainStartFailure(serverCommand, { exitCode: 3, stderrTail: "" });
    assert.match(e.message, /it exited with code 3/);
  });
});

describe("every start-failure message", () => {
  const failures = [
    { spawnErrorCode: "ENOENT" },
    { spawnErrorCode: "EACCES" },
    { stderrTail: "ModuleNotFoundError: No module named 'notegen'" },
    { exitCode: 1, stderrTail: "boom" },
  ];
  for (const launch of [systemPython, configuredPython, serverCommand]) {
    for (const failure of failures) {
      const e = explainStartFailure(launch, failure);
      it(`is plain text without the wrong package (${e.cause}, ${launch.source})`, () => {
        assert.doesNotMatch(e.message, /`/, "notifications show backticks raw");
        assert.doesNotMatch(e.message, /pip install notegen\b/, "PyPI's notegen is another project");
      });
    }
  }
});

describe("lastLine", () => {
  it("skips trailing blank lines and CRLF endings", () => {
    assert.equal(lastLine("a\r\nb\r\n\r\n"), "b");
    assert.equal(lastLine(""), undefined);
  });
});
