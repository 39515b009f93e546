// The server's notegen/model notification becomes the status item's model name and tooltip.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeModel, parseModelInfo } from "../../src/modelInfo";

const URI = "file:///home/me/songs/fugue.rb";

describe("parseModelInfo", () => {
  it("reads what the server sends", () => {
    assert.deepEqual(
      parseModelInfo({ uri: URI, model: "baroque", source: "folder", requested: "baroque", error: null }),
      { uri: URI, model: "baroque", source: "folder", requested: "baroque", error: null },
    );
  });

  it("refuses parameters without a document or a model", () => {
    assert.equal(parseModelInfo(null), undefined);
    assert.equal(parseModelInfo({ uri: URI }), undefined);
    assert.equal(parseModelInfo({ model: "baroque" }), undefined);
    assert.equal(parseModelInfo({ uri: URI, model: "" }), undefined);
  });
});

describe("describeModel", () => {
  it("names the model and says why it serves the file", () => {
    const byComment = describeModel({ uri: URI, model: "baroque", source: "comment", requested: "baroque", error: null });
    assert.equal(byComment.text, "baroque");
    assert.match(byComment.tooltip, /# notegen: model= comment/);
    assert.equal(byComment.failed, false);
    const byFolder = describeModel({ uri: URI, model: "baroque", source: "folder", requested: "baroque", error: null });
    assert.match(byFolder.tooltip, /notegen\.folderModels/);
    const byDefault = describeModel({ uri: URI, model: "notegen", source: "default", requested: null, error: null });
    assert.equal(byDefault.text, "notegen");
    assert.match(byDefault.tooltip, /the default model/);
  });

  it("marks a requested model that was not found and gives the server's reason", () => {
    const error = "no model named 'barok' (models: baroque, notegen; folder /m); this document uses the default model 'notegen'";
    const shown = describeModel({ uri: URI, model: "notegen", source: "comment", requested: "barok", error });
    assert.equal(shown.text, "notegen (barok not found)");
    assert.equal(shown.failed, true);
    assert.ok(shown.tooltip.includes(error));
  });
});
