// One render per animation frame for the whole page. The engine can report
// thousands of calls a second; every panel that shows them keeps a model,
// updated per event (cheap JavaScript), and writes the DOM only in its render,
// which runs at most once a frame however many events arrived. A page's main
// thread that styled and laid out per event took 60-75% of a core from the
// engine's worker on a 2-core machine (issue 7).
//
// Within a frame, every panel writes first and reads after (scroll positions),
// so the page lays out once per frame, not once per event.
//
// A render's cost does not shrink with the number of calls it adds: any
// change to a full trace panel (2,000 entries) lays out the whole list, 5-10 ms
// of the main thread here, and each new entry costs about 70 µs more (style and
// layout of its text). So renders are spaced by what the last one cost: at
// least BUSY_MS apart and about RENDER_SHARE of the main thread at most, up to
// MAX_GAP_MS apart when calls come faster than the page could draw them (then
// each render builds only the newest entries the panel keeps). What a render
// costs counts the browser's style, layout and paint of that frame, after the
// panels' writes: under a flood that was most of it (the 1-client echo: the
// page's main thread spent about half its time there, unbudgeted). The first
// event after a quiet spell (a step, a connection) is drawn in the next frame,
// and a status change draws everything at once (flush).

/** While events keep coming, renders are at least this far apart: 10 a second. */
const BUSY_MS = 100;
/** Renders may take about this share of the main thread, the rest is the learner's and the engine's. */
const RENDER_SHARE = 0.1;
/** However costly the renders, the page draws at least once a second. */
const MAX_GAP_MS = 1000;
/** How long a render may wait when the page gets no animation frames (a hidden tab). */
const FALLBACK_MS = 100;

export function createFrame() {
  /** Writes, in the order panels registered them. */
  const writers = /** @type {(() => void)[]} */ ([]);
  /** Reads after every write (scrolling to a panel's end), once each per frame. */
  const reads = /** @type {Map<object, () => void>} */ (new Map());
  let frameID = 0;
  let timer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  let scheduled = false;
  /** The next render that is not forced (flush) waits until then (performance.now()). */
  let nextRender = -Infinity;
  /** When the last render started; its frame's end is measured by a task after it. */
  let renderStart = 0;
  const frameEnd = new MessageChannel();
  frameEnd.port1.onmessage = () => {
    // A task queued during a frame's callbacks runs once the frame is drawn.
    nextRender = Math.max(nextRender, renderStart + Math.min(MAX_GAP_MS, (performance.now() - renderStart) / RENDER_SHARE));
  };

  /** Renders everything pending now: in a frame, or when the page must show it at once (paused). */
  function flush() {
    if (!scheduled) return; // nothing changed since the last render
    cancelAnimationFrame(frameID);
    clearTimeout(timer);
    scheduled = false;
    const start = performance.now();
    for (const write of writers) write();
    const after = [...reads.values()];
    reads.clear();
    for (const read of after) read(); // the layout of this render happens here
    const cost = performance.now() - start;
    nextRender = start + Math.min(MAX_GAP_MS, Math.max(BUSY_MS, cost / RENDER_SHARE));
    renderStart = start;
    frameEnd.port2.postMessage(null);
  }

  /** Asks for a render in the next frame, or once the last render's gap has passed; a hidden page, which gets no frames, renders on a timer. */
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    waitTurn();
  }

  /** Renders in the next frame once nextRender has passed (it may move later meanwhile). */
  function waitTurn() {
    const wait = nextRender - performance.now();
    if (wait <= 0) {
      inNextFrame();
    } else {
      timer = setTimeout(waitTurn, wait);
    }
  }

  function inNextFrame() {
    frameID = requestAnimationFrame(flush);
    timer = setTimeout(flush, FALLBACK_MS);
  }

  return {
    flush,
    schedule,
    /** Registers a panel's render: it writes what changed since its last render, or nothing. */
    onRender(/** @type {() => void} */ write) {
      writers.push(write);
    },
    /** After this frame's writes, read; key: one read per key per frame (the last one asked). */
    afterWrites(/** @type {object} */ key, /** @type {() => void} */ read) {
      reads.set(key, read);
      schedule();
    },
  };
}

/** @typedef {ReturnType<typeof createFrame>} Frame */

/**
 * Keeps a panel's end in view as lines are added, unless the learner scrolled up from it.
 * Returns what to call after adding: it scrolls after the frame's writes (one layout a frame,
 * not one a line).
 * @param {Frame} frame
 * @param {HTMLElement} panel
 */
export function followTail(frame, panel) {
  let following = true;
  panel.addEventListener("scroll", () => {
    following = panel.scrollHeight - panel.scrollTop - panel.clientHeight < 24;
  });
  return () => {
    if (!following) return;
    frame.afterWrites(panel, () => {
      panel.scrollTop = panel.scrollHeight;
    });
  };
}
