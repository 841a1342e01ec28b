// The editor's tools: compile checks while the learner types, Format, and the
// workspace's zip, unzip and migration, served by engine.wasm in a worker of
// their own (worker.js in its tools role, without a bridge). They never wait
// for a run, and a run never waits for them.

/** @typedef {import("./engine").DiagnosticEvent} DiagnosticEvent */
/** @typedef {import("./engine").AnswerEvent} AnswerEvent */
/** @typedef {import("./engine").FromWorker} FromWorker */

/** The worker bundle's content-hashed name, set by build.mjs. */
/* global WORKER_URL */
/** @type {string} */
const workerURL = WORKER_URL;

/**
 * How long one request may take, from when it is sent, before the worker is taken for stuck
 * and replaced. Generous: the first request waits for engine.wasm to download and start.
 */
const REQUEST_TIMEOUT_MS = 60000;

/** @typedef {{resolve: (value: any) => void, reject: (err: Error) => void, timer: ReturnType<typeof setTimeout>}} Pending */
/** @typedef {{resolve: (diags: DiagnosticEvent[]) => void, reject: (err: Error) => void}} Waiter */

/**
 * @param {Promise<WebAssembly.Module> | (() => Promise<WebAssembly.Module>)} modulePromise
 *   engine.wasm compiled, or a function that compiles it (asked again for each worker, so a
 *   failed download is tried again)
 */
export function createTools(modulePromise) {
  const engineModule = typeof modulePromise === "function" ? modulePromise : () => modulePromise;
  /** @type {Worker | null} */
  let worker = null;
  let nextID = 0;
  /** Requests the current worker has not answered, by id. @type {Map<number, Pending>} */
  const pending = new Map();

  /** The worker, spawned on first use and again after one died. */
  function current() {
    if (worker) return worker;
    const w = new Worker(workerURL);
    worker = w;
    w.onmessage = (/** @type {MessageEvent<FromWorker>} */ e) => {
      if (worker === w) onMessage(e.data);
    };
    w.onerror = (e) => {
      e.preventDefault();
      if (worker === w) gone(`the editor's tools stopped: ${e.message || "their worker failed"}`);
    };
    engineModule().then(
      (module) => {
        if (worker === w) w.postMessage({ type: "init", module });
      },
      (err) => {
        if (worker === w) gone(`could not load the editor's tools: ${describe(err)}`);
      },
    );
    return w;
  }

  /** The worker is of no more use: every request waiting for it fails; the next one spawns another. */
  function gone(/** @type {string} */ message) {
    worker?.terminate();
    worker = null;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(message));
    }
    pending.clear();
  }

  /** @param {FromWorker} msg */
  function onMessage(msg) {
    switch (msg.type) {
      case "events":
        for (const ev of /** @type {import("./engine").EngineEvent[]} */ (JSON.parse(msg.json))) {
          if (ev.type === "answer") settle(ev.id, ev.error, ev.value);
        }
        break;
      case "zipped":
        settle(msg.id, msg.error, msg.archive);
        break;
      case "unzipped":
      case "legacyFiles":
        settle(msg.id, msg.error, msg.files);
        break;
      case "engineStopped":
        gone(`the editor's tools stopped: ${msg.message}`);
        break;
    }
  }

  /**
   * @param {number} id
   * @param {string | undefined} error
   * @param {unknown} value
   */
  function settle(id, error, value) {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.timer);
    if (error !== undefined) p.reject(new Error(error));
    else p.resolve(value);
  }

  /**
   * Posts a message carrying a fresh id; resolves to the answer's value.
   * @param {(id: number) => import("./engine").ToWorker} message
   * @returns {Promise<any>}
   */
  function send(message) {
    const w = current();
    const id = ++nextID;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (pending.has(id)) gone("the editor's tools did not answer in time and were restarted");
      }, REQUEST_TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      w.postMessage(message(id));
    });
  }

  // ---- check: at most one in the worker, and one waiting, the newest ----

  /** The check being compiled: its waiters. @type {Waiter[] | null} */
  let checking = null;
  /** The newest source asked for while another compiles, and who waits for it. @type {{source: string, waiters: Waiter[]} | null} */
  let next = null;

  function pump() {
    if (checking || !next) return;
    const { source, waiters } = next;
    next = null;
    checking = waiters;
    /** @type {Promise<DiagnosticEvent[]>} */ (send((id) => ({ type: "request", request: { id, method: "check", source } }))).then(
      (diags) => done(waiters, (w) => w.resolve(diags)),
      (err) => done(waiters, (w) => w.reject(err)),
    );
  }

  /**
   * Ends a check. Asked for meanwhile, a newer source answers its waiters too: an older
   * source's diagnostics would be stale by the time they arrived.
   * @param {Waiter[]} waiters
   * @param {(w: Waiter) => void} answer
   */
  function done(waiters, answer) {
    checking = null;
    if (next) next.waiters.push(...waiters);
    else waiters.forEach(answer);
    pump();
  }

  return {
    /**
     * The diagnostics of compiling source as Run would, without running it; none when it compiles.
     * May resolve with the diagnostics of a newer source asked for meanwhile.
     * @param {string} source
     * @returns {Promise<DiagnosticEvent[]>}
     */
    check(source) {
      return new Promise((resolve, reject) => {
        next ??= { source, waiters: [] };
        next.source = source;
        next.waiters.push({ resolve, reject });
        pump();
      });
    },

    /**
     * source as gofmt formats it; rejects with the first syntax error's line:column.
     * @param {string} source
     * @returns {Promise<string>}
     */
    format(source) {
      return send((id) => ({ type: "request", request: { id, method: "format", source } }));
    },

    /**
     * The zip archive of files (name → text), as the workspace exports it.
     * @param {Record<string, string>} files
     * @returns {Promise<Uint8Array>}
     */
    zip(files) {
      return send((id) => ({ type: "zip", id, files }));
    },

    /**
     * The files of a zip archive made by zip, every entry checked (plain relative names, UTF-8
     * text, the limits); rejects naming the first bad entry. existing: the workspace's names, so
     * that a file where the workspace has a directory is refused too.
     * @param {Uint8Array} archive
     * @param {string[]} [existing]
     * @returns {Promise<Record<string, string>>}
     */
    unzip(archive, existing = []) {
      return send((id) => ({ type: "unzip", id, archive, existing }));
    },

    /**
     * Every file of the workspace earlier versions kept in IndexedDB (on hackpadfs, inside
     * engine.wasm), or null when there is none.
     * @returns {Promise<Record<string, string> | null>}
     */
    legacyFiles() {
      return send((id) => ({ type: "legacy", id }));
    },
  };
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
