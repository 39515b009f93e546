/**
 * Which documents notegen is for: Sonic Pi files, not the rest of a Ruby workspace.
 *
 * Pure (no `vscode` import) so it is unit-tested. The same rule as the server's
 * (`notegen.sonicpi.recognise`): a `sonic-pi`/`sonicpi` language id, or a line that starts with
 * something only Sonic Pi code writes (a voice array `a1[0]=[`, `play :c4`, `live_loop`,
 * `use_synth`, `use_bpm`, `play_pattern_timed`, `sample :name`, `with_fx`, `in_thread`).
 * `sleep` alone does not count (Ruby's `Kernel#sleep`). The extension uses it to start the
 * server only when the first such file opens, so a Ruby-only workspace never starts Python.
 */

export const SONIC_PI_LANGUAGE_IDS: readonly string[] = ["sonic-pi", "sonicpi"];

const SIGNS =
  /^[ \t]*(?:a\d+[ \t]*\[[ \t]*\d+[ \t]*\][ \t]*=[ \t]*\[|play[ \t]+(?::[A-Ga-g]|\d|\[|chord\b|scale\b|\(|ring\b|note\b)|play_pattern(?:_timed)?\b|play_chord\b|(?:live_loop|in_thread|with_fx|use_synth|with_synth|use_bpm|with_bpm|use_random_seed)\b|sample[ \t]+:)/m;

export type Enable = "auto" | "always" | "never";

export function looksLikeSonicPi(text: string, languageId?: string): boolean {
  if (languageId !== undefined && SONIC_PI_LANGUAGE_IDS.includes(languageId)) {
    return true;
  }
  return SIGNS.test(text);
}

/** `**` any folders, `*` within a name, `?` one character, `{a,b}` either; relative globs
 * match at any depth (`music/*.rb` matches `/home/me/music/a.rb`). */
export function globToRegExp(glob: string): RegExp {
  const g = glob.replace(/\\/g, "/");
  let out = g.startsWith("/") ? "^" : "^(?:.*/)?";
  for (let i = 0; i < g.length; ) {
    if (g.startsWith("**/", i)) {
      out += "(?:.*/)?";
      i += 3;
    } else if (g.startsWith("**", i)) {
      out += ".*";
      i += 2;
    } else if (g[i] === "*") {
      out += "[^/]*";
      i += 1;
    } else if (g[i] === "?") {
      out += "[^/]";
      i += 1;
    } else if (g[i] === "{" && g.indexOf("}", i) > i) {
      const end = g.indexOf("}", i);
      out += "(?:" + g.slice(i + 1, end).split(",").map(escape).join("|") + ")";
      i = end + 1;
    } else {
      out += escape(g[i]);
      i += 1;
    }
  }
  return new RegExp(out + "$");
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

export function globMatches(globs: readonly string[], path: string): boolean {
  const p = path.replace(/\\/g, "/");
  return globs.some((g) => g.trim() !== "" && globToRegExp(g.trim()).test(p));
}

export interface DocumentFacts {
  /** File system path (or the URI's path for untitled documents). */
  path: string;
  languageId: string;
  /** The document's text (only read when the other rules do not decide). */
  text: () => string;
}

/** Whether notegen serves this document under `enable` (as read for the document's folder). */
export function wantsNotegen(doc: DocumentFacts, enable: unknown, include: unknown): boolean {
  if (enable === "never") {
    return false;
  }
  if (enable === "always") {
    return true;
  }
  const globs = Array.isArray(include) ? include.filter((g): g is string => typeof g === "string") : [];
  if (globMatches(globs, doc.path)) {
    return true;
  }
  return looksLikeSonicPi(doc.text(), doc.languageId);
}
