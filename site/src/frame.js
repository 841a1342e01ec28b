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
// A frame's render costs about the same however few calls it adds: laying out
// and pre-painting a full trace panel (2,000 entries) took 8-15 ms of the main
// thread here. So while events keep coming, renders are spaced BUSY_MS apart;
// the first event after a quiet spell (a step, a connection) is drawn in the
// next frame, and a status change draws everything at once (flush).

/** While events keep coming, renders are at least this far apart: 10 a second. */
const BUSY_MS = 100;
/** How long a render may wait when the page gets no animation frames (a hidden tab). */
const FALLBACK_MS = 100;

/**
 * @param {object} [env] for tests: the window's scheduling functions
 * @param {(cb: FrameRequestCallback) => number} [env.requestAnimationFrame]
 * @param {(id: number) => void} [env.cancelAnimationFrame]
 */
export function createFrame(env = window) {
  const raf = env.requestAnimationFrame.bind(env);
  const cancelRaf = env.cancelAnimationFrame.bind(env);
  /** Writes, in the order panels registered them. */
  const writers = /** @type {(() => void)[]} */ ([]);
  /** Reads after every write (scrolling to a panel's end), once each per frame. */
  const reads = /** @type {Map<object, () => void>} */ (new Map());
  let frameID = 0;
  let timer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  let scheduled = false;
  /** When the last render ran. */
  let lastRender = -Infinity;

  /** Renders everything pending now: in a frame, or when the page must show it at once (paused). */
  function flush() {
    if (!scheduled) return; // nothing changed since the last render
    cancelRaf(frameID);
    clearTimeout(timer);
    scheduled = false;
    lastRender = performance.now();
    for (const write of writers) write();
    const after = [...reads.values()];
    reads.clear();
    for (const read of after) read();
  }

  /** Asks for a render in the next frame, or BUSY_MS after the last one; a hidden page, which gets no frames, renders on a timer. */
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    const wait = lastRender + BUSY_MS - performance.now();
    if (wait <= 0) {
      frameID = raf(flush);
      timer = setTimeout(flush, FALLBACK_MS);
      return;
    }
    timer = setTimeout(() => {
      frameID = raf(flush);
      timer = setTimeout(flush, FALLBACK_MS);
    }, wait);
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
