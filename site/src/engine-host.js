// The host runner: the page's own WebSocket to the bridge's /engine, where
// each Run starts a runner process beside the kernel. Requests go out as
// JSON text; events come back as JSON arrays, the first one naming the
// session. The session outlives runs: the client panel's connections and the
// sockets table carry on across Stop and Run.

import { connectTrouble } from "./bridge.js";
import { createRequests, parseEvents } from "./requests.js";

/** @typedef {import("./engine").Engine} Engine */
/** @typedef {import("./engine").EngineCallbacks} EngineCallbacks */

/** How long the bridge may take to open the session. */
const START_TIMEOUT_MS = 15000;

/**
 * @param {string} url  ws(s)://host/engine?token=…; "" when the page knows no bridge (a course's page
 *   opened without sockstep's link): start then fails, saying what to do
 * @param {EngineCallbacks} callbacks
 * @returns {Engine}
 */
export function createHostEngine(url, { onEvents, onGone }) {
  /** @type {WebSocket | null} */
  let ws = null;
  /** The session is open: requests may go. */
  let open = false;
  let closed = false;
  const requests = createRequests((request) => {
    if (!ws || !open) throw new Error("not connected to the bridge");
    ws.send(JSON.stringify(request));
  });
  const decoder = new TextDecoder();

  function start() {
    /** @type {Promise<void>} */
    const connected = new Promise((resolve, reject) => {
      /** Rejects start with what the learner should do, once. */
      let refused = false;
      const fail = (/** @type {string} */ why) => {
        if (refused) return;
        refused = true;
        connectTrouble(why).then((message) => reject(new Error(message)));
      };
      if (!url) {
        fail("");
        return;
      }
      const socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      ws = socket;
      const timer = setTimeout(() => refuse("no answer from the bridge"), START_TIMEOUT_MS);
      function refuse(/** @type {string} */ why) {
        clearTimeout(timer);
        socket.close();
        fail(why);
      }
      socket.onmessage = (e) => {
        if (closed) return;
        const events = requests.take(parseEvents(typeof e.data === "string" ? e.data : decoder.decode(e.data)));
        onEvents(events);
        if (!open && events.some((ev) => ev.type === "session")) {
          open = true;
          clearTimeout(timer);
          resolve();
        }
      };
      socket.onclose = (e) => {
        const why = closeReason(e);
        if (!open) {
          refuse(why);
          return;
        }
        open = false;
        requests.failAll(`lost the bridge: ${why}`);
        if (!closed) onGone(`lost the bridge: ${why}`, "disconnect");
      };
    });
    return connected;
  }

  return {
    runner: "host",
    start,
    request: requests.request,
    close() {
      closed = true;
      open = false;
      ws?.close();
      requests.failAll("the session ended");
    },
  };
}

/** Why a WebSocket closed, in words: browsers tell little of a refused or broken connection. */
function closeReason(/** @type {CloseEvent} */ e) {
  if (e.reason) return e.reason;
  return e.code === 1006 ? "the connection closed" : `the connection closed (code ${e.code})`;
}
