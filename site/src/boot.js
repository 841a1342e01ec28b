// The page's first script: small, it runs as soon as it is in (async, and before the page is first
// drawn), touches no element, and starts what the page waits for before it is ready — the engine
// (the host runner's WebSocket to the bridge, or the in-page runner's worker and engine.wasm), the
// learner's first file (IndexedDB) and the list of lessons — while the browser still fetches and
// compiles main.js (the editor, the panels), which takes them over. Nothing here waits for
// main.js, and main.js waits for nothing of this but what it needs.

import "./theme.js"; // first: the theme is set before the page is first drawn
import { bridgeAddress } from "./bridge.js";
import { createHostEngine } from "./engine-host.js";
import { createPageEngine, engineModule } from "./engine-page.js";
import { createTools } from "./tools.js";
import { entryFile, parseProgress, PROGRESS_FILE } from "./entries.js";
import { openWorkspace, readFirst } from "./workspace.js";

/** @typedef {import("./engine").Runner} Runner */
/** @typedef {import("./engine").Engine} Engine */
/** @typedef {import("./engine").EngineCallbacks} EngineCallbacks */
/** @typedef {import("./engine").EngineEvent} EngineEvent */

/** The worker bundle's content-hashed name, set by build.mjs. */
export const workerURL = WORKER_URL;
/** Where the learner's choice of runner is remembered. */
export const RUNNER_KEY = "sockstep.runner";
/** How long reading ahead may take before the workspace's loads read for themselves. */
const READ_AHEAD_MS = 3000;

// First, as it takes longest: progress.json and the file of the entry it names as open (the
// editor's first), read from the workspace while the browser compiles main.js (in a fresh profile,
// only the list of databases is asked). Each step needs a turn of this thread, free until main.js
// runs; a worker would not need that, but takes longer to start than all of it.
const firstFiles = Promise.race([
  readFirst(PROGRESS_FILE, (text) => entryFile(parseProgress(text).open)),
  new Promise((_, reject) => setTimeout(() => reject(new Error("no answer in time")), READ_AHEAD_MS)),
]).catch((err) => {
  console.debug("boot: reading ahead:", err); // the workspace's loads read for themselves
  return /** @type {import("./workspace.js").ReadAhead} */ (null);
});

/** The runner the learner chose last; the host's by default. */
export function savedRunner() {
  let saved = null;
  try {
    saved = localStorage.getItem(RUNNER_KEY);
  } catch {
    // no storage for this page: the default
  }
  return /** @type {Runner} */ (saved === "page" ? "page" : "host");
}

/** The bridge's WebSocket addresses ("/engine" → ws://…/engine?token=…); the token leaves the address bar now. */
export const bridgeURL = bridgeAddress();

/**
 * Makes an engine for runner (not started).
 * @param {Runner} runner
 * @param {EngineCallbacks} callbacks
 * @returns {Engine}
 */
export function createEngine(runner, callbacks) {
  return runner === "host"
    ? createHostEngine(bridgeURL("/engine"), callbacks)
    : createPageEngine({ workerURL, module: engineModule(), bridgeURL: bridgeURL("/ws") }, callbacks);
}

/**
 * An engine started before anyone listened: what it reports waits here until run.js takes it.
 * @typedef {object} Early
 * @property {Runner} runner
 * @property {Engine} engine
 * @property {Promise<void>} started  its start()
 * @property {EngineEvent[]} events  reported before it was taken
 * @property {[string, "crash" | "disconnect"] | null} gone  likewise
 * @property {EngineCallbacks | null} callbacks  the taker's
 */

/** @returns {Early} */
function startEarly(/** @type {Runner} */ runner) {
  /** @type {Early} */
  const early = { runner, engine: /** @type {any} */ (null), started: Promise.resolve(), events: [], gone: null, callbacks: null };
  early.engine = createEngine(runner, {
    onEvents(events) {
      if (early.callbacks) early.callbacks.onEvents(events);
      else early.events.push(...events);
    },
    onGone(message, kind) {
      if (early.callbacks) early.callbacks.onGone(message, kind);
      else early.gone ??= [message, kind];
    },
  });
  early.started = early.engine.start();
  early.started.catch(() => {}); // told to run.js when it takes the engine
  return early;
}

/** The first engine, connecting from now on; null once taken. */
let first = /** @type {Early | null} */ (null);
try {
  first = startEarly(savedRunner());
} catch (err) {
  console.debug("boot: the first engine:", err); // run.js makes its own, and tells what fails
}

/**
 * The engine started by this script, for run.js's first connect: the same as
 * createEngine(runner, callbacks) would make, already connecting (or connected). What it reported
 * before is told to callbacks right after this returns, in order, before its start settles for
 * the taker. null when it was taken already, or was for another runner (then it is closed).
 * @param {Runner} runner
 * @param {EngineCallbacks} callbacks
 * @returns {Engine | null}
 */
export function takeEngine(runner, callbacks) {
  const f = first;
  first = null;
  if (!f) return null;
  if (f.runner !== runner) {
    f.engine.close();
    return null;
  }
  // The caller keeps the engine before it hears from it (run.js drops events of engines it does
  // not hold): what waited here is told in a microtask, before the caller's then(start) runs.
  queueMicrotask(() => {
    f.callbacks = callbacks;
    if (f.events.length) callbacks.onEvents(f.events.splice(0));
    if (f.gone) callbacks.onGone(...f.gone);
  });
  return { ...f.engine, start: () => f.started };
}

/** The editor's tools (engine.wasm in a worker of its own), started on their first request only. */
export const tools = createTools(engineModule);

/** The learner's files; the first loads take what was read ahead. */
export const workspace = openWorkspace(tools, firstFiles);
workspace.catch(() => {}); // files.js tells the learner

/**
 * GET api/lessons, asked now: lessons.js reads it (a Response, once).
 * @type {Promise<Response>}
 */
export const lessonsResponse = fetch("api/lessons", { credentials: "same-origin" });
lessonsResponse.catch(() => {}); // lessons.js tells the learner
