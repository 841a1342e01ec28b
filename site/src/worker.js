// The engine's Web Worker: boots engine.wasm (compiled once by the page and
// handed over as a WebAssembly.Module), connects it to the bridge, and relays
// messages both ways. The page terminates this worker to stop a program.
//
// Messages are typed in engine.d.ts (ToWorker, FromWorker).

/// <reference lib="webworker" />
/** @typedef {import("./engine").ToWorker} ToWorker */
/** @typedef {import("./engine").FromWorker} FromWorker */
/** @typedef {import("./engine").SockstepEngine} SockstepEngine */

/** How long engine.wasm may take to set globalThis.sockstepEngine. */
const BOOT_TIMEOUT_MS = 15000;
/** How long sockstepEngine.start may take to connect to the bridge. */
const START_TIMEOUT_MS = 15000;

/** @param {FromWorker} msg */
function post(msg) {
  self.postMessage(msg);
}

/** Tells the page this worker is of no more use; the page terminates it and spawns another. */
let stopped = false;
function engineStopped(/** @type {string} */ message) {
  if (stopped) return;
  stopped = true;
  post({ type: "engineStopped", message });
}

self.addEventListener("error", (e) => engineStopped(`the engine stopped: ${e.message || String(e.error)}`));
self.addEventListener("unhandledrejection", (e) => console.warn("worker: unhandled rejection", e.reason));

function describe(err) {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The most of the Go runtime's dying words kept to explain a crash (the whole dump goes to the console). */
const MAX_CRASH_TEXT = 16 << 10;
/** What the Go runtime wrote to fd 2: only a crash writes there, the program's own output is reported by the engine. */
let crashText = "";
/** The Go runtime has exited: every call into the engine fails from now on. */
let exited = false;

/**
 * Says in a learner's words why engine.wasm died, from what the Go runtime
 * wrote as it died: the program recursed too deeply, used all the memory, or
 * panicked in a goroutine (which no recover in main can catch).
 * @param {number | undefined} code
 */
function crashMessage(code) {
  const first = crashText.split("\n").find((l) => l.trim() !== "") ?? "";
  const panicLine = /^panic: (.*?)( \[recovered.*)?$/m.exec(crashText);
  if (/stack exceeds|stack overflow|unexpected return pc|unknown caller pc|morestack/.test(crashText)) {
    return "your program recursed too deeply: the engine ran out of stack and had to stop (is a recursive function missing its base case?)";
  }
  if (/out of memory/.test(crashText)) {
    return "your program used all the memory the engine may have (4 GB) and the engine had to stop";
  }
  if (panicLine) {
    return `your program panicked in a goroutine: ${panicLine[1]}. A panic that its own goroutine does not recover ends the whole program`;
  }
  if (first) return `the engine crashed: ${first}`;
  return code ? `the engine exited with code ${code}` : "the engine exited";
}

// Go's own glue. It defines globalThis.fs, whose writeSync is where the Go
// runtime writes fd 1 and 2 (to the console). Wrap it: the engine reports the
// program's output itself, so what reaches fd 2 is the runtime dying (a
// fatal error, a panic in a goroutine): keep its start to explain the crash
// in words, rather than pour a stack dump on the learner.
importScripts("wasm_exec.js");
{
  const fs = /** @type {any} */ (globalThis).fs;
  const writeSync = fs.writeSync.bind(fs);
  const decoder = new TextDecoder();
  fs.writeSync = (/** @type {number} */ fd, /** @type {Uint8Array} */ buf) => {
    if (fd === 2 && crashText.length < MAX_CRASH_TEXT) {
      crashText += decoder.decode(buf, { stream: true });
    }
    return writeSync(fd, buf); // and to the console, as before
  };
}

/** @type {SockstepEngine | null} */
let engine = null;
/** @type {Go | null} */
let go = null;
/** Messages that arrived before the engine was there. */
/** @type {ToWorker[]} */
const queue = [];

self.onmessage = (/** @type {MessageEvent<ToWorker>} */ e) => {
  const msg = e.data;
  if (msg.type === "init") {
    boot(msg.module, msg.bridgeURL).catch((err) => engineStopped(`the engine stopped: ${describe(err)}`));
  } else if (engine) {
    handle(msg);
  } else {
    queue.push(msg);
  }
};

/**
 * @param {WebAssembly.Module} module
 * @param {string} bridgeURL
 */
async function boot(module, bridgeURL) {
  go = new Go();
  /** @type {number | undefined} */
  let exitCode;
  const exit = go.exit;
  go.exit = (/** @type {number} */ code) => {
    exitCode = code;
    exited = true;
    exit(code);
  };
  const g = go;
  const instance = await WebAssembly.instantiate(module, go.importObject);
  // Not awaited: it resolves when the Go program exits, which the engine never should.
  g.run(instance).then(
    () => engineStopped(crashMessage(exitCode)),
    (err) => engineStopped(`the engine stopped: ${describe(err)}`),
  );

  engine = await waitForEngine();
  for (const msg of queue.splice(0)) handle(msg);

  // The engine batches its events; the page parses them (a string crosses threads cheaply).
  const onEvents = (/** @type {string} */ json) => post({ type: "events", json });
  try {
    await withTimeout(engine.start({ bridgeURL, onEvents }), START_TIMEOUT_MS, "no answer from the bridge");
    post({ type: "started" });
  } catch (err) {
    if (exited) engineStopped(crashMessage(exitCode));
    else post({ type: "startFailed", message: describe(err) });
  }
}

/** @returns {Promise<SockstepEngine>} */
function waitForEngine() {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    const poll = () => {
      if (globalThis.sockstepEngine) resolve(globalThis.sockstepEngine);
      else if (stopped) reject(new Error("engine.wasm exited while starting"));
      else if (Date.now() > deadline) reject(new Error("engine.wasm did not set sockstepEngine"));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

/**
 * @template T
 * @param {Promise<T>} p
 * @param {number} ms
 * @param {string} message
 * @returns {Promise<T>}
 */
function withTimeout(p, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** @param {ToWorker} msg */
async function handle(msg) {
  const e = /** @type {SockstepEngine} */ (engine);
  switch (msg.type) {
    case "run":
      try {
        await e.run(msg.source, { debug: !!msg.debug, breakpoints: msg.breakpoints ?? [] });
        post({ type: "runDone", error: "" });
      } catch (err) {
        // When engine.wasm itself exited (a panic in a goroutine ends the whole Go
        // program), run fails with a JavaScript error about the lost instance
        // ("cannot read exports"); engineStopped says what happened instead.
        if (exited || stopped) {
          engineStopped(crashMessage(undefined));
          break;
        }
        post({ type: "runDone", error: describe(err) || "the run failed" });
      }
      break;
    case "step":
    case "pause":
    case "setBreakpoints":
      // While a program runs; a refusal (not paused, no program) is only worth a note.
      try {
        if (msg.type === "step") await e.step(msg.kind, msg.goroutine ?? 0);
        else if (msg.type === "pause") await e.pause();
        else await e.setBreakpoints(msg.lines);
      } catch (err) {
        console.debug(`worker: ${msg.type}: ${describe(err)}`);
      }
      break;
    case "load":
      try {
        const source = await e.load(msg.name);
        post({ type: "loaded", id: msg.id, source: typeof source === "string" ? source : null });
      } catch (err) {
        post({ type: "loaded", id: msg.id, source: null, error: describe(err) || "load failed" });
      }
      break;
    case "save":
      try {
        await e.save(msg.name, msg.source);
        post({ type: "saved", id: msg.id });
      } catch (err) {
        post({ type: "saved", id: msg.id, error: describe(err) || "save failed" });
      }
      break;
    case "export":
      try {
        const archive = await e.exportArchive();
        post({ type: "exported", id: msg.id, archive });
      } catch (err) {
        post({ type: "exported", id: msg.id, error: describe(err) || "export failed" });
      }
      break;
    case "import":
      try {
        const names = await e.importArchive(msg.archive);
        post({ type: "imported", id: msg.id, names });
      } catch (err) {
        post({ type: "imported", id: msg.id, error: describe(err) || "import failed" });
      }
      break;
    case "client":
      try {
        const result = await e.client(msg.op, msg.args);
        post({ type: "clientDone", id: msg.id, result: result ?? null });
      } catch (err) {
        post({ type: "clientDone", id: msg.id, error: describe(err) || "the client operation failed" });
      }
      break;
    default:
      console.warn("worker: unknown message", msg);
  }
}
