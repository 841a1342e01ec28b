// The trace panel: one element per socket call, completed in place by its
// result. Calls and results are kept as entries and reach the DOM once a
// frame (frame.js): a result that arrives before its call was drawn is drawn
// with it, and when more calls arrive in one frame than the panel keeps, only
// the newest are built.
//
// Calls not shown — the oldest, beyond what the panel keeps, and those the
// engine left out under a flood (a `skipped` event) — are counted on the
// entry after them: its data-skipped reads `… 118,204 earlier calls`, which
// the panel shows as a line above it.

import { followTail } from "./frame.js";

/**
 * While the engine leaves calls out, a render draws at most this many of the newest: each new
 * entry costs the main thread about 70 µs of style and layout, and drawing all that arrived in a
 * flood's render (hundreds) took 300-500 ms of it on two cores, from the program it traces.
 */
const FLOOD_DRAWN = 32;

/** @typedef {import("./frame.js").Frame} Frame */

/**
 * A call as the panel shows it.
 * @typedef {object} Entry
 * @property {number} id
 * @property {number} seq   how many calls of the run came before it, shown or not
 * @property {number} gap   calls right before it that the panel does not show
 * @property {string} call  `bind(3, 127.0.0.1:9000)`
 * @property {string} ret   ` = 0`, or ` …` while it waits
 * @property {"pending" | "done" | "failed" | "cancelled"} state
 * @property {string} title  why it was cancelled
 * @property {HTMLElement | null} li   its element, once drawn
 * @property {HTMLElement | null} retEl
 */

/**
 * @param {HTMLElement} list  the trace panel (data-testid="trace")
 * @param {Frame} frame
 * @param {object} o
 * @param {number} o.max  the panel keeps at most this many calls, dropping the oldest
 */
export function createTrace(list, frame, { max }) {
  const follow = followTail(frame, list);
  /** Calls waiting for their result, by id; drawn or not. */
  const pending = /** @type {Map<number, Entry>} */ (new Map());
  /** The drawn entries, in the list's order. */
  let drawn = /** @type {Entry[]} */ ([]);
  /** Entries not drawn yet, oldest first; never more than 2×max (the oldest are dropped). */
  let fresh = /** @type {Entry[]} */ ([]);
  /** Drawn entries whose result, cancellation or gap is not drawn yet. */
  const changed = /** @type {Set<Entry>} */ (new Set());
  /** Calls of this run so far, shown or not. */
  let calls = 0;
  /** Calls the engine left out since the last call: the next call's gap. */
  let skipped = 0;
  /** The engine left calls out since the last render: a flood, whose newest calls alone are drawn. */
  let flooding = false;
  /** Some drawn entries are marked as after a past stop. */
  let marked = false;

  /**
   * Forgets entries the panel will not keep (their results are not waited for); returns how many
   * calls they stood for, with their gaps, for the entry after them to count.
   */
  function drop(/** @type {Entry[]} */ gone) {
    let n = 0;
    for (const e of gone) {
      if (pending.get(e.id) === e) pending.delete(e.id);
      changed.delete(e);
      n += 1 + e.gap;
    }
    return n;
  }

  function build(/** @type {Entry} */ e) {
    const li = document.createElement("li");
    li.dataset.id = String(e.id);
    li.dataset.state = e.state;
    if (e.gap) li.dataset.skipped = earlier(e.gap);
    if (e.title) li.title = e.title;
    const call = document.createElement("span");
    call.className = "call";
    call.textContent = e.call;
    const ret = document.createElement("span");
    ret.className = "ret";
    ret.textContent = e.ret;
    li.append(call, ret);
    e.li = li;
    e.retEl = ret;
    return li;
  }

  function update(/** @type {Entry} */ e) {
    const li = /** @type {HTMLElement} */ (e.li);
    li.dataset.state = e.state;
    if (e.gap) li.dataset.skipped = earlier(e.gap);
    if (e.title) li.title = e.title;
    /** @type {HTMLElement} */ (e.retEl).textContent = e.ret;
  }

  frame.onRender(() => {
    for (const e of changed) update(e);
    changed.clear();
    if (!fresh.length) return;
    const limit = flooding ? Math.min(max, FLOOD_DRAWN) : max;
    flooding = false;
    const adding = fresh.length > limit ? fresh.slice(fresh.length - limit) : fresh;
    adding[0].gap += drop(fresh.slice(0, fresh.length - adding.length));
    fresh = [];
    const removing = Math.max(0, drawn.length + adding.length - max);
    if (removing >= drawn.length) {
      adding[0].gap += drop(drawn);
      list.replaceChildren(...adding.map(build));
      drawn = adding;
    } else {
      if (removing > 0) {
        const range = document.createRange();
        range.setStartBefore(/** @type {Node} */ (drawn[0].li));
        range.setEndAfter(/** @type {Node} */ (drawn[removing - 1].li));
        range.deleteContents();
        const first = drawn[removing];
        first.gap += drop(drawn.slice(0, removing));
        update(first);
      }
      list.append(...adding.map(build));
      drawn = removing > 0 ? drawn.slice(removing).concat(adding) : drawn.concat(adding);
    }
    follow();
  });

  return {
    /** A call was sent. */
    call(/** @type {number} */ id, /** @type {string} */ text) {
      /** @type {Entry} */
      const e = { id, seq: calls++, gap: skipped, call: text, ret: " …", state: "pending", title: "", li: null, retEl: null };
      skipped = 0;
      pending.set(id, e);
      fresh.push(e);
      if (fresh.length >= 2 * max) {
        const gone = fresh.splice(0, fresh.length - max);
        fresh[0].gap += drop(gone);
      }
      frame.schedule();
    },

    /** The host answered call id. */
    result(/** @type {number} */ id, /** @type {string} */ text, /** @type {boolean} */ failed) {
      const e = pending.get(id);
      if (!e) return; // dropped from the panel, or from a run that was cleared
      pending.delete(id);
      e.state = failed ? "failed" : "done";
      e.ret = ` = ${text}`;
      if (e.li) {
        changed.add(e);
        frame.schedule();
      }
    },

    /** The engine left out this many calls (with their results) before the next one. */
    skipped(/** @type {number} */ n) {
      skipped += n;
      flooding = true;
      calls += n;
    },

    /** Marks every call still waiting as cancelled. */
    cancelPending(/** @type {string} */ why) {
      for (const e of pending.values()) {
        e.state = "cancelled";
        e.title = why;
        e.ret = " = ? (cancelled)";
        if (e.li) changed.add(e);
      }
      pending.clear();
      frame.schedule();
    },

    /**
     * Marks the drawn calls made after the first traceLength calls of the run (a past stop's
     * share of the trace), or none (null).
     * @param {number | null} traceLength
     */
    markAfter(traceLength) {
      if (traceLength === null && !marked) return; // every stop asks; most show the latest
      marked = traceLength !== null;
      frame.flush(); // every entry drawn
      const after = traceLength ?? Infinity;
      for (const e of drawn) /** @type {HTMLElement} */ (e.li).dataset.afterStop = String(e.seq >= after);
    },

    clear() {
      list.replaceChildren();
      pending.clear();
      changed.clear();
      drawn = [];
      fresh = [];
      calls = 0;
      skipped = 0;
      flooding = false;
      marked = false;
    },
  };
}

const thousands = new Intl.NumberFormat("en-US");

/** `… 118,204 earlier calls` */
function earlier(/** @type {number} */ n) {
  return `… ${thousands.format(n)} earlier call${n === 1 ? "" : "s"}`;
}
