// How the server is launched: notegen.server.command, then notegen.server.pythonPath, then the
// Python extension's interpreter, then python3 — each running `python -m notegen.cli`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeLaunch, resolveLaunch, splitCommandLine } from "../../src/launch";

describe("resolveLaunch", () => {
  it("runs notegen.server.command as given, with its arguments", () => {
    const launch = resolveLaunch({
      serverCommand: "/opt/venv/bin/notegen-lsp --log-file /tmp/lsp.log",
      pythonPath: "/usr/bin/python3.12",
      pythonFromExtension: "/home/me/.venv/bin/python",
    });
    assert.deepEqual(launch, {
      command: "/opt/venv/bin/notegen-lsp",
      args: ["--log-file", "/tmp/lsp.log"],
      source: "serverCommand",
    });
  });

  it("uses notegen.server.pythonPath before the Python extension", () => {
    const launch = resolveLaunch({ pythonPath: "/usr/bin/python3.12", pythonFromExtension: "/home/me/.venv/bin/python" });
    assert.deepEqual(launch, {
      command: "/usr/bin/python3.12",
      args: ["-m", "notegen.cli"],
      source: "pythonPath",
      python: "/usr/bin/python3.12",
    });
  });

  it("uses the Python extension's interpreter when no setting is given", () => {
    const launch = resolveLaunch({ serverCommand: "  ", pythonPath: null, pythonFromExtension: "/home/me/.venv/bin/python" });
    assert.equal(launch.command, "/home/me/.venv/bin/python");
    assert.equal(launch.source, "pythonExtension");
    assert.deepEqual(launch.args, ["-m", "notegen.cli"]);
  });

  it("falls back to python3 when nothing is configured", () => {
    const launch = resolveLaunch({});
    assert.equal(launch.command, "python3");
    assert.equal(launch.source, "default");
    assert.deepEqual(launch.args, ["-m", "notegen.cli"]);
  });

  it("ignores settings of the wrong type instead of running them", () => {
    const launch = resolveLaunch({ serverCommand: 42, pythonPath: ["python"], defaultPython: "python" });
    assert.equal(launch.command, "python");
    assert.equal(launch.source, "default");
  });
});

describe("splitCommandLine", () => {
  it("splits on blanks and keeps quoted paths whole", () => {
    assert.deepEqual(splitCommandLine(`"/My Tools/notegen-lsp" --model '/a b/notegen.json'  -v`), [
      "/My Tools/notegen-lsp",
      "--model",
      "/a b/notegen.json",
      "-v",
    ]);
  });

  it("honours backslash escapes outside and inside double quotes", () => {
    assert.deepEqual(splitCommandLine(String.raw`/x/my\ server "say \"hi\""`), ["/x/my server", 'say "hi"']);
  });

  it("keeps an empty quoted argument", () => {
    assert.deepEqual(splitCommandLine(`cmd "" x`), ["cmd", "", "x"]);
  });

  it("refuses an unclosed quote with a message naming the setting", () => {
    assert.throws(() => splitCommandLine(`"/opt/notegen-lsp`), /unclosed " quote in notegen.server.command/);
  });
});

describe("describeLaunch", () => {
  it("prints the exact command line, quoting words with spaces", () => {
    assert.equal(
      describeLaunch({ command: "/My Tools/python", args: ["-m", "notegen.cli"], source: "pythonPath" }),
      `"/My Tools/python" -m notegen.cli`,
    );
  });
});
