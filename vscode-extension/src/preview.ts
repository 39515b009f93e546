/**
 * The picture of a generated or continued melody, shown before it is inserted.
 *
 * The server computes the notes and their piano roll without editing (`preview: true`); this
 * shows the picture and the code beside the editor and asks: insert, try another seed, or
 * cancel. The panel is static HTML (no scripts) whose only image is the server's `data:` SVG.
 */
import * as vscode from "vscode";

export type PreviewAnswer = "insert" | "again" | undefined;

export interface PreviewResult {
  picture?: unknown;
  title?: unknown;
  text?: unknown;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function previewHtml(heading: string, result: PreviewResult): string {
  const picture = typeof result.picture === "string" && result.picture.startsWith("data:image/svg+xml;base64,") ? result.picture : "";
  const title = typeof result.title === "string" ? result.title : "";
  const code = typeof result.text === "string" ? result.text : "";
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline';">
<style>body{font-family:var(--vscode-font-family);padding:12px}img{max-width:100%;border-radius:4px}
pre{white-space:pre-wrap;font-family:var(--vscode-editor-font-family);font-size:12px;opacity:.85}</style></head>
<body><h3>${escapeHtml(heading)}</h3><p>${escapeHtml(title)}</p>
${picture === "" ? "" : `<img alt="piano roll of the melody" src="${picture}">`}
<pre>${escapeHtml(code)}</pre></body></html>`;
}

/** Show the preview beside the editor and ask; the panel closes with the answer. */
export async function askWithPreview(heading: string, result: PreviewResult): Promise<PreviewAnswer> {
  const panel = vscode.window.createWebviewPanel(
    "notegen.preview",
    `notegen: ${heading}`,
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
    { enableScripts: false },
  );
  panel.webview.html = previewHtml(heading, result);
  try {
    const answer = await vscode.window.showInformationMessage(
      `notegen: ${heading}: insert these notes? The picture is beside the editor.`,
      "Insert",
      "Another seed",
    );
    return answer === "Insert" ? "insert" : answer === "Another seed" ? "again" : undefined;
  } finally {
    panel.dispose();
  }
}
