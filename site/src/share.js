// Share: a link that carries the program in the editor, compressed (deflate-raw, base64url) in
// the URL's fragment — `#program=…` — which the browser never sends to any server. Opening such
// a link asks the learner first, then opens the program as a new file of the playground (the
// learner's own files are left as they are), and takes the fragment out of the address bar. It
// lives beside a course site's `#bridge=…&token=…` (bridge.js takes those and leaves this).
// Compressing and decompressing are the browser's own (CompressionStream): nothing to load.

/** The fragment's key. */
const KEY = "program";
/** The largest program a link carries (decompressed bytes): a lesson's server is a few KB. */
export const MAX_PROGRAM_BYTES = 64 << 10;
/** The longest fragment value read (a link carrying a larger program cannot be one of ours). */
const MAX_LINK_CHARS = 96 << 10;

/**
 * @typedef {object} ShareHost
 * @property {() => string} source  the editor's program
 * @property {(source: string) => Promise<string>} open  opens it as a new file; resolves to its name
 * @property {(text: string, kind: "system" | "error") => void} say  a line in the output
 */

/**
 * Wires the Share button and opens a link's program once afterReady resolves (and whenever a
 * link is pasted into this tab's address bar).
 * @param {ShareHost} host
 * @param {Promise<unknown>} afterReady
 */
export function createShare(host, afterReady) {
  const button = /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="share"]'));
  const box = /** @type {HTMLElement} */ (document.getElementById("share-box"));

  button.addEventListener("click", () => {
    make().catch((err) => show(`could not make a link: ${describe(err)}`, "error"));
  });

  async function make() {
    const source = host.source();
    const bytes = new TextEncoder().encode(source);
    if (bytes.length > MAX_PROGRAM_BYTES) {
      throw new Error(`the program is ${bytes.length} bytes, more than a link carries (${MAX_PROGRAM_BYTES})`);
    }
    const data = base64url(await squeeze(bytes, new CompressionStream("deflate-raw")));
    const link = `${location.origin}${location.pathname}${location.search}#${KEY}=${data}`;
    button.dataset.link = link;
    let copied = false;
    try {
      await navigator.clipboard.writeText(link);
      copied = true;
    } catch {
      // not allowed here: the learner copies it from the box
    }
    show(copied ? "Link copied; the program is in the link itself:" : "Copy this link; the program is in the link itself:", "info", link);
  }

  /**
   * Shows a line under the header: a message, and the link when there is one.
   * @param {string} text
   * @param {"info" | "error"} kind
   * @param {string} [link]
   */
  function show(text, kind, link) {
    const parts = /** @type {Node[]} */ ([document.createTextNode(text)]);
    /** @type {HTMLInputElement | null} */
    let input = null;
    if (link) {
      input = document.createElement("input");
      input.readOnly = true;
      input.value = link;
      input.dataset.testid = "share-link";
      input.setAttribute("aria-label", "The link to this program");
      input.addEventListener("focus", () => input?.select());
      parts.push(input);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn small";
    close.textContent = "Close";
    close.addEventListener("click", () => {
      box.hidden = true;
      button.focus();
    });
    parts.push(close);
    box.dataset.kind = kind;
    box.replaceChildren(...parts);
    box.hidden = false;
    input?.select();
  }

  /** Opens the program of the link in the address bar, if it carries one. */
  async function fromLink() {
    const { value, rest } = takeFragment();
    if (value === null) return;
    // Out of the address bar first: a reload does not ask again, and a bookmark does not keep it.
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    let source;
    try {
      source = await programOf(value);
    } catch (err) {
      const why = `The link's program could not be opened: ${describe(err)}. Nothing was changed.`;
      show(why, "error");
      host.say(why, "error");
      return;
    }
    const lines = source.split("\n").length;
    if (!confirm(`This link carries a Go program (${lines} lines). Open it in the playground as a new file? Your own files stay as they are.`)) {
      show("The shared program was not opened.", "info");
      return;
    }
    try {
      const name = await host.open(source);
      show(`Opened the shared program as ${name}.`, "info");
    } catch (err) {
      const why = `could not open the shared program: ${describe(err)}`;
      show(why, "error");
      host.say(why, "error");
    }
  }

  const check = () => {
    if (hasProgram()) afterReady.then(fromLink).catch((err) => console.debug("share:", err));
  };
  check();
  addEventListener("hashchange", check);
}

/** The fragment carries a program. */
function hasProgram() {
  return location.hash.slice(1).split("&").some((p) => p.startsWith(`${KEY}=`));
}

/** The program's part of the fragment, and the rest of it (someone else's). */
function takeFragment() {
  /** @type {string | null} */
  let value = null;
  const rest = [];
  for (const part of location.hash.slice(1).split("&")) {
    if (part.startsWith(`${KEY}=`)) value = part.slice(KEY.length + 1);
    else if (part) rest.push(part);
  }
  return { value, rest: rest.join("&") };
}

/**
 * The program a fragment value carries; rejects, saying why, when it is not one.
 * @param {string} value
 */
export async function programOf(value) {
  if (!value) throw new Error("the link carries no program (it was cut short?)");
  if (value.length > MAX_LINK_CHARS) throw new Error(`the link is longer than any program a link carries (${value.length} characters)`);
  if (!/^[A-Za-z0-9_-]+$/.test(value)) throw new Error("the link is damaged (characters that are not base64url)");
  /** @type {Uint8Array} */
  let bytes;
  try {
    bytes = await squeeze(unbase64url(value), new DecompressionStream("deflate-raw"), MAX_PROGRAM_BYTES);
  } catch (err) {
    throw new Error(err instanceof RangeError ? err.message : "the link is damaged (it does not decompress): copy the whole link");
  }
  let source;
  try {
    source = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error("the link's program is not text");
  }
  if (!/^\s*(\/\/.*\n\s*|\/\*[\s\S]*?\*\/\s*)*package\s+\w+/.test(source)) throw new Error("the link carries something other than a Go program");
  return source;
}

/**
 * Passes bytes through a compression stream; with limit, rejects (a RangeError) once more than
 * limit bytes come out (a small link must not unfold into gigabytes).
 * @param {Uint8Array} bytes
 * @param {CompressionStream | DecompressionStream} stream
 * @param {number} [limit]
 */
async function squeeze(bytes, stream, limit = Infinity) {
  const writer = stream.writable.getWriter();
  writer.write(/** @type {BufferSource} */ (bytes)).catch(() => {});
  writer.close().catch(() => {});
  const reader = stream.readable.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel().catch(() => {});
      throw new RangeError(`the link's program is larger than a shared program may be (${limit} bytes)`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function base64url(/** @type {Uint8Array} */ bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unbase64url(/** @type {string} */ s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}

function describe(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}
