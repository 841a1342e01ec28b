// A Web Worker running engine.wasm (compiled once by the page and handed over
// as a WebAssembly.Module), in one of two roles chosen by its init message:
//   - the in-page runner ({type: "init", module, bridgeURL}): connects to the
//     bridge and runs the learner's program; the page terminates it to stop one;
//   - the editor's tools ({type: "init", module}, no bridge): compile checks
//     and Format while the learner types, and the workspace's zip, unzip and
//     migration of the old workspace (tools.js).
// Requests ({type: "request", request}) follow the page⇄engine protocol
// (wasm/engine/protocol.go): each answer is an event in the stream of
// {type: "events", json} messages, after the events its request caused.
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

/** @param {unknown} err */
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
/** How the Go runtime exited, once it has. */
let exitCode = /** @type {number | undefined} */ (undefined);
/** Messages that arrived before the engine was started. */
/** @type {ToWorker[]} */
const queue = [];

self.onmessage = (/** @type {MessageEvent<ToWorker>} */ e) => {
  const msg = e.data;
  if (msg.type === "init") {
    boot(msg.module, "bridgeURL" in msg ? msg.bridgeURL : undefined).catch((err) =>
      engineStopped(`the engine stopped: ${describe(err)}`),
    );
  } else if (engine) {
    handle(engine, msg);
  } else {
    queue.push(msg);
  }
};

/**
 * @param {WebAssembly.Module} module
 * @param {string | undefined} bridgeURL  the in-page runner's bridge; absent for the editor's tools
 */
async function boot(module, bridgeURL) {
  /** @type {{importObject: WebAssembly.Imports, exit: (code: number) => void, run: (i: WebAssembly.Instance) => Promise<void>}} */
  const go = new (/** @type {any} */ (globalThis).Go)(); // from wasm_exec.js
  const exit = go.exit;
  go.exit = (/** @type {number} */ code) => {
    exitCode = code;
    exited = true;
    exit(code);
  };
  const instance = await WebAssembly.instantiate(module, go.importObject);
  // Not awaited: it resolves when the Go program exits, which the engine never should.
  go.run(instance).then(
    () => engineStopped(crashMessage(exitCode)),
    (/** @type {unknown} */ err) => engineStopped(`the engine stopped: ${describe(err)}`),
  );

  const e = await waitForEngine();
  // The engine batches its events; the page parses them (a string crosses threads cheaply).
  const onEvents = (/** @type {string} */ json) => post({ type: "events", json });
  if (bridgeURL === undefined) {
    await e.start({ onEvents });
  } else {
    try {
      await withTimeout(e.start({ bridgeURL, onEvents }), START_TIMEOUT_MS, "no answer from the bridge");
    } catch (err) {
      if (exited) engineStopped(crashMessage(exitCode));
      else post({ type: "startFailed", message: describe(err) });
      return;
    }
    post({ type: "started" });
  }
  engine = e;
  for (const msg of queue.splice(0)) handle(e, msg);
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
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([p, timeout]).finally(() => clearTimeout(timer)));
}

/**
 * @param {SockstepEngine} e
 * @param {ToWorker} msg
 */
function handle(e, msg) {
  switch (msg.type) {
    case "request":
      // Answered among the events. Once engine.wasm has died (a program's panic in a
      // goroutine ends the whole Go program), calling it throws: say what happened instead.
      try {
        e.request(JSON.stringify(msg.request));
      } catch (err) {
        if (exited || stopped) engineStopped(crashMessage(exitCode));
        else throw err;
      }
      break;
    case "zip":
      reply(msg.id, "zipped", async () => {
        const archive = await e.zip(msg.files);
        return { answer: { archive }, transfer: [archive.buffer] };
      });
      break;
    case "unzip":
      reply(msg.id, "unzipped", async () => ({ answer: { files: await e.unzip(msg.archive, msg.existing ?? []) } }));
      break;
    case "legacy":
      reply(msg.id, "legacyFiles", async () => ({ answer: { files: await e.legacyFiles() } }));
      break;
    default:
      console.warn("worker: unknown message", msg);
  }
}

/**
 * Posts the answer to a message outside the Request protocol, or its error in words.
 * @template {"zipped" | "unzipped" | "legacyFiles"} T
 * @param {number} id
 * @param {T} type
 * @param {() => Promise<{answer: object, transfer?: Transferable[]}>} work
 */
async function reply(id, type, work) {
  try {
    const { answer, transfer = [] } = await work();
    self.postMessage(/** @type {FromWorker} */ ({ type, id, ...answer }), transfer);
  } catch (err) {
    if (exited || stopped) engineStopped(crashMessage(exitCode));
    else post(/** @type {FromWorker} */ ({ type, id, error: describe(err) || `${type}: failed` }));
  }
}
