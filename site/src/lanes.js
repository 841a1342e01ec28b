// The server's steps, drawn as the textbook draws them: two lanes, the
// server's S1 socket … S6 close and a client's C1 socket … C5 close, each lit
// when the real call happens. The client lane is lit from what the server's
// calls show of its clients: accept's peer means a client made a socket and
// connected (C1, C3); data read means it wrote (C4); a read of 0 means it
// closed (C5). C2, binding a client, is optional and cannot be seen from the
// server. Clicking a lit step shows its trace entry. Steps are lit in the
// model per call and drawn once a frame (frame.js): under load every read and
// write relights S5 with a newer call.

const SERVER = [
  ["S1", "socket"],
  ["S2", "bind"],
  ["S3", "listen"],
  ["S4", "accept"],
  ["S5", "read / write"],
  ["S6", "close"],
];
const CLIENT = [
  ["C1", "socket"],
  ["C2", "bind (optional)"],
  ["C3", "connect"],
  ["C4", "read / write"],
  ["C5", "close"],
];

/**
 * @param {HTMLElement} root   the lanes panel (data-testid="lanes")
 * @param {HTMLElement} trace  the trace panel, whose entries carry data-id
 * @param {import("./frame.js").Frame} frame
 */
export function createLanes(root, trace, frame) {
  /** @type {Map<string, HTMLButtonElement>} */
  const steps = new Map();
  /** Calls waiting for their result: id → text. */
  const calls = new Map();
  /** Descriptors accept returned: the ones S5 and S6 are about. */
  const accepted = new Set();
  /** The listening descriptor. */
  let listener = -1;
  /** Steps lit since the last frame: step → the trace entry that showed it, and why. */
  const lit = /** @type {Map<string, {traceID: number, why: string}>} */ (new Map());

  for (const [title, lane] of [
    ["Server", SERVER],
    ["Client", CLIENT],
  ]) {
    const row = document.createElement("div");
    row.className = "lane";
    const name = document.createElement("span");
    name.className = "lane-name";
    name.textContent = /** @type {string} */ (title);
    row.append(name);
    for (const [id, label] of /** @type {string[][]} */ (lane)) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "lane-step";
      b.dataset.step = id;
      b.dataset.lit = "false";
      b.disabled = true;
      b.innerHTML = `<b>${id}</b> ${label}`;
      b.addEventListener("click", () => show(b));
      steps.set(id, b);
      row.append(b);
    }
    root.append(row);
  }

  /** Lights a step, pointing at the trace entry that showed it (in the next frame). */
  function light(/** @type {string} */ id, /** @type {number} */ traceID, /** @type {string} */ why) {
    lit.set(id, { traceID, why });
    frame.schedule();
  }

  frame.onRender(() => {
    for (const [id, { traceID, why }] of lit) {
      const b = /** @type {HTMLButtonElement} */ (steps.get(id));
      b.dataset.lit = "true";
      b.dataset.traceId = String(traceID);
      b.disabled = false;
      b.title = why;
    }
    lit.clear();
  });

  /** Scrolls the trace to a lit step's entry and marks it. */
  function show(/** @type {HTMLButtonElement} */ b) {
    frame.flush(); // the entry may have arrived in this frame
    for (const li of trace.querySelectorAll("[data-shown]")) li.removeAttribute("data-shown");
    const li = /** @type {HTMLElement | null} */ (trace.querySelector(`[data-id="${b.dataset.traceId}"]`));
    if (!li) return;
    li.dataset.shown = "true";
    li.scrollIntoView({ block: "nearest" });
  }

  return {
    /** A call was sent. */
    onCall(/** @type {number} */ id, /** @type {string} */ text) {
      calls.set(id, text);
    },

    /** The host answered call id. */
    onResult(/** @type {number} */ id, /** @type {string} */ text, /** @type {boolean} */ failed) {
      const call = calls.get(id);
      calls.delete(id);
      if (!call || failed) return;
      const op = call.slice(0, call.indexOf("("));
      const fd = Number(/^\w+\((\d+)/.exec(call)?.[1] ?? -1);
      const ret = Number(/^-?\d+/.exec(text)?.[0] ?? -1);
      const line = `${call} = ${text}`;
      switch (op) {
        case "socket":
          light("S1", id, line);
          break;
        case "bind":
          light("S2", id, line);
          break;
        case "listen":
          listener = fd;
          light("S3", id, line);
          break;
        case "accept":
          accepted.add(ret);
          light("S4", id, line);
          light("C1", id, `a client made a socket: ${line}`);
          light("C3", id, `a client connected: ${line}`);
          break;
        case "read":
        case "write":
          if (!accepted.has(fd)) break;
          light("S5", id, line);
          if (op === "read" && ret > 0) light("C4", id, `the client wrote: ${line}`);
          if (op === "read" && ret === 0) light("C5", id, `the client closed: ${line}`);
          break;
        case "close":
          if (accepted.has(fd) || fd === listener) light("S6", id, line);
          accepted.delete(fd);
          break;
      }
    },

    reset() {
      calls.clear();
      lit.clear();
      accepted.clear();
      listener = -1;
      for (const b of steps.values()) {
        b.dataset.lit = "false";
        b.disabled = true;
        b.removeAttribute("title");
        delete b.dataset.traceId;
      }
    },
  };
}
