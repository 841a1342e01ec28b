// Builds the page into dist/: index.html, main-HASH.js, worker-HASH.js and
// styles-HASH.css. The Makefile adds wasm_exec.js (Go's, copied from
// $(go env GOROOT)/lib/wasm) and engine.wasm afterwards; neither is hashed
// because worker.js and main.js load them by those names.
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
const ours = /^(index\.html|(main|worker|styles)-[A-Za-z0-9]+\.(js|css)(\.map)?)(\.gz|\.br)?$/;

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

/** The output file (relative to dist/) that esbuild made from entry point `entry`. */
function outputOf(result, entry) {
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (info.entryPoint && path.resolve(here, info.entryPoint) === path.resolve(entry)) {
      return path.relative(dist, path.resolve(here, file));
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

  const mainEntry = path.join(src, "main.js");
  const cssEntry = path.join(src, "styles.css");
  const page = await esbuild.build({
    ...common,
    entryPoints: [mainEntry, cssEntry],
    format: "esm",
    // The default program is examples/echo/main.go, bundled as text: one source of truth.
    loader: { ".go": "text" },
    define: { WORKER_URL: JSON.stringify(workerFile) },
  });
  const mainFile = outputOf(page, mainEntry);
  const cssFile = outputOf(page, cssEntry);

  const html = (await readFile(path.join(src, "index.html"), "utf8"))
    .replaceAll("{{main.js}}", mainFile)
    .replaceAll("{{styles.css}}", cssFile);
  await writeFile(path.join(dist, "index.html"), html);

  const files = [mainFile, workerFile, cssFile, "index.html"];
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
