// The page: editor, Run/Stop, output and trace panels, and the engine's
// worker lifecycle. The worker protocol is typed in engine.d.ts (ToWorker,
// FromWorker); the engine's events are in docs/architecture.md.

import echo from "../../examples/echo/main.go";
import { createEditor } from "./editor.js";
import { createLessons, PLAYGROUND_FILE } from "./lessons.js";
import { createSocketsPanel } from "./sockets.js";
import { createClientPanel } from "./clients.js";
import { createDebugger } from "./debugger.js";
import { createLanes } from "./lanes.js";

/** @typedef {import("./engine").FromWorker} FromWorker */
/** @typedef {import("./engine").EngineEvent} EngineEvent */
/** @typedef {import("./engine").DiagnosticEvent} DiagnosticEvent */
/** @typedef {"ready" | "running" | "paused" | "stopped" | "error" | "disconnected"} Status */

/** The worker bundle's content-hashed name, set by build.mjs. */
/* global WORKER_URL */
/** @type {string} */
const workerURL = WORKER_URL;

/** How long after a failed start or a lost bridge the page tries again, with a fresh worker. */
const RETRY_MS = 1000;
/** How long after the last keystroke the editor's text is saved. */
const SAVE_DELAY_MS = 300;
/** How long the editor waits for a file before it shows the file's starting code, unsaved. */
const LOAD_TIMEOUT_MS = 5000;
/** How long any other workspace request may take before the page gives up on it. */
const REQUEST_TIMEOUT_MS = 10000;
/** The output panel keeps at most this many characters, dropping the oldest. */
const MAX_OUTPUT_CHARS = 200_000;
/** The trace panel keeps at most this many calls, dropping the oldest. */
const MAX_TRACE_ENTRIES = 2000;

const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));
const runButton = /** @type {HTMLButtonElement} */ (el("run"));
const stopButton = /** @type {HTMLButtonElement} */ (el("stop"));
const statusEl = el("status");
const statusDetail = /** @type {HTMLElement} */ (document.getElementById("status-detail"));
const outputEl = el("output");
const traceEl = el("trace");

const sockets = createSocketsPanel({
  body: el("sockets"),
  empty: /** @type {HTMLElement} */ (document.getElementById("sockets-empty")),
  note: /** @type {HTMLElement} */ (document.getElementById("sockets-note")),
});
const clients = createClientPanel({
  list: /** @type {HTMLElement} */ (document.getElementById("clients")),
  newButton: /** @type {HTMLButtonElement} */ (el("client-new")),
  addrInput: /** @type {HTMLInputElement} */ (document.getElementById("client-addr")),
  request: clientRequest,
  defaultAddr: () => sockets.listeningAddr(),
});

// ---- The bridge's address ----

/** ws(s)://host/ws, with the token this page was opened with (the bridge also accepts its cookie). */
const bridgeURL = (() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token !== null) {
    // Keep the token out of the URL bar, bookmarks and screenshots; the cookie keeps working.
    params.delete("token");
    const query = params.toString();
    history.replaceState(history.state, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : "");
})();

// ---- The editor and the workspace ----

const editor = createEditor({
  parent: /** @type {HTMLElement} */ (document.getElementById("editor-host")),
  onRun: () => run(),
  onSave: () => saveNow(),
  onChange: () => {
    edited = true;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
  },
  onBreakpoints: (lines) => debug.breakpointsChanged(lines),
});

/** The file in the editor: its workspace name, and what it starts with when never saved. */
let file = { name: PLAYGROUND_FILE, starter: echo };
/** The workspace answered for this file: from now on every edit is saved. */
let loaded = false;
/** The workspace could not be read (yet); the editor shows the file's starter meanwhile, unsaved. */
let fallback = false;
/** The learner typed since the file was opened. */
let edited = false;
/** The text the workspace last confirmed it saved for this file. */
let savedText = /** @type {string | null} */ (null);
/** The text of the last save sent for this file and not yet answered. */
let pendingSave = /** @type {string | null} */ (null);
let saveTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
let saveErrorShown = false;
/** Counts openFile calls, so that an older one's answer does not land in a newer file. */
let opening = 0;
/** The first file is in the editor (saved text or starter): only then is the page ready to run. */
let fileReady = false;

/** The editor holds a file now; the first time, the page may become ready. */
function fileOpened() {
  if (fileReady) return;
  fileReady = true;
  becomeReady();
}

/**
 * Shows a workspace file in the editor: its saved text, or starter when it was never saved.
 * @param {string} name
 * @param {string} starter
 * @param {{save?: boolean}} [opts] save: false when the editor's text must not be saved first
 *   (the workspace has just been replaced by an import)
 */
async function openFile(name, starter, opts = {}) {
  if (opts.save !== false) saveNow(); // the file being left
  const token = ++opening;
  file = { name, starter };
  loaded = false;
  fallback = false;
  edited = false;
  savedText = null;
  pendingSave = null;
  editor.lock();
  try {
    const msg = await workspaceRequest({ type: "load", name }, LOAD_TIMEOUT_MS);
    if (token !== opening) return;
    loaded = true;
    savedText = msg.source;
    editor.setDoc(msg.source ?? starter);
  } catch (err) {
    if (token !== opening) return;
    fallback = true;
    editor.setDoc(starter);
    say(`could not open your saved ${name} (${describe(err)}); showing its starting code, and not saving yet`, "system");
  }
  fileOpened();
}

/** After a fallback, tries the file again once an engine is up; the learner's edits since win. */
async function retryOpen() {
  if (!fallback) return;
  const token = opening;
  try {
    const msg = await workspaceRequest({ type: "load", name: file.name }, LOAD_TIMEOUT_MS);
    if (token !== opening || !fallback) return;
    fallback = false;
    loaded = true;
    savedText = msg.source;
    if (edited) {
      saveNow();
    } else {
      editor.setDoc(msg.source ?? file.starter);
      say(`opened your saved ${file.name}`, "system");
    }
  } catch {
    // still unreadable: the next engine tries again
  }
}

/** Saves the editor's text, if it changed. */
function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = undefined;
  if (!loaded) return;
  const { name } = file;
  const source = editor.getDoc();
  if (source === savedText || source === pendingSave) return;
  pendingSave = source;
  workspaceRequest({ type: "save", name, source }).then(
    () => {
      saveErrorShown = false;
      if (file.name === name) savedText = source;
    },
    (err) => {
      if (!saveErrorShown) {
        // A program that never yields (for {}) keeps the worker from answering: not a failure
        // of the workspace, and the edit is saved once the program ends or is stopped.
        if (running) say("your program keeps the engine busy: your edits are saved when it ends or you press Stop", "system");
        else say(`could not save your program: ${describe(err)}`, "error");
      }
      saveErrorShown = true;
    },
  ).finally(() => {
    if (file.name === name && pendingSave === source) pendingSave = null;
  });
}

// ---- Workspace requests: one at a time, in order, surviving a change of worker ----

let requestID = 0;
/** Resolves when every request sent so far has settled. */
let requestsDone = Promise.resolve();
/**
 * The request the worker has not answered yet. The engine serves each request in its own
 * goroutine, so two in flight could finish out of order; and a worker may be terminated (Stop)
 * with a request in flight, which the next worker then gets.
 * @type {{msg: {id: number}, resolve: (v: any) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout>} | null}
 */
let inflight = null;

/**
 * Sends msg (load, save, export, import) to the engine's workspace; resolves to the answer.
 * @param {object} msg
 * @param {number} [timeoutMs]
 * @returns {Promise<any>}
 */
function workspaceRequest(msg, timeoutMs = REQUEST_TIMEOUT_MS) {
  const p = requestsDone.then(
    () =>
      new Promise((resolve, reject) => {
        const full = { ...msg, id: ++requestID };
        const timer = setTimeout(() => {
          if (inflight?.msg !== full) return;
          inflight = null;
          reject(new Error("the workspace did not answer"));
        }, timeoutMs);
        inflight = { msg: full, resolve, reject, timer };
        current?.worker.postMessage(full); // or spawn sends it
      }),
  );
  requestsDone = p.then(
    () => {},
    () => {},
  );
  return p;
}

/** @param {{id: number, error?: string}} msg an answer to a workspace request */
function onWorkspaceAnswer(msg) {
  if (!inflight || inflight.msg.id !== msg.id) return; // it timed out
  const { resolve, reject, timer } = inflight;
  inflight = null;
  clearTimeout(timer);
  if (msg.error) reject(new Error(msg.error));
  else resolve(msg);
}

function describe(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}

// ---- The engine's worker ----

/** engine.wasm, compiled once and handed to every worker. */
let modulePromise = /** @type {Promise<WebAssembly.Module> | null} */ (null);

function engineModule() {
  modulePromise ??= compileEngine().catch((err) => {
    modulePromise = null; // try again with the next worker
    throw err;
  });
  return modulePromise;
}

async function compileEngine() {
  const resp = await fetch("engine.wasm");
  if (!resp.ok) throw new Error(`engine.wasm: ${resp.status} ${resp.statusText}`);
  if (resp.headers.get("Content-Type")?.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(resp);
  }
  return WebAssembly.compile(await resp.arrayBuffer()); // a server that does not know .wasm
}

/**
 * One worker running the engine.
 * @typedef {object} Engine
 * @property {Worker} worker
 * @property {boolean} started  connected to the bridge
 * @property {number} runs  programs it has run, all in one bridge session (and one trace)
 */

/** @type {Engine | null} */
let current = null;
/** A run was sent to the current worker and has not ended. */
let running = false;
/** Source to run once the current worker has connected. */
let queuedRun = /** @type {string | null} */ (null);
/** When the last run ended (performance.now()). */
let runEndedAt = -Infinity;
/** How soon after a run's end a crash of the engine is still that run's. */
const CRASH_AFTER_EXIT_MS = 1000;
/** What runs (or is queued): its workspace file and source, for Check to know whether it is the editor's. */
let program = { file: "", source: /** @type {string | null} */ (null) };
/** The current worker's bridge session (its `session` event), which a check names. */
let sessionID = /** @type {string | null} */ (null);
/** How to run it: stop at the start, breakpoints. */
let queuedOptions = /** @type {{debug?: boolean, breakpoints?: number[]}} */ ({});
/** Diagnostics of the current run. */
let diagnostics = /** @type {DiagnosticEvent[]} */ ([]);
let retryTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
/** The last failure to connect told to the learner, so that retries do not repeat it. */
let lastFailure = "";

function spawn() {
  clearTimeout(retryTimer);
  const worker = new Worker(workerURL);
  /** @type {Engine} */
  const eng = { worker, started: false, runs: 0 };
  current = eng;
  worker.onmessage = (/** @type {MessageEvent<FromWorker>} */ e) => {
    if (current === eng) onWorkerMessage(eng, e.data);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    if (current === eng) engineGone(`the engine stopped: ${e.message || "its worker failed"}`, "crash");
  };
  engineModule().then(
    (module) => {
      if (current === eng) worker.postMessage({ type: "init", module, bridgeURL });
    },
    (err) => {
      if (current === eng) engineGone(`could not load the engine: ${err.message}`, "crash");
    },
  );
  // The worker queues these until its engine is up.
  if (inflight) worker.postMessage(inflight.msg);
  saveNow(); // what a terminated worker may not have saved
}

/**
 * @param {Engine} eng
 * @param {FromWorker} msg
 */
function onWorkerMessage(eng, msg) {
  switch (msg.type) {
    case "started":
      eng.started = true;
      // For `make bench`: one mark per worker that came up; the first is the cold start.
      performance.mark("sockstep:started");
      if (lastFailure) say("connected to the bridge", "system");
      lastFailure = "";
      detail("");
      becomeReady();
      retryOpen();
      break;
    case "startFailed":
      engineGone(`could not connect to the bridge: ${msg.message}`, "disconnect");
      break;
    case "events":
      for (const ev of parseEvents(msg.json)) {
        if (current !== eng) break; // an event (a lost bridge) dropped this worker
        onEngineEvent(ev);
      }
      break;
    case "runDone":
      finishRun(msg.error); // when the exit event did not already
      break;
    case "loaded":
    case "saved":
    case "exported":
    case "imported":
      onWorkspaceAnswer(msg);
      break;
    case "clientDone":
      clientDone(msg);
      break;
    case "engineStopped":
      engineGone(msg.message, "crash");
      break;
    default:
      console.warn("page: unknown message from the worker", msg);
  }
}

/**
 * The engine's batch of events; an unreadable one is reported rather than lost silently.
 * @param {string} json
 * @returns {EngineEvent[]}
 */
function parseEvents(json) {
  try {
    return JSON.parse(json);
  } catch {
    return [{ type: "output", stream: "stderr", text: `engine sent unreadable events: ${json.slice(0, 200)}\n` }];
  }
}

/**
 * Status `ready` (after connecting or reconnecting) once the engine is connected
 * and the editor holds the learner's program, so a test that waits for `ready`
 * can edit and Run. A Run pressed meanwhile starts now.
 */
function becomeReady() {
  if (!current?.started || !fileReady) return;
  if (statusEl.textContent === "disconnected") setStatus("ready");
  if (queuedRun !== null) startRun();
}

/** @param {EngineEvent} ev */
function onEngineEvent(ev) {
  switch (ev.type) {
    case "output":
      appendOutput(ev.text, ev.stream === "stderr" ? "stderr" : "stdout");
      break;
    case "call":
      traceCall(ev.id, ev.text);
      lanes.onCall(ev.id, ev.text);
      debug.onCall(ev.text);
      break;
    case "result":
      traceResult(ev.id, ev.text, ev.failed);
      lanes.onResult(ev.id, ev.text, ev.failed);
      debug.onResult();
      break;
    case "paused":
      if (!running) break;
      setStatus("paused");
      debug.onPaused(ev);
      break;
    case "resumed":
      if (!running) break;
      setStatus("running");
      debug.onResumed();
      break;
    case "diagnostic":
      diagnostics.push(ev);
      editor.showDiagnostics(diagnostics);
      sayDiagnostic(ev);
      break;
    case "exit":
      finishRun(ev.error);
      break;
    case "disconnected":
      engineGone(`lost the bridge: ${ev.message}`, "disconnect");
      break;
    case "session":
      sessionID = ev.id;
      break;
    case "sockets":
      sockets.show(ev.sockets, ev.message);
      break;
    case "client-data":
    case "client-eof":
    case "client-closed":
      clients.onEvent(ev);
      break;
    default:
      console.debug("page: engine event not shown", ev);
  }
}

/**
 * The current worker is of no more use: drop it and try again with a fresh one.
 * @param {string} message
 * @param {"crash" | "disconnect"} kind
 */
function engineGone(message, kind) {
  const wasStarted = current?.started ?? false;
  current?.worker.terminate();
  current = null;
  sessionEnded("the bridge session ended");
  // A crash may be told just after the run it ended (its exit went out first).
  const crashedRun = kind === "crash" && (running || performance.now() - runEndedAt < CRASH_AFTER_EXIT_MS);
  if (running || crashedRun) {
    if (running) debug.onEnded();
    running = false;
    cancelPending("the engine stopped");
    say(crashedRun ? `${message}. The engine has restarted: fix the program and press Run.` : message, "error");
  } else if (message !== lastFailure) {
    say(message, "system");
  }
  if (kind === "crash" && wasStarted) {
    // engine.wasm itself ended (the program recursed too deeply, used all the memory, or
    // panicked in a goroutine); the bridge is likely still there, so start over at once.
    if (crashedRun || statusEl.textContent === "running" || statusEl.textContent === "paused") setStatus("error");
    else if (statusEl.textContent === "ready") setStatus("disconnected");
    spawn();
  } else {
    lastFailure = message;
    setStatus("disconnected");
    detail("retrying…");
    retryTimer = setTimeout(spawn, RETRY_MS);
  }
  updateButtons();
}

// ---- Run and Stop ----

/**
 * Runs the editor's program.
 * @param {{debug?: boolean, breakpoints?: number[], fresh?: boolean}} [opts] debug: stop at the
 *   start; fresh: in a new bridge session, whose trace holds this run only (a check reads it)
 */
function run(opts) {
  if (!fileReady) return; // the editor is still empty; Run is pressed again in a moment
  saveNow();
  if (running) {
    stop(); // Run while running starts over, with a fresh worker
  } else if (opts?.fresh && current && current.runs > 0) {
    current.worker.terminate();
    current = null;
    sessionEnded("a check runs in a fresh session");
    spawn();
  }
  queuedRun = editor.getDoc();
  program = { file: file.name, source: queuedRun };
  queuedOptions = opts ?? { breakpoints: editor.breakpoints() };
  debug.reset();
  lanes.reset();
  clearOutput();
  clearTrace();
  diagnostics = [];
  editor.clearDiagnostics();
  if (current?.started) {
    startRun();
  } else {
    // Right after Stop this is a moment; without a bridge it is until the bridge is back.
    if (statusEl.textContent === "disconnected") {
      say(`the program runs once the engine connects (last try: ${lastFailure || "connecting"})`, "system");
    }
    updateButtons();
  }
}

function startRun() {
  const source = /** @type {string} */ (queuedRun);
  queuedRun = null;
  running = true;
  /** @type {Engine} */ (current).runs++;
  const { debug: stopAtStart = false, breakpoints = [] } = queuedOptions;
  /** @type {Engine} */ (current).worker.postMessage({ type: "run", source, debug: stopAtStart, breakpoints });
  setStatus("running");
  updateButtons();
}

function stop() {
  if (queuedRun !== null && !running) {
    queuedRun = null;
    say("run cancelled", "system");
    updateButtons();
    return;
  }
  if (!running) return;
  running = false;
  // Terminating the worker closes its WebSocket; the bridge then closes every socket of the session.
  current?.worker.terminate();
  current = null;
  sessionEnded("Stop ended the session");
  cancelPending("stopped");
  debug.onEnded();
  say("stopped", "system");
  setStatus("stopped");
  updateButtons();
  spawn();
}

/** @param {string} error empty when the program ended normally */
function finishRun(error) {
  if (!running) return;
  running = false;
  runEndedAt = performance.now();
  cancelPending("the program ended");
  debug.onEnded();
  saveNow(); // an edit the busy program kept from being saved
  if (!error) {
    say("program exited", "system");
    setStatus("stopped");
  } else {
    const shown = diagnostics.some((d) => error.includes(d.message));
    say(shown ? "program exited with an error" : `program exited: ${error}`, "error");
    setStatus("error");
  }
  updateButtons();
}

function updateButtons() {
  stopButton.disabled = !running && queuedRun === null;
  debug.update();
}

/** @param {Status} s */
function setStatus(s) {
  statusEl.textContent = s;
  statusEl.dataset.status = s;
  // For `make bench`: the first mark is the cold start (open → ready).
  if (s === "ready") performance.mark("sockstep:ready");
}

function detail(/** @type {string} */ text) {
  statusDetail.textContent = text;
}

runButton.addEventListener("click", () => run());

// ---- The debugger and the lanes drawing ----

const debug = createDebugger({
  editor,
  send: (msg) => current?.worker.postMessage(msg),
  run: (opts) => run(opts),
  stop: () => stop(),
  running: () => running,
  detail,
  trace: traceEl,
});
const lanes = createLanes(el("lanes"), traceEl);
stopButton.addEventListener("click", () => stop());
document.addEventListener("keydown", (e) => {
  // The editor has its own binding; this one is for focus elsewhere on the page.
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
    e.preventDefault();
    run();
  }
});

// ---- The client panel's requests, through the current worker ----

/** Client requests waiting for the worker's answer, by id. */
const clientRequests = new Map();

/**
 * @param {import("./engine").ClientOp} op
 * @param {object} args
 * @returns {Promise<any>}
 */
function clientRequest(op, args) {
  if (!current?.started) return Promise.reject(new Error("not connected to the bridge"));
  const id = ++requestID;
  const worker = current.worker;
  return new Promise((resolve, reject) => {
    clientRequests.set(id, { resolve, reject });
    worker.postMessage({ type: "client", id, op, args });
  });
}

/** @param {{id: number, result?: any, error?: string}} msg */
function clientDone(msg) {
  const req = clientRequests.get(msg.id);
  clientRequests.delete(msg.id);
  if (!req) return;
  if (msg.error !== undefined) req.reject(new Error(msg.error));
  else req.resolve(msg.result);
}

/** The worker's session is gone, and with it every socket and client of it. */
function sessionEnded(/** @type {string} */ why) {
  sessionID = null;
  for (const req of clientRequests.values()) req.reject(new Error(why));
  clientRequests.clear();
  clients.sessionEnded(why);
  sockets.clear();
}

// ---- Output ----

/** @typedef {"stdout" | "stderr" | "system" | "error"} OutputKind */

let outputChars = 0;
let outputEndsLine = true;

/**
 * @param {string} text
 * @param {OutputKind} kind
 */
function appendOutput(text, kind) {
  if (!text) return;
  const last = /** @type {HTMLElement | null} */ (outputEl.lastElementChild);
  if (last && last.dataset.kind === kind && (kind === "stdout" || kind === "stderr")) {
    last.append(text);
  } else {
    const span = document.createElement("span");
    span.className = `out out-${kind}`;
    span.dataset.kind = kind;
    span.textContent = text;
    outputEl.append(span);
  }
  outputChars += text.length;
  outputEndsLine = text.endsWith("\n");
  while (outputChars > MAX_OUTPUT_CHARS && outputEl.firstElementChild && outputEl.childElementCount > 1) {
    outputChars -= outputEl.firstElementChild.textContent?.length ?? 0;
    outputEl.firstElementChild.remove();
  }
  followTail(outputEl);
}

/** A line of the page's own, on a line of its own. */
function say(/** @type {string} */ text, /** @type {"system" | "error"} */ kind) {
  appendOutput(`${outputEndsLine ? "" : "\n"}${text}\n`, kind);
}

/** A diagnostic as a line in the output; clicking it moves the cursor there. */
function sayDiagnostic(/** @type {DiagnosticEvent} */ d) {
  const where = d.column ? `${file.name}:${d.line}:${d.column}` : `${file.name}:${d.line}`;
  say(`${where}: ${d.kind === "panic" ? "panic: " : ""}${d.message}`, "error");
  const span = /** @type {HTMLElement} */ (outputEl.lastElementChild);
  span.classList.add("out-diagnostic");
  span.title = "Show in the editor";
  span.addEventListener("click", () => editor.goTo(d.line, d.column));
}

function clearOutput() {
  outputEl.replaceChildren();
  outputChars = 0;
  outputEndsLine = true;
}

// ---- Trace: one element per call, completed in place by its result ----

/** Calls waiting for their result, by id. */
const pending = new Map();

/**
 * @param {number} id
 * @param {string} text
 */
function traceCall(id, text) {
  const li = document.createElement("li");
  li.dataset.id = String(id);
  li.dataset.state = "pending";
  const call = document.createElement("span");
  call.className = "call";
  call.textContent = text;
  const ret = document.createElement("span");
  ret.className = "ret";
  ret.textContent = " …";
  li.append(call, ret);
  traceEl.append(li);
  pending.set(id, li);
  while (traceEl.childElementCount > MAX_TRACE_ENTRIES) {
    const first = /** @type {HTMLElement} */ (traceEl.firstElementChild);
    pending.delete(Number(first.dataset.id));
    first.remove();
  }
  followTail(traceEl);
}

/**
 * @param {number} id
 * @param {string} text
 * @param {boolean} failed
 */
function traceResult(id, text, failed) {
  const li = pending.get(id);
  if (!li) return; // dropped from the panel, or from a run that was cleared
  pending.delete(id);
  li.dataset.state = failed ? "failed" : "done";
  /** @type {HTMLElement} */ (li.querySelector(".ret")).textContent = ` = ${text}`;
}

/** Marks every call still waiting as cancelled. */
function cancelPending(/** @type {string} */ why) {
  for (const li of pending.values()) {
    li.dataset.state = "cancelled";
    li.title = why;
    /** @type {HTMLElement} */ (li.querySelector(".ret")).textContent = " = ? (cancelled)";
  }
  pending.clear();
}

function clearTrace() {
  traceEl.replaceChildren();
  pending.clear();
}

// ---- Scrolling: panels follow new lines unless the learner scrolled up ----

const following = new WeakMap();
const scheduled = new Set();

for (const panel of [outputEl, traceEl]) {
  following.set(panel, true);
  panel.addEventListener("scroll", () => {
    following.set(panel, panel.scrollHeight - panel.scrollTop - panel.clientHeight < 24);
  });
}

function followTail(/** @type {HTMLElement} */ panel) {
  if (!following.get(panel) || scheduled.has(panel)) return;
  scheduled.add(panel);
  requestAnimationFrame(() => {
    scheduled.delete(panel);
    panel.scrollTop = panel.scrollHeight;
  });
}

// ---- Start ----

/**
 * For tests and the console: the CodeMirror view, Run/Stop as the buttons do them, and flush,
 * which resolves once every edit and progress change so far is in the workspace.
 */
Object.assign(window, {
  sockstep: {
    view: editor.view,
    run,
    stop,
    flush() {
      saveNow();
      return requestsDone;
    },
  },
});

const lessons = createLessons(
  {
    openFile,
    replaceDoc(text) {
      // An edit like the learner's own (Ctrl+Z undoes it), saved at once.
      editor.view.dispatch({ changes: { from: 0, to: editor.view.state.doc.length, insert: text } });
      saveNow();
    },
    getDoc: () => editor.getDoc(),
    flush() {
      saveNow();
      return requestsDone;
    },
    request: workspaceRequest,
    run,
    program: () => ({ running, session: sessionID, runsInSession: current?.runs ?? 0, ...program }),
    say,
  },
  echo,
);

setStatus("disconnected");
detail("connecting…");
updateButtons();
spawn();
lessons.start().catch((err) => say(`could not open the lessons: ${describe(err)}`, "error"));
