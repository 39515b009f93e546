/**
 * The `notegen` settings as the server sees them.
 *
 * Pure (no `vscode` import) so it is unit-tested: the same object goes out as
 * `initializationOptions` at start and as `{notegen: ...}` in `workspace/didChangeConfiguration`,
 * so the server has one code path for both. `server.*` keys only tell the client how to launch
 * the server and are never sent.
 */

/** Reads one setting of the `notegen` section by its dotted key (`"sonicPi.port"`). */
export type SettingReader = (key: string) => unknown;

/** Where relative and `~` paths in settings are resolved from. */
export interface PathContext {
  /** First workspace folder, if any: relative `modelPath`s are relative to it. */
  workspaceFolder?: string;
  /** The user's home directory, for `~/...`. */
  home?: string;
}

/** The keys of the `notegen` section that reach the server (the COMMON contract). */
export const SERVER_KEYS = [
  "modelPath",
  "temperature",
  "topK",
  "topP",
  "maxItems",
  "phraseLength",
  "maxContext",
  "inlineSuggestions",
  "enable",
  "include",
  "pianoRoll",
  "modelsDir",
  "folderModels",
] as const;

/** Nested slip-hint keys, sent as `slips: {sensitivity, allPieces}`. */
export const SLIP_KEYS = ["sensitivity", "allPieces"] as const;

/** Nested Sonic Pi keys, sent as `sonicPi: {host, port}`. */
export const SONIC_PI_KEYS = ["host", "port"] as const;

export interface ServerSettings {
  modelPath: string | null;
  temperature: unknown;
  topK: unknown;
  topP: unknown;
  maxItems: unknown;
  phraseLength: unknown;
  maxContext: unknown;
  inlineSuggestions: unknown;
  sonicPi: { host: unknown; port: unknown };
  /** "auto" | "always" | "never": which documents the server answers in. */
  enable: unknown;
  /** Globs of files served whatever they hold (plus `folder/**` of folders set to "always"). */
  include: string[];
  /** Hovers carry the piano-roll picture (VS Code renders Markdown images). */
  pianoRoll: unknown;
  /** The folder of the user's model cards (`null`: the server's default folder). */
  modelsDir: string | null;
  /** Folder → model name; folders written with `~` or relative to the workspace are resolved. */
  folderModels: unknown;
  /** Slip hints: how eager (`off`/`low`/`default`/`high`) and whether single voices count. */
  slips: { sensitivity: unknown; allPieces: unknown };
}

/**
 * Expand `~`, `${userHome}` and `${workspaceFolder}` as VS Code users write them in settings;
 * blank or non-string values become `undefined` ("not set").
 */
export function expandVariables(value: unknown, ctx: PathContext): string | undefined {
  if (typeof value !== "string" || value.trim() === "") {
    return undefined;
  }
  let text = value.trim();
  if (ctx.home !== undefined) {
    text = text.replace(/\$\{userHome\}/g, ctx.home);
    if (text === "~" || text.startsWith("~/")) {
      text = ctx.home + text.slice(1);
    }
  }
  if (ctx.workspaceFolder !== undefined) {
    text = text.replace(/\$\{workspaceFolder\}/g, ctx.workspaceFolder);
  }
  return text;
}

/**
 * A path setting as the server needs it: variables expanded and, since the server runs in
 * another working directory, a relative path made absolute against the workspace folder.
 * Blank strings become `null` ("use the default").
 */
export function expandPath(value: unknown, ctx: PathContext): string | null {
  const path = expandVariables(value, ctx);
  if (path === undefined) {
    return null;
  }
  if (ctx.workspaceFolder !== undefined && !isAbsolute(path)) {
    return joinPath(ctx.workspaceFolder, path);
  }
  return path;
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

function joinPath(dir: string, rel: string): string {
  const sep = dir.includes("\\") && !dir.includes("/") ? "\\" : "/";
  const trimmed = rel.replace(/^\.[\\/]/, "");
  return dir.endsWith(sep) ? dir + trimmed : dir + sep + trimmed;
}

/**
 * Build the object the server receives. Values other than paths are passed on as they are: the
 * server validates them, reports bad ones and falls back to its defaults, so a typo in
 * settings.json is explained by the server instead of silently fixed here.
 */
export function serverSettings(
  read: SettingReader,
  ctx: PathContext = {},
  alwaysFolders: readonly string[] = [],
): ServerSettings {
  const include = read("include");
  const globs = Array.isArray(include) ? include.filter((g): g is string => typeof g === "string") : [];
  const port = read("sonicPi.port");
  return {
    modelPath: expandPath(read("modelPath"), ctx),
    temperature: read("temperature"),
    topK: read("topK"),
    topP: read("topP"),
    maxItems: read("maxItems"),
    phraseLength: read("phraseLength"),
    maxContext: read("maxContext"),
    inlineSuggestions: read("inlineSuggestions"),
    // 0 (the Settings UI's "find it") and empty mean: let the server find Sonic Pi.
    sonicPi: { host: read("sonicPi.host"), port: port === 0 || port === "" || port === undefined ? null : port },
    enable: read("enable") ?? "auto",
    include: [...globs, ...alwaysFolders.map((folder) => `${folder.replace(/[\\/]+$/, "")}/**`)],
    pianoRoll: read("pianoRoll") ?? true,
    modelsDir: expandPath(read("modelsDir"), ctx),
    folderModels: folderModels(read("folderModels"), ctx),
    slips: { sensitivity: read("slips.sensitivity"), allPieces: read("slips.allPieces") },
  };
}

/**
 * `notegen.folderModels` with its folders resolved like any path setting (the server compares
 * them with document paths). Anything but an object is passed on as it is, for the server to
 * report; a blank folder key is dropped.
 */
export function folderModels(value: unknown, ctx: PathContext): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [folder, name] of Object.entries(value as Record<string, unknown>)) {
    const path = expandPath(folder, ctx);
    if (path !== null) {
      out[path.replace(/(.)[\\/]+$/, "$1")] = name;
    }
  }
  return out;
}

/** Whether a configuration change needs a server restart (launch settings) or only a push. */
export function changeKind(affects: (section: string) => boolean): "restart" | "push" | "none" {
  if (affects("notegen.server")) {
    return "restart";
  }
  return affects("notegen") ? "push" : "none";
}
