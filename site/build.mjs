// Builds the page into dist/: index.html (the styles inline), main-HASH.js,
// the chunks it loads first or later (chunk-HASH.js) and worker-HASH.js. The
// Makefile adds wasm_exec.js (Go's, copied from $(go env GOROOT)/lib/wasm) and
// engine.wasm afterwards; neither is hashed because worker.js and the page load
// them by those names.
//
// The page has two entry points: boot.js, small, which starts the engine's
// connection, the first reads of the workspace and the lessons' fetch as soon
// as it is in, and main.js (the editor, the panels), which the browser fetches
// and compiles meanwhile. main.js imports boot.js, so boot's code is in a chunk
// the two share, which index.html loads as its first script. CodeMirror, which
// main.js shares with what it loads later, is in one chunk that index.html
// preloads; what the page needs only once it is ready (Go's syntax and the
// editor's helps, editor-later.js; marked, for lesson text) is in chunks
// loaded then. In a fresh profile each file the page waits for is a request
// the browser is slow to make, whatever its size: so the styles are in
// index.html, boot's own entry file (it only re-exports its chunk) is not
// loaded at all, and CodeMirror's packages are not split into chunks of their
// own (which made page ready slower, not faster, on two cores).
//
//   node build.mjs           build once, minified
//   node build.mjs --watch   rebuild on change (not minified)
import * as esbuild from "esbuild";
import { readFile, writeFile, readdir, rm, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, "src");
const dist = path.join(here, "dist");
const watch = process.argv.includes("--watch");

/** What earlier builds of this script left in dist/; anything else there (placeholder.html,
 * wasm_exec.js, engine.wasm, whatever the Makefile adds) is not ours to remove. */
const ours = /^(index\.html|(boot|main|chunk|worker|styles)-[A-Za-z0-9]+\.(js|css)(\.map)?)(\.gz|\.br)?$/;

/** @type {esbuild.BuildOptions} */
const common = {
  bundle: true,
  outdir: dist,
  entryNames: "[name]-[hash]",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  target: ["chrome110", "firefox115", "safari16"],
  metafile: true,
  logLevel: "warning",
  legalComments: "none",
};

/** The chunks (relative to dist/) that output file `file` imports, itself and them included. */
function staticImports(result, file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const imp of result.metafile.outputs[metaKey(file)]?.imports ?? []) {
    if (imp.kind === "import-statement" && !imp.external) staticImports(result, distFile(imp.path), seen);
  }
  return seen;
}

/** The metafile's name for an output file (relative to dist/): relative to this directory. */
function metaKey(file) {
  return path.relative(here, path.join(dist, file));
}

/** An output file relative to dist/, from the metafile's name for it. */
function distFile(key) {
  return path.relative(dist, path.resolve(here, key));
}

/** The output file (relative to dist/) that esbuild made from entry point `entry`. */
function outputOf(result, entry) {
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (info.entryPoint && path.resolve(here, info.entryPoint) === path.resolve(entry)) {
      return distFile(file);
    }
  }
  throw new Error(`build: no output for ${entry}`);
}

async function clean() {
  await mkdir(dist, { recursive: true });
  for (const name of await readdir(dist)) {
    if (ours.test(name)) await rm(path.join(dist, name), { recursive: true, force: true });
  }
}

async function buildOnce() {
  await clean();
  // The worker is a classic script (it calls importScripts("wasm_exec.js")).
  const workerEntry = path.join(src, "worker.js");
  const worker = await esbuild.build({ ...common, entryPoints: [workerEntry], format: "iife" });
  const workerFile = outputOf(worker, workerEntry);

  const bootEntry = path.join(src, "boot.js");
  const mainEntry = path.join(src, "main.js");
  const cssEntry = path.join(src, "styles.css");
  const page = await esbuild.build({
    ...common,
    entryPoints: [bootEntry, mainEntry, cssEntry],
    format: "esm",
    splitting: true,
    chunkNames: "chunk-[hash]",
    // The default program is examples/echo/main.go, bundled as text: one source of truth.
    loader: { ".go": "text" },
    define: { WORKER_URL: JSON.stringify(workerFile) },
  });
  const bootFile = outputOf(page, bootEntry);
  const mainFile = outputOf(page, mainEntry);
  const cssFile = outputOf(page, cssEntry);
  // boot.js's code is in the one chunk its entry file re-exports (main.js imports boot.js): the
  // page loads that chunk as its first script, the very module main.js then imports.
  const bootKey = metaKey(bootFile);
  const bootImports = page.metafile.outputs[bootKey].imports.filter((i) => i.kind === "import-statement");
  if (Object.keys(page.metafile.outputs[bootKey].inputs).length > 0 || bootImports.length !== 1) {
    throw new Error(`build: ${bootFile} has code of its own; boot.js should be only in a chunk main.js shares`);
  }
  const bootScript = distFile(bootImports[0].path);
  await rm(path.join(dist, bootFile));
  delete page.metafile.outputs[bootKey];
  // Every other chunk main.js imports, fetched at once rather than once each importer is in.
  const shared = staticImports(page, mainFile);
  shared.delete(mainFile);
  shared.delete(bootScript);
  const preloads = [...shared].map((f) => `<link rel="modulepreload" href="${f}">`).join("\n");
  // The styles go in index.html itself (the bridge's CSP allows inline styles).
  const css = (await readFile(path.join(dist, cssFile), "utf8")).trim();
  await rm(path.join(dist, cssFile));

  const html = (await readFile(path.join(src, "index.html"), "utf8"))
    .replaceAll("{{preloads}}", preloads)
    .replaceAll("{{boot.js}}", bootScript)
    .replaceAll("{{main.js}}", mainFile)
    .replace("{{styles.css}}", () => css);
  await writeFile(path.join(dist, "index.html"), html);

  const files = [
    ...Object.keys(page.metafile.outputs)
      .map(distFile)
      .filter((f) => f.endsWith(".js"))
      .sort(),
    workerFile,
    "index.html",
  ];
  for (const f of files) {
    const size = (await readFile(path.join(dist, f))).length;
    console.log(`  dist/${f.padEnd(28)} ${(size / 1024).toFixed(1).padStart(7)} KiB`);
  }
}

if (watch) {
  const { watch: fsWatch } = await import("node:fs");
  let timer;
  const rebuild = () => buildOnce().catch((err) => console.error(err.message));
  await rebuild();
  fsWatch(src, { recursive: true }, () => {
    clearTimeout(timer);
    timer = setTimeout(rebuild, 100);
  });
  console.log("watching src/ …");
} else {
  await buildOnce();
}
