// The trace panel: one element per socket call, completed in place by its
// result. Calls and results are kept as entries and reach the DOM once a
// frame (frame.js): a result that arrives before its call was drawn is drawn
// with it, and when more calls arrive in one frame than the panel keeps, only
// the newest are built.

/** @typedef {import("./frame.js").Frame} Frame */

/**
 * A call as the panel shows it.
 * @typedef {object} Entry
 * @property {number} id
 * @property {string} call  `bind(3, 127.0.0.1:9000)`
 * @property {string} ret   ` = 0`, or ` …` while it waits
 * @property {"pending" | "done" | "failed" | "cancelled"} state
 * @property {string} title  why it was cancelled
 * @property {HTMLElement | null} li   its element, once drawn
 * @property {HTMLElement | null} retEl
 */

/**
 * @param {HTMLOListElement | HTMLElement} list  the trace panel (data-testid="trace")
 * @param {Frame} frame
 * @param {object} o
 * @param {number} o.max  the panel keeps at most this many calls, dropping the oldest
 * @param {(panel: HTMLElement) => void} o.followTail  keeps the panel's end in view
 */
export function createTrace(list, frame, { max, followTail }) {
  /** Calls waiting for their result, by id; drawn or not. */
  const pending = /** @type {Map<number, Entry>} */ (new Map());
  /** The drawn entries, in the list's order. */
  let drawn = /** @type {Entry[]} */ ([]);
  /** Entries not drawn yet, oldest first; never more than 2×max (the oldest are dropped). */
  let fresh = /** @type {Entry[]} */ ([]);
  /** Drawn entries whose result or cancellation is not drawn yet. */
  const changed = /** @type {Set<Entry>} */ (new Set());

  /** Forgets entries the panel will not keep: their results are not waited for. */
  function drop(/** @type {Entry[]} */ gone) {
    for (const e of gone) {
      if (pending.get(e.id) === e) pending.delete(e.id);
      changed.delete(e);
    }
  }

  function build(/** @type {Entry} */ e) {
    const li = document.createElement("li");
    li.dataset.id = String(e.id);
    li.dataset.state = e.state;
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
    if (e.title) li.title = e.title;
    /** @type {HTMLElement} */ (e.retEl).textContent = e.ret;
  }

  frame.onRender(() => {
    for (const e of changed) update(e);
    changed.clear();
    if (!fresh.length) return;
    const adding = fresh.length > max ? fresh.slice(fresh.length - max) : fresh;
    drop(fresh.slice(0, fresh.length - adding.length));
    fresh = [];
    const removing = Math.max(0, drawn.length + adding.length - max);
    const nodes = document.createDocumentFragment();
    for (const e of adding) nodes.append(build(e));
    if (removing >= drawn.length) {
      drop(drawn);
      list.replaceChildren(nodes);
      drawn = adding;
    } else {
      if (removing > 0) {
        const range = document.createRange();
        range.setStartBefore(/** @type {Node} */ (drawn[0].li));
        range.setEndAfter(/** @type {Node} */ (drawn[removing - 1].li));
        range.deleteContents();
        drop(drawn.slice(0, removing));
      }
      list.append(nodes);
      drawn = removing > 0 ? drawn.slice(removing).concat(adding) : drawn.concat(adding);
    }
    followTail(list);
  });

  return {
    /** A call was sent. */
    call(/** @type {number} */ id, /** @type {string} */ text) {
      /** @type {Entry} */
      const e = { id, call: text, ret: " …", state: "pending", title: "", li: null, retEl: null };
      pending.set(id, e);
      fresh.push(e);
      if (fresh.length >= 2 * max) drop(fresh.splice(0, fresh.length - max));
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

    clear() {
      list.replaceChildren();
      pending.clear();
      changed.clear();
      drawn = [];
      fresh = [];
    },
  };
}
