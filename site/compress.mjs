// Writes precompressed twins of the built page's text and WASM files in
// dist/: x.br (brotli) and x.gz (gzip), which the bridge serves to browsers
// that take them. Brotli makes engine.wasm about a fifth smaller than gzip.
//
//   node compress.mjs
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import zlib from "node:zlib";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "dist");
const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** Brotli's best quality takes about a minute on engine.wasm for little gain; 9 takes seconds. */
const bigFile = 4 << 20;

for (const name of await readdir(dist)) {
  if (!/\.(js|css|html|wasm)$/.test(name)) continue;
  const file = path.join(dist, name);
  const data = await readFile(file);
  const [br, gz] = await Promise.all([
    brotli(data, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: data.length > bigFile ? 9 : 11,
        [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        [zlib.constants.BROTLI_PARAM_MODE]: name.endsWith(".wasm") ? zlib.constants.BROTLI_MODE_GENERIC : zlib.constants.BROTLI_MODE_TEXT,
      },
    }),
    gzip(data, { level: 9 }),
  ]);
  await Promise.all([writeFile(file + ".br", br), writeFile(file + ".gz", gz)]);
  const kib = (/** @type {number} */ n) => `${(n / 1024).toFixed(1)} KiB`.padStart(11);
  console.log(`  dist/${name.padEnd(28)} ${kib(data.length)}  br ${kib(br.length)}  gzip ${kib(gz.length)}`);
}
