// The panes' sizes and the lesson list's fold, both remembered. Each border between panes is a
// separator (role=separator, focusable): dragged with the pointer, or moved with the arrow keys
// (Shift: in larger steps; Home and End: to the ends); aria-valuenow is the size in pixels of the
// pane it controls. styles.css clamps the sizes to the window, so a size remembered on a larger
// screen never hides a pane on a smaller one.

/** Where the sizes and the fold are remembered: {"lessons-w": 260, "side-w": 400, "debug-h": 200, "folded": false}. */
export const LAYOUT_KEY = "sockstep.layout";
/** How far an arrow key moves a separator, in pixels; with Shift, four times as far. */
const STEP_PX = 16;

/**
 * One separator.
 * @typedef {object} Sep
 * @property {HTMLElement} el
 * @property {"lessons-w" | "side-w" | "debug-h"} size  the CSS property (without --) it sets on the layout
 * @property {HTMLElement} pane  the pane it sizes
 * @property {1 | -1} sign  1: moving the separator right or down grows the pane; -1: shrinks it
 * @property {"x" | "y"} axis
 * @property {number} min
 * @property {() => number} max
 */

/**
 * @param {object} o
 * @param {HTMLElement} o.layout  .layout, which holds the sizes as CSS properties
 * @param {HTMLElement} o.lessons  the lessons pane
 * @param {HTMLButtonElement} o.fold  the button that folds the lesson list away
 */
export function createLayout({ layout, lessons, fold }) {
  /** @type {Record<string, number | boolean>} */
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(LAYOUT_KEY) ?? "{}") ?? {};
  } catch {
    // none, or unreadable: the defaults
  }

  const byTestID = (/** @type {string} */ id) => /** @type {HTMLElement} */ (layout.querySelector(`[data-testid="${id}"]`));
  const mainCol = /** @type {HTMLElement} */ (layout.querySelector(".main-col"));
  /** @type {Sep[]} */
  const seps = [
    { el: byTestID("resize-lessons"), size: "lessons-w", pane: lessons, sign: 1, axis: "x", min: 180, max: () => layout.clientWidth * 0.4 },
    { el: byTestID("resize-side"), size: "side-w", pane: /** @type {HTMLElement} */ (layout.querySelector(".side")), sign: -1, axis: "x", min: 240, max: () => layout.clientWidth * 0.45 },
    { el: byTestID("resize-debug"), size: "debug-h", pane: /** @type {HTMLElement} */ (layout.querySelector(".debug-panes")), sign: -1, axis: "y", min: 80, max: () => mainCol.clientHeight * 0.7 },
  ];

  function save() {
    try {
      localStorage.setItem(LAYOUT_KEY, JSON.stringify(saved));
    } catch {
      // not remembered: this page only
    }
  }

  /** The pane's size as drawn (the CSS clamps what was asked). */
  const drawn = (/** @type {Sep} */ s) => Math.round(s.axis === "x" ? s.pane.getBoundingClientRect().width : s.pane.getBoundingClientRect().height);

  /** Tells assistive technology the separator's value and range. */
  function describe(/** @type {Sep} */ s) {
    const now = drawn(s);
    s.el.setAttribute("aria-valuemin", String(s.min));
    s.el.setAttribute("aria-valuemax", String(Math.max(s.min, Math.round(s.max()))));
    s.el.setAttribute("aria-valuenow", String(now));
    s.el.setAttribute("aria-valuetext", `${now} pixels`);
  }

  /** Sets a pane's size, within its bounds; remembered when save is true. */
  function resize(/** @type {Sep} */ s, /** @type {number} */ px, save_ = true) {
    const v = Math.round(Math.min(Math.max(px, s.min), Math.max(s.min, s.max())));
    layout.style.setProperty(`--${s.size}`, `${v}px`);
    saved[s.size] = v;
    if (save_) save();
    describe(s);
  }

  for (const s of seps) {
    const px = saved[s.size];
    if (typeof px === "number" && Number.isFinite(px)) layout.style.setProperty(`--${s.size}`, `${px}px`);

    s.el.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 4 * STEP_PX : STEP_PX;
      const forward = s.axis === "x" ? "ArrowRight" : "ArrowDown";
      const back = s.axis === "x" ? "ArrowLeft" : "ArrowUp";
      let next = null;
      if (e.key === forward) next = drawn(s) + s.sign * step;
      else if (e.key === back) next = drawn(s) - s.sign * step;
      else if (e.key === "Home") next = s.sign > 0 ? s.min : s.max();
      else if (e.key === "End") next = s.sign > 0 ? s.max() : s.min;
      if (next === null) return;
      e.preventDefault();
      resize(s, next);
    });

    s.el.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      s.el.setPointerCapture(e.pointerId);
      s.el.dataset.dragging = "true";
      const start = s.axis === "x" ? e.clientX : e.clientY;
      const from = drawn(s);
      const move = (/** @type {PointerEvent} */ m) => resize(s, from + s.sign * ((s.axis === "x" ? m.clientX : m.clientY) - start), false);
      const end = () => {
        s.el.removeEventListener("pointermove", move);
        s.el.removeEventListener("pointerup", end);
        s.el.removeEventListener("pointercancel", end);
        delete s.el.dataset.dragging;
        save();
      };
      s.el.addEventListener("pointermove", move);
      s.el.addEventListener("pointerup", end);
      s.el.addEventListener("pointercancel", end);
    });
    // Double-click: back to the default size.
    s.el.addEventListener("dblclick", () => {
      layout.style.removeProperty(`--${s.size}`);
      delete saved[s.size];
      save();
      describe(s);
    });
  }

  // ---- The lesson list's fold ----

  function setFolded(/** @type {boolean} */ folded) {
    if (folded) lessons.dataset.folded = "true";
    else delete lessons.dataset.folded;
    fold.setAttribute("aria-expanded", String(!folded));
    fold.title = folded ? "Show the list of lessons" : "Hide the list of lessons";
    requestAnimationFrame(() => seps.forEach(describe));
  }
  setFolded(saved.folded === true);
  fold.addEventListener("click", () => {
    saved.folded = fold.getAttribute("aria-expanded") === "true";
    save();
    setFolded(saved.folded);
  });

  // The values follow the window (the clamps) and the lesson opened or closed.
  const observer = new ResizeObserver(() => seps.forEach(describe));
  for (const s of seps) observer.observe(s.pane);
  observer.observe(layout);
}
