// Bundle the extension and vscode-languageclient into one file: the .vsix then ships no
// node_modules and starts fast. `--production` minifies (used by `vsce package`).
import * as esbuild from "esbuild";

const production = process.argv.includes("--production");

await esbuild.build({
  entryPoints: ["src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  external: ["vscode"],
  format: "cjs",
  platform: "node",
  target: "node18",
  sourcemap: !production,
  minify: production,
  logLevel: "warning",
});
console.log(`built dist/extension.js${production ? " (production)" : ""}`);
