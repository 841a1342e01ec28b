// Runs one program in engine.wasm under node, as the page's worker does:
// node --experimental-websocket run.js wasm_exec.js engine.wasm BRIDGE_URL PROGRAM.go
// Prints each engine event as one line of JSON, then {"type":"runDone"}.
const fs = require("fs");
const [wasmExec, wasmFile, bridgeURL, programFile] = process.argv.slice(2);
require(wasmExec);
(async () => {
  const go = new Go();
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasmFile), go.importObject);
  go.run(instance).then(() => {
    console.log(JSON.stringify({ type: "engineStopped" }));
    process.exit(1);
  });
  while (!globalThis.sockstepEngine) await new Promise((r) => setTimeout(r, 5));
  const engine = globalThis.sockstepEngine;
  await engine.start({ bridgeURL, onEvent: (json) => console.log(json) });
  await engine.run(fs.readFileSync(programFile, "utf8"));
  console.log(JSON.stringify({ type: "runDone" }));
  process.exit(0);
})().catch((err) => {
  console.log(JSON.stringify({ type: "failed", message: String(err && err.message || err) }));
  process.exit(1);
});
