// The `notegen` settings become the server's initializationOptions and didChangeConfiguration
// payload: every contract key, sonicPi nested, server.* left out, paths made absolute.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changeKind, expandPath, expandVariables, folderModels, serverSettings } from "../../src/settings";

/** A settings.json as VS Code would merge it with the contributed defaults. */
function reader(values: Record<string, unknown>): (key: string) => unknown {
  const defaults: Record<string, unknown> = {
    modelPath: "",
    temperature: 1,
    topK: 0,
    topP: 0.95,
    maxItems: 12,
    phraseLength: 8,
    maxContext: 256,
    inlineSuggestions: true,
    "sonicPi.host": "127.0.0.1",
    "sonicPi.port": 0,
    enable: "auto",
    include: [],
    pianoRoll: true,
    modelsDir: "",
    folderModels: {},
    "slips.sensitivity": "default",
    "slips.allPieces": false,
    "server.command": "/opt/venv/bin/notegen-lsp",
    "server.pythonPath": "/usr/bin/python3",
  };
  return (key) => (key in values ? values[key] : defaults[key]);
}

describe("serverSettings", () => {
  it("sends the contract's keys with their defaults and nests sonicPi", () => {
    assert.deepEqual(serverSettings(reader({})), {
      modelPath: null,
      temperature: 1,
      topK: 0,
      topP: 0.95,
      maxItems: 12,
      phraseLength: 8,
      maxContext: 256,
      inlineSuggestions: true,
      sonicPi: { host: "127.0.0.1", port: null },
      enable: "auto",
      include: [],
      pianoRoll: true,
      modelsDir: null,
      folderModels: {},
      slips: { sensitivity: "default", allPieces: false },
    });
  });

  it("sends the slip-hint settings nested as slips, as the user set them", () => {
    const sent = serverSettings(reader({ "slips.sensitivity": "high", "slips.allPieces": true }));
    assert.deepEqual(sent.slips, { sensitivity: "high", allPieces: true });
    // A typo is the server's to report (it names the accepted values), not silently fixed here.
    assert.deepEqual(serverSettings(reader({ "slips.sensitivity": "hihg" })).slips.sensitivity, "hihg");
  });

  it("resolves the models folder and the folders of folderModels like other paths", () => {
    const ctx = { workspaceFolder: "/work/songs", home: "/home/me" };
    const sent = serverSettings(
      reader({
        modelsDir: "~/models",
        folderModels: { "baroque/": "baroque", "${workspaceFolder}/jazz": "bebop", "/abs/folk": "folk" },
      }),
      ctx,
    );
    assert.equal(sent.modelsDir, "/home/me/models");
    assert.deepEqual(sent.folderModels, {
      "/work/songs/baroque": "baroque",
      "/work/songs/jazz": "bebop",
      "/abs/folk": "folk",
    });
  });

  it("sends include globs plus every folder set to always, and port 0 as 'find it'", () => {
    const sent = serverSettings(reader({ include: ["**/music/*.rb", 7] }), {}, ["/w/songs/", "/w/etudes"]);
    assert.deepEqual(sent.include, ["**/music/*.rb", "/w/songs/**", "/w/etudes/**"]);
    assert.equal(sent.sonicPi.port, null);
  });

  it("never sends the client-only server.* settings", () => {
    const sent = serverSettings(reader({})) as unknown as Record<string, unknown>;
    assert.equal("server" in sent, false);
    assert.equal(JSON.stringify(sent).includes("notegen-lsp"), false);
  });

  it("passes user values through unchanged so the server can report bad ones", () => {
    const sent = serverSettings(reader({ temperature: "hot", maxItems: -3, "sonicPi.port": 4560 }));
    assert.equal(sent.temperature, "hot");
    assert.equal(sent.maxItems, -3);
    assert.deepEqual(sent.sonicPi, { host: "127.0.0.1", port: 4560 });
  });

  it("resolves a relative model path against the workspace folder", () => {
    const sent = serverSettings(reader({ modelPath: "models/notegen.json" }), { workspaceFolder: "/work/song" });
    assert.equal(sent.modelPath, "/work/song/models/notegen.json");
  });
});

describe("expandPath", () => {
  const ctx = { workspaceFolder: "/work/song", home: "/home/me" };

  it("expands ~ and ${userHome}", () => {
    assert.equal(expandPath("~/models/m.onnx", ctx), "/home/me/models/m.onnx");
    assert.equal(expandPath("${userHome}/m.onnx", ctx), "/home/me/m.onnx");
  });

  it("expands ${workspaceFolder} and keeps absolute paths", () => {
    assert.equal(expandPath("${workspaceFolder}/m.json", ctx), "/work/song/m.json");
    assert.equal(expandPath("/abs/m.json", ctx), "/abs/m.json");
    assert.equal(expandPath("C:\\models\\m.json", ctx), "C:\\models\\m.json");
  });

  it("turns blank or missing values into null (use the default model)", () => {
    assert.equal(expandPath("   ", ctx), null);
    assert.equal(expandPath(undefined, ctx), null);
    assert.equal(expandPath(3, ctx), null);
  });

  it("leaves a bare command name alone for PATH lookup when only variables are expanded", () => {
    assert.equal(expandVariables("notegen-lsp", ctx), "notegen-lsp");
    assert.equal(expandVariables("~/.venv/bin/python", ctx), "/home/me/.venv/bin/python");
    assert.equal(expandVariables("", ctx), undefined);
  });
});

describe("folderModels", () => {
  it("passes anything but an object on for the server to report", () => {
    assert.equal(folderModels("baroque", {}), "baroque");
    assert.deepEqual(folderModels(["a"], {}), ["a"]);
    assert.equal(folderModels(null, {}), null);
  });

  it("drops blank folders and keeps a root folder whole", () => {
    assert.deepEqual(folderModels({ "  ": "x", "/": "root", "~/": "home" }, { home: "/home/me" }), {
      "/": "root",
      "/home/me": "home",
    });
  });
});

describe("changeKind", () => {
  const affects = (...sections: string[]) => (s: string) => sections.some((x) => x === s || x.startsWith(`${s}.`));

  it("restarts the server when a launch setting changes", () => {
    assert.equal(changeKind(affects("notegen.server.pythonPath")), "restart");
  });

  it("pushes other notegen settings to the running server", () => {
    assert.equal(changeKind(affects("notegen.temperature")), "push");
    assert.equal(changeKind(affects("notegen.slips.sensitivity")), "push");
    assert.equal(changeKind(affects("notegen.folderModels")), "push");
  });

  it("ignores settings of other extensions", () => {
    assert.equal(changeKind(affects("editor.fontSize")), "none");
  });
});
