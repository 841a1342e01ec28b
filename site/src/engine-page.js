// The in-page runner: engine.wasm in a Web Worker (worker.js), which runs
// the program in the page and relays each socket call to the bridge's /ws.
// An endless loop never freezes the page: it only keeps the worker busy,
// and Stop terminates the worker. Messages are typed in engine.d.ts
// (ToWorker, FromWorker).

import { connectTrouble } from "./bridge.js";
import { createRequests, parseEvents } from "./requests.js";

/** @typedef {import("./engine").Engine} Engine */
/** @typedef {import("./engine").EngineCallbacks} EngineCallbacks */
/** @typedef {import("./engine").EngineEvent} EngineEvent */
/** @typedef {import("./engine").FromWorker} FromWorker */
/** @typedef {import("./engine").ToWorker} ToWorker */

/**
 * @param {object} o
 * @param {string} o.workerURL
 * @param {Promise<WebAssembly.Module>} o.module  engine.wasm, compiled once for every worker
 * @param {string} o.bridgeURL  ws(s)://host/ws?token=…; "" when the page knows no bridge: start then
 *   fails, saying what to do
 * @param {EngineCallbacks} callbacks
 * @returns {Engine}
 */
export function createPageEngine({ workerURL, module, bridgeURL }, { onEvents, onGone }) {
  /** @type {Worker | null} */
  let worker = null;
  let started = false;
  let closed = false;
  const post = (/** @type {ToWorker} */ msg) => worker?.postMessage(msg);
  const requests = createRequests((request) => {
    if (!started) throw new Error("the engine is not connected");
    post({ type: "request", request });
  });

  function close() {
    closed = true;
    worker?.terminate();
    requests.failAll("the engine stopped");
  }

  function start() {
    /** @type {Promise<void>} */
    const connected = new Promise((resolve, reject) => {
      if (!bridgeURL) {
        connectTrouble("").then((message) => reject(new Error(message)));
        return;
      }
      const w = new Worker(workerURL);
      worker = w;
      /** Before start resolved, a failure rejects it; after, the engine is gone. */
      const fail = (/** @type {string} */ message, /** @type {"crash" | "disconnect"} */ kind) => {
        if (closed) return;
        if (!started) {
          reject(new Error(message));
          return;
        }
        close();
        onGone(message, kind);
      };
      /** Events in order, up to a lost bridge, which ends this engine. */
      const deliver = (/** @type {EngineEvent[]} */ events) => {
        const rest = requests.take(events);
        const lost = rest.findIndex((ev) => ev.type === "disconnected");
        if (lost < 0) {
          onEvents(rest);
          return;
        }
        onEvents(rest.slice(0, lost));
        const ev = /** @type {import("./engine").DisconnectedEvent} */ (rest[lost]);
        fail(`lost the bridge: ${ev.message}`, "disconnect");
      };
      w.onmessage = (/** @type {MessageEvent<FromWorker>} */ e) => {
        if (closed) return;
        const msg = e.data;
        switch (msg.type) {
          case "started":
            started = true;
            resolve();
            break;
          case "startFailed":
            connectTrouble(msg.message).then((message) => fail(message, "disconnect"));
            break;
          case "events":
            deliver(parseEvents(msg.json));
            break;
          case "engineStopped":
            fail(msg.message, "crash");
            break;
        }
      };
      w.onerror = (e) => {
        e.preventDefault();
        fail(`the engine stopped: ${e.message || "its worker failed"}`, "crash");
      };
      module.then(
        (m) => post({ type: "init", module: m, bridgeURL }),
        (err) => fail(`could not load the engine: ${err.message}`, "crash"),
      );
    });
    return connected;
  }

  return { runner: "page", start, request: requests.request, close };
}

/** engine.wasm, compiled; a failed compile is tried again by the next caller. */
let compiled = /** @type {Promise<WebAssembly.Module> | null} */ (null);

/** engine.wasm, fetched and compiled once for the page (its workers, the editor's tools). */
export function engineModule() {
  compiled ??= compileEngine().catch((err) => {
    compiled = null;
    throw err;
  });
  return compiled;
}

async function compileEngine() {
  const resp = await fetch("engine.wasm");
  if (!resp.ok) throw new Error(`engine.wasm: ${resp.status} ${resp.statusText}`);
  if (resp.headers.get("Content-Type")?.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(resp);
  }
  return WebAssembly.compile(await resp.arrayBuffer()); // a server that does not know .wasm
}
