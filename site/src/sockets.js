// The sockets panel: the kernel's own table of the session's sockets, as the
// bridge pushes it (a `sockets` engine event) after each call and while
// something can change. It shows what the kernel reports and nothing else:
// a value the host could not tell is shown as "unknown". The bridge pushes up
// to 20 tables a second under load: the panel draws at most one a frame, and
// only the rows that changed.

/** @typedef {import("./engine").SocketInfo} SocketInfo */

/**
 * @param {import("./frame.js").Frame} frame
 * @param {{ body: HTMLElement, empty: HTMLElement, note: HTMLElement }} parts
 *   body: the table's tbody (data-testid="sockets"), one row per socket;
 *   empty: shown while there are no sockets; note: what the host could not tell.
 */
export function createSocketsPanel(frame, { body, empty, note }) {
  /** @type {SocketInfo[]} */
  let current = [];
  let message = "";
  /** A table arrived since the last one drawn. */
  let dirty = false;
  /** What each drawn row shows, in order, to leave unchanged rows alone. */
  let drawn = /** @type {string[]} */ ([]);

  /**
   * @param {SocketInfo[]} sockets
   * @param {string} why what the host could not tell
   */
  function show(sockets, why) {
    current = sockets;
    message = why;
    dirty = true;
    frame.schedule();
  }

  frame.onRender(() => {
    if (!dirty) return;
    dirty = false;
    const listeners = new Set(current.flatMap((s) => (s.listening && s.local ? [s.local] : [])));
    const keys = current.map((s) => JSON.stringify(s) + listeners.has(s.local ?? ""));
    for (let i = 0; i < current.length; i++) {
      if (drawn[i] === keys[i]) continue;
      const tr = row(current[i], listeners);
      const old = body.children[i];
      if (old) old.replaceWith(tr);
      else body.append(tr);
    }
    while (body.children.length > current.length) body.lastElementChild?.remove();
    drawn = keys;
    if (empty.hidden !== current.length > 0) empty.hidden = current.length > 0;
    if (note.textContent !== message) note.textContent = message;
    if (note.hidden !== !message) note.hidden = !message;
  });

  function clear() {
    show([], "");
  }

  /** The port of the first listener, for the client panel's default address. */
  function listeningAddr() {
    const l = current.find((s) => s.listening && s.local && s.fd);
    return l?.local ?? null;
  }

  return { show, clear, listeningAddr };
}

/**
 * @param {SocketInfo} s
 * @param {Set<string>} listeners local addresses of the session's listeners
 */
function row(s, listeners) {
  const tr = document.createElement("tr");
  tr.dataset.fd = s.fd ? String(s.fd) : "";
  tr.dataset.state = s.state || "unknown";
  tr.dataset.queue = s.queue === undefined ? "unknown" : String(s.queue);
  if (s.client) tr.dataset.client = String(s.client);
  if (s.orphan) tr.dataset.orphan = "true";
  tr.dataset.local = s.local ?? "";
  tr.dataset.peer = s.peer ?? "";

  const owner = s.fd ? String(s.fd) : s.client ? `client ${s.client}` : "—";
  const queued = s.orphan && s.local && listeners.has(s.local) && (s.state === "ESTABLISHED" || s.state === "SYN_RECV");
  let what;
  if (s.listening) what = "listener";
  else if (s.client) what = "client panel";
  else if (queued) what = "in the accept queue: no fd until accept";
  else if (s.orphan) what = "no fd: left by a close";
  else if (s.peer) what = "connection";
  else what = s.local ? "bound" : "new socket";
  if (s.timer !== undefined) what += ` (${Math.ceil(s.timer / 1000)} s left)`;

  tr.append(
    cell(owner, "fd"),
    cell(s.state || "unknown", "state"),
    cell(s.local ?? "", "addr"),
    cell(s.peer ?? "", "addr"),
    cell(queueText(s), "queue"),
    cell(what, "what"),
  );
  tr.title = queueTitle(s);
  return tr;
}

/** @param {SocketInfo} s */
function queueText(s) {
  const n = (/** @type {number | undefined} */ v) => (v === undefined ? "unknown" : String(v));
  if (s.listening) return `${n(s.queue)} / ${n(s.backlog)}`;
  if (s.state === "TIME_WAIT" || s.state === "CLOSE") return "";
  return `${n(s.queue)} · ${n(s.unsent)}`;
}

/** @param {SocketInfo} s */
function queueTitle(s) {
  if (s.listening) return "connections waiting for accept / the kernel's limit (ss -lnt: Recv-Q / Send-Q)";
  return "bytes received, not yet read · bytes sent, not yet acknowledged (ss: Recv-Q · Send-Q)";
}

function cell(/** @type {string} */ text, /** @type {string} */ cls) {
  const td = document.createElement("td");
  td.className = cls;
  td.textContent = text;
  return td;
}
