// The output panel: what the program printed, and the page's own lines
// (notes, errors, diagnostics that move the cursor when clicked). Like every
// panel of engine events it keeps a model and draws once a frame (frame.js):
// a program printing in a loop sends megabytes a second, and only the newest
// characters are kept.
//
// The panel is a stack of blocks of at most about CHUNK_CHARS, each ending a
// line: adding text lays out the last block only, dropping the oldest text
// removes whole blocks, and blocks out of view are not laid out at all
// (styles.css: content-visibility). One text node of 200,000 characters took
// 70-370 ms to lay out again after each change.

import { followTail } from "./frame.js";

/** @typedef {"stdout" | "stderr" | "system" | "error"} OutputKind */

/**
 * Text waiting to be drawn.
 * @typedef {object} Chunk
 * @property {OutputKind} kind
 * @property {string} text
 * @property {(() => void) | undefined} onClick  a diagnostic's: shows its place in the editor
 */

/** The panel keeps at most about this many characters, dropping the oldest. */
const MAX_CHARS = 200_000;
/** A block of printed text grows to about this many characters, then the next line starts another. */
const CHUNK_CHARS = 4096;

/**
 * @param {HTMLElement} panel  data-testid="output"
 * @param {import("./frame.js").Frame} frame
 */
export function createOutput(panel, frame) {
  const follow = followTail(frame, panel);
  /** Not drawn yet, oldest first. */
  let fresh = /** @type {Chunk[]} */ ([]);
  let freshChars = 0;
  /** Characters in the panel. */
  let drawnChars = 0;
  /** The panel is to be emptied before fresh is drawn. */
  let cleared = false;
  /** The kind of what was added last, and whether it ended a line. */
  let lastKind = /** @type {OutputKind} */ ("system");
  let endsLine = true;

  /**
   * @param {string} text
   * @param {OutputKind} kind
   * @param {() => void} [onClick]
   */
  function append(text, kind, onClick) {
    if (!text) return;
    const last = fresh.at(-1);
    if (last && last.kind === kind && printed(kind) && !last.onClick) last.text += text;
    else fresh.push({ kind, text, onClick });
    freshChars += text.length;
    lastKind = kind;
    endsLine = text.endsWith("\n");
    if (freshChars > 2 * MAX_CHARS) keepNewest();
    frame.schedule();
    follow();
  }

  /** Keeps the newest MAX_CHARS waiting: the rest, and all the panel shows, would be dropped once drawn. */
  function keepNewest() {
    while (freshChars - fresh[0].text.length >= MAX_CHARS) freshChars -= /** @type {Chunk} */ (fresh.shift()).text.length;
    fresh[0].text = fresh[0].text.slice(freshChars - MAX_CHARS);
    freshChars = MAX_CHARS;
    cleared = true;
    drawnChars = 0;
  }

  frame.onRender(() => {
    if (cleared) {
      panel.replaceChildren();
      cleared = false;
    }
    if (!fresh.length) return;
    for (const c of fresh) {
      if (printed(c.kind)) addPrinted(c.text, c.kind);
      else panel.append(block(c.text, c.kind, c.onClick));
    }
    drawnChars += freshChars;
    fresh = [];
    freshChars = 0;
    trim();
  });

  /** Adds printed text to the last block while it is of the same kind and small, or ends mid-line. */
  function addPrinted(/** @type {string} */ text, /** @type {OutputKind} */ kind) {
    let last = /** @type {HTMLElement | null} */ (panel.lastElementChild);
    for (let i = 0; i < text.length; ) {
      let node = last?.dataset.kind === kind ? /** @type {Text} */ (last.firstChild) : null;
      if (!node || (node.length >= CHUNK_CHARS && node.data.endsWith("\n"))) {
        last = block("", kind);
        panel.append(last);
        node = /** @type {Text} */ (last.firstChild);
      }
      // Up to the block's size, then to the end of that line.
      let end = i + Math.max(0, CHUNK_CHARS - node.length);
      if (end < text.length) {
        const nl = text.indexOf("\n", end === i ? i : end - 1);
        end = nl < 0 ? text.length : nl + 1;
      }
      node.appendData(text.slice(i, end));
      i = end;
    }
  }

  /** Drops the oldest blocks beyond MAX_CHARS; a block of one line longer than blocks are is cut instead. */
  function trim() {
    while (drawnChars > MAX_CHARS) {
      const first = /** @type {HTMLElement} */ (panel.firstElementChild);
      const text = /** @type {Text} */ (first.firstChild);
      const excess = drawnChars - MAX_CHARS;
      if (text.length > excess) {
        if (text.length > 2 * CHUNK_CHARS) {
          text.deleteData(0, excess);
          drawnChars -= excess;
        }
        break;
      }
      first.remove();
      drawnChars -= text.length;
    }
  }

  /**
   * A line of the page's own, on a line of its own.
   * @param {string} text
   * @param {"system" | "error"} kind
   * @param {() => void} [onClick]
   */
  function say(text, kind, onClick) {
    if (!endsLine) append("\n", lastKind); // ends the line it follows, in its block
    append(`${text}\n`, kind, onClick);
  }

  return {
    /** What the program printed. */
    print(/** @type {string} */ text, /** @type {"stdout" | "stderr"} */ stream) {
      append(text, stream);
    },
    say,
    /** The engine left out this many bytes of output under a flood. */
    skipped(/** @type {number} */ bytes) {
      say(`… ${bytes.toLocaleString("en-US")} bytes of output left out`, "system");
    },
    clear() {
      fresh = [];
      freshChars = 0;
      drawnChars = 0;
      cleared = true;
      endsLine = true;
      frame.schedule();
    },
  };
}

/**
 * @param {string} text
 * @param {OutputKind} kind
 * @param {() => void} [onClick]
 */
function block(text, kind, onClick) {
  const span = document.createElement("span");
  span.className = `out out-${kind}`;
  span.dataset.kind = kind;
  span.append(document.createTextNode(text));
  if (onClick) {
    span.classList.add("out-diagnostic");
    span.title = "Show in the editor";
    span.addEventListener("click", onClick);
  }
  return span;
}

/** The program's own output, which runs on from one print to the next; the page's lines do not. */
function printed(/** @type {OutputKind} */ kind) {
  return kind === "stdout" || kind === "stderr";
}
