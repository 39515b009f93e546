/**
 * Which model serves a document, as the server's `notegen/model` notification tells it:
 * `{uri, model, source, requested, error}`, sent after a reading whenever a document's model
 * changes (a `# notegen: model=NAME` comment, `notegen.folderModels`, or the default model).
 *
 * Pure (no `vscode` import) so it is unit-tested; the status item shows `describeModel`'s text.
 */

/** The notification's parameters, checked. */
export interface ModelInfo {
  uri: string;
  model: string;
  /** "comment" | "folder" | "default" (kept as sent: a newer server may add sources). */
  source: string;
  /** The name the document asked for, when it asked. */
  requested: string | null;
  /** Why the requested model does not serve it (then the default does). */
  error: string | null;
}

export const MODEL_NOTIFICATION = "notegen/model";

/** The notification's parameters, or `undefined` when they are not what the server sends. */
export function parseModelInfo(params: unknown): ModelInfo | undefined {
  if (typeof params !== "object" || params === null) {
    return undefined;
  }
  const p = params as Record<string, unknown>;
  if (typeof p.uri !== "string" || typeof p.model !== "string" || p.model === "") {
    return undefined;
  }
  const text = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);
  return {
    uri: p.uri,
    model: p.model,
    source: typeof p.source === "string" ? p.source : "default",
    requested: text(p.requested),
    error: text(p.error),
  };
}

const WHY: Record<string, string> = {
  comment: "chosen by the # notegen: model= comment in this file",
  folder: "chosen for this folder by the notegen.folderModels setting",
  default: "the default model",
};

/** Status item text (the model's name; a requested one that failed is marked) and tooltip. */
export function describeModel(info: ModelInfo): { text: string; tooltip: string; failed: boolean } {
  if (info.error !== null) {
    const asked = info.requested ?? "?";
    return {
      text: `${info.model} (${asked} not found)`,
      tooltip: `Model ${info.model}: ${info.error}`,
      failed: true,
    };
  }
  return {
    text: info.model,
    tooltip: `Model ${info.model}, ${WHY[info.source] ?? `chosen by ${info.source}`}`,
    failed: false,
  };
}
