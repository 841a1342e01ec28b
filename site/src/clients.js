// The client panel: real TCP connections to the learner's server, opened by
// the bridge on the host (as `nc` would from a terminal), each a small
// terminal. They are not the learner's sockets: they never appear in the
// trace, and they end with the bridge session (with the host runner it
// outlives Stop; the in-page runner's Stop ends it).

/** @typedef {import("./engine").ClientArgs} ClientArgs */
/** @typedef {import("./engine").ClientOpened} ClientOpened */

/** The output of one client keeps at most this many characters, dropping the oldest. */
const MAX_CLIENT_OUTPUT = 50_000;

/**
 * @param {object} o
 * @param {HTMLElement} o.list       where the clients go
 * @param {HTMLButtonElement} o.newButton  data-testid="client-new"
 * @param {HTMLInputElement} o.addrInput  the address a new client connects to
 * @param {(args: ClientArgs) => Promise<unknown>} o.request  performs an operation through the engine
 * @param {() => string | null} o.defaultAddr  the learner's listener, if any
 */
export function createClientPanel({ list, newButton, addrInput, request, defaultAddr }) {
  /** Open clients by id. */
  const clients = /** @type {Map<number, ReturnType<typeof terminal>>} */ (new Map());

  newButton.addEventListener("click", () => open());
  addrInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") open();
  });

  async function open() {
    const addr = addrInput.value.trim() || defaultAddr() || "";
    if (!addr) {
      addrInput.focus();
      addrInput.placeholder = "run a server first, or type 127.0.0.1:PORT";
      return;
    }
    newButton.disabled = true;
    try {
      const { id, local } = /** @type {ClientOpened} */ (await request({ op: "open", addr }));
      clients.set(id, terminal(id, addr, local));
    } catch (err) {
      const div = document.createElement("div");
      div.className = "client-error";
      div.textContent = `connect to ${addr}: ${message(err)}`;
      list.append(div);
      setTimeout(() => div.remove(), 8000);
    } finally {
      newButton.disabled = false;
    }
  }

  /**
   * @param {number} id
   * @param {string} addr
   * @param {string} local
   */
  function terminal(id, addr, local) {
    const root = document.createElement("div");
    root.className = "client";
    root.dataset.testid = "client";
    root.dataset.client = String(id);
    root.dataset.port = local.slice(local.lastIndexOf(":") + 1);
    root.dataset.state = "open";

    const head = document.createElement("div");
    head.className = "client-head";
    const title = document.createElement("span");
    title.className = "client-title";
    title.textContent = `client ${id} → ${addr} (from ${local})`;
    const nc = document.createElement("code");
    nc.className = "client-nc";
    const [host, port] = [addr.slice(0, addr.lastIndexOf(":")).replace(/^\[|\]$/g, ""), addr.slice(addr.lastIndexOf(":") + 1)];
    nc.textContent = `nc ${host} ${port}`;
    nc.title = "The same from a terminal";
    const state = document.createElement("span");
    state.className = "client-state";
    state.textContent = "connected";
    const shut = button("half-close", "shutdown(SHUT_WR): the server reads end of stream; you can still read its answers");
    const close = button("close", "close the connection");
    close.dataset.testid = "client-close";
    head.append(title, nc, state, shut, close);

    const output = document.createElement("pre");
    output.className = "client-output";
    output.dataset.testid = "client-output";
    output.setAttribute("role", "log");

    const form = document.createElement("form");
    form.className = "client-line";
    const input = document.createElement("input");
    input.dataset.testid = "client-input";
    input.placeholder = "a line to send";
    input.setAttribute("aria-label", `line to send from client ${id}`);
    const ending = document.createElement("select");
    ending.setAttribute("aria-label", "line end");
    for (const [label, value] of [["\\n", "\n"], ["\\r\\n", "\r\n"], ["none", ""]]) {
      const o = document.createElement("option");
      o.textContent = label;
      o.value = value;
      ending.append(o);
    }
    const send = button("send", "send the line and its line end");
    send.type = "submit";
    send.dataset.testid = "client-send";
    form.append(input, ending, send);

    root.append(head, output, form);
    list.append(root);
    input.focus();

    const c = { root, output, input, state, send, shut, close, chars: 0 };

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const data = input.value + ending.value;
      if (!data) return;
      try {
        const sent = await request({ op: "send", client: id, data });
        input.value = "";
        if (c.root.dataset.state === "open") c.state.textContent = `sent ${sent} bytes`;
      } catch (err) {
        note(c, `send: ${message(err)}`);
      }
    });
    shut.addEventListener("click", async () => {
      try {
        await request({ op: "shutdown", client: id });
        shut.disabled = true;
        input.disabled = send.disabled = true;
        setState(c, "half-closed", "half-closed: you sent FIN");
      } catch (err) {
        note(c, `shutdown: ${message(err)}`);
      }
    });
    close.addEventListener("click", async () => {
      if (root.dataset.state === "closed") {
        root.remove();
        clients.delete(id);
        return;
      }
      try {
        await request({ op: "close", client: id });
      } catch (err) {
        note(c, `close: ${message(err)}`);
        ended(id, "closed");
      }
    });
    return c;
  }

  /** @param {import("./engine").EngineEvent} ev */
  function onEvent(ev) {
    if (ev.type !== "client-data" && ev.type !== "client-eof" && ev.type !== "client-closed") return;
    const c = clients.get(ev.client);
    if (!c) return;
    if (ev.type === "client-data") {
      const bytes = Uint8Array.from(atob(ev.data), (ch) => ch.charCodeAt(0));
      c.output.append(escapeBytes(bytes));
      c.chars += bytes.length;
      if (c.chars > MAX_CLIENT_OUTPUT) {
        c.output.textContent = (c.output.textContent ?? "").slice(-MAX_CLIENT_OUTPUT / 2);
        c.chars = c.output.textContent.length;
      }
      c.output.scrollTop = c.output.scrollHeight;
    } else if (ev.type === "client-eof") {
      note(c, "end of stream: the server closed its side (read returned 0)");
      setState(c, "eof", "server closed its side");
    } else {
      ended(ev.client, ev.message);
    }
  }

  /**
   * @param {number} id
   * @param {string} why
   */
  function ended(id, why) {
    const c = clients.get(id);
    if (!c || c.root.dataset.state === "closed") return;
    setState(c, "closed", why === "closed" ? "closed" : `closed: ${why}`);
    c.input.disabled = c.send.disabled = c.shut.disabled = true;
    c.close.textContent = "remove";
    c.close.title = "remove this client from the panel";
  }

  /** The session ended (the bridge went away, the runner changed, the in-page runner stopped): every client is gone with it. */
  function sessionEnded(/** @type {string} */ why) {
    for (const id of clients.keys()) ended(id, why);
  }

  return { onEvent, sessionEnded };
}

/**
 * @param {{root: HTMLElement, state: HTMLElement}} c
 * @param {string} state
 * @param {string} text
 */
function setState(c, state, text) {
  c.root.dataset.state = state;
  c.state.textContent = text;
}

/** A line of the panel's own in a client's output. */
function note(/** @type {{output: HTMLElement}} */ c, /** @type {string} */ text) {
  const span = document.createElement("span");
  span.className = "client-note";
  span.textContent = `${c.output.textContent && !c.output.textContent.endsWith("\n") ? "\n" : ""}— ${text}\n`;
  c.output.append(span);
}

/**
 * Received bytes as text a learner can read: printable ASCII as itself,
 * control bytes and others escaped (\r, \t, \x00); \n is shown and also
 * breaks the line.
 * @param {Uint8Array} bytes
 */
export function escapeBytes(bytes) {
  let s = "";
  for (const b of bytes) {
    if (b === 0x0a) s += "\\n\n";
    else if (b === 0x0d) s += "\\r";
    else if (b === 0x09) s += "\\t";
    else if (b === 0x5c) s += "\\\\";
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return s;
}

function button(/** @type {string} */ text, /** @type {string} */ title) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn small";
  b.textContent = text;
  b.title = title;
  return b;
}

function message(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}
