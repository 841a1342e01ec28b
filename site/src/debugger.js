// The debugger's controls and panels: Step, Step into, Step out, Next call,
// Continue, Pause (buttons and F-keys), the variables in scope, the
// goroutines, and the history of stops. Stepping itself lives in the engine;
// this module sends what the learner asks for and renders what the engine
// reports in its `paused` and `resumed` events.

/** @typedef {import("./engine").PausedEvent} PausedEvent */
/** @typedef {import("./engine").StepKind} StepKind */
/** @typedef {import("./engine").Variable} Variable */
/** @typedef {import("./engine").Methods} Methods */

/** What the learner reads next to a goroutine blocked in a call. */
const WAITING = /** @type {Record<string, string>} */ ({
  accept: "waiting for a client to connect",
  read: "waiting for data from the other side",
  write: "waiting for room to send",
  connect: "waiting for the connection",
});

/** "accept(3) — waiting for a client to connect" */
export function blockedText(/** @type {string} */ call) {
  const op = call.slice(0, call.indexOf("("));
  return WAITING[op] ? `${call} — ${WAITING[op]}` : call;
}

/**
 * @param {object} o
 * @param {ReturnType<typeof import("./editor.js").createEditor>} o.editor
 * @param {<M extends "step" | "pause" | "setBreakpoints">(method: M, args: Methods[M]["args"]) => void} o.control
 *   steers the running program
 * @param {(opts: {debug?: boolean, breakpoints?: number[]}) => void} o.run
 * @param {() => void} o.stop
 * @param {() => boolean} o.running              a program runs (paused or not)
 * @param {(text: string) => void} o.detail      the status line's detail
 * @param {ReturnType<typeof import("./trace.js").createTrace>} o.trace  to show a stop's share of it
 * @param {import("./frame.js").Frame} o.frame   draws the trace; what a step waits for is drawn with it
 * @param {() => boolean} [o.own]  the program that runs is the editor's file's (scope.js): else its
 *   paused line is not shown, and the keys and buttons start the editor's file rather than step it
 */
export function createDebugger({ editor, control, run, stop, running, detail, trace, frame, own = () => true }) {
  const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));
  const button = (/** @type {string} */ id) => /** @type {HTMLButtonElement} */ (el(id));
  /** @type {Record<string, HTMLButtonElement>} */
  const buttons = {
    step: button("step"),
    into: button("step-into"),
    out: button("step-out"),
    call: button("next-call"),
    continue: button("continue"),
    pause: button("pause"),
  };
  const variablesEl = el("variables");
  const goroutinesEl = el("goroutines");
  const historyEl = el("history");
  const scrubber = /** @type {HTMLInputElement} */ (historyEl.querySelector("input[type=range]"));
  const historyLabel = /** @type {HTMLElement} */ (historyEl.querySelector(".history-label"));
  const historyVars = /** @type {HTMLElement} */ (historyEl.querySelector(".history-vars"));

  let paused = false;
  /** The goroutine the next step applies to. */
  let selected = 0;
  /** The last step asked for, to tell the learner what a blocked step waits for. */
  let stepping = false;
  /** Every stop of this run, in order. */
  const history = /** @type {PausedEvent[]} */ ([]);
  /** What a step waits for, as the latest call or result says, for the next frame; null: unchanged. */
  let waiting = /** @type {string | null} */ (null);

  // A step that runs through many calls shows only the last of a frame's.
  frame.onRender(() => {
    if (waiting !== null && stepping && !paused) detail(waiting);
    waiting = null;
  });

  /** @param {StepKind} kind */
  function step(kind) {
    if (!paused) return;
    stepping = kind !== "continue";
    control("step", { kind, goroutine: kind === "call" || kind === "continue" ? 0 : selected });
  }

  /** F5: continue when paused, run (stopping at breakpoints) when nothing runs (or another file's program). */
  function runOrContinue() {
    if (paused && own()) step("continue");
    else if (!running() || !own()) run({ breakpoints: editor.breakpoints() });
  }

  /** F10/F11 with nothing running (or another file's program) starts the program paused at its first line. */
  function stepOrStart(/** @type {StepKind} */ kind) {
    if (paused && own()) step(kind);
    else if (!running() || !own()) run({ debug: true, breakpoints: editor.breakpoints() });
  }

  buttons.step.addEventListener("click", () => stepOrStart("step"));
  buttons.into.addEventListener("click", () => stepOrStart("into"));
  buttons.out.addEventListener("click", () => {
    if (own()) step("out");
  });
  buttons.call.addEventListener("click", () => stepOrStart("call"));
  buttons.continue.addEventListener("click", () => runOrContinue());
  buttons.pause.addEventListener("click", () => {
    if (running() && !paused && own()) control("pause", {});
  });

  // The common debugger keys, wherever the focus is; capture, so the editor does not see them.
  document.addEventListener(
    "keydown",
    (e) => {
      const key = e.key;
      if (!/^F(5|9|10|11)$/.test(key) || e.ctrlKey || e.metaKey || e.altKey) return;
      e.preventDefault();
      e.stopPropagation();
      if (key === "F5") e.shiftKey ? stop() : runOrContinue();
      else if (key === "F9") editor.toggleBreakpoint(undefined);
      else if (key === "F10") stepOrStart("step");
      else if (key === "F11") e.shiftKey ? own() && step("out") : stepOrStart("into");
    },
    true,
  );

  scrubber.addEventListener("input", () => showHistory(Number(scrubber.value)));

  function update() {
    const mine = own();
    const runs = running() && mine;
    const stopped = paused && mine;
    for (const k of ["step", "into", "call"]) buttons[k].disabled = runs && !stopped;
    buttons.out.disabled = !stopped;
    buttons.continue.disabled = runs && !stopped;
    buttons.pause.disabled = !runs || stopped;
  }

  /** @param {Variable[]} vars @param {HTMLElement} into */
  function renderVariables(vars, into) {
    into.replaceChildren();
    if (!vars.length) {
      into.append(note("no variables in scope"));
      return;
    }
    for (const v of vars) {
      const row = document.createElement("div");
      row.className = "var";
      row.dataset.name = v.name;
      if (v.changed) row.dataset.changed = "true";
      const name = document.createElement("span");
      name.className = "var-name";
      name.textContent = v.name;
      const value = document.createElement("span");
      value.className = "var-value";
      value.textContent = v.value;
      row.append(name, " = ", value);
      if (v.changed) row.title = "changed since the last stop";
      into.append(row);
    }
  }

  /** @param {PausedEvent} ev */
  function renderGoroutines(ev) {
    goroutinesEl.replaceChildren();
    for (const g of ev.goroutines) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "goroutine";
      b.dataset.goroutine = String(g.id);
      b.dataset.state = g.state;
      b.setAttribute("aria-pressed", String(g.id === selected));
      const where = g.line ? `line ${g.line}` : "not started";
      const state = g.state === "blocked" ? `blocked in ${blockedText(g.call)}` : g.state;
      b.textContent = `#${g.id}${g.id === 1 ? " main" : ""} · ${where} · ${state}`;
      b.title = "Step this goroutine";
      b.addEventListener("click", () => {
        selected = g.id;
        for (const other of goroutinesEl.querySelectorAll("button")) {
          other.setAttribute("aria-pressed", String(other === b));
        }
        if (g.line) editor.setCurrentLine(g.line);
      });
      goroutinesEl.append(b);
    }
  }

  /** Shows stop i of the history: its line, variables and share of the trace. */
  function showHistory(/** @type {number} */ i) {
    const ev = history[i];
    if (!ev) return;
    const why = ev.reason === "call" ? ev.call : ev.reason;
    historyLabel.textContent = `stop ${i + 1} of ${history.length}: line ${ev.line}, goroutine #${ev.goroutine} (${why}), ${ev.traceLength} calls`;
    renderVariables(ev.variables, historyVars);
    trace.markAfter(i < history.length - 1 ? ev.traceLength : null);
  }

  function note(/** @type {string} */ text) {
    const p = document.createElement("p");
    p.className = "note";
    p.textContent = text;
    return p;
  }

  function reset() {
    paused = false;
    stepping = false;
    waiting = null;
    selected = 0;
    history.length = 0;
    editor.setCurrentLine(null);
    variablesEl.replaceChildren(note("Variables show here when the program is paused."));
    goroutinesEl.replaceChildren(note("Goroutines show here when the program is paused."));
    scrubber.max = "0";
    scrubber.value = "0";
    scrubber.disabled = true;
    historyLabel.textContent = "no stops yet";
    historyVars.replaceChildren();
    update();
  }

  reset();

  return {
    reset,
    update,
    get paused() {
      return paused;
    },

    /** @param {PausedEvent} ev */
    onPaused(ev) {
      paused = true;
      stepping = false;
      selected = ev.goroutine;
      if (own()) editor.setCurrentLine(ev.line);
      renderVariables(ev.variables, variablesEl);
      renderGoroutines(ev);
      history.push(ev);
      scrubber.disabled = false;
      scrubber.max = String(history.length - 1);
      scrubber.value = String(history.length - 1);
      showHistory(history.length - 1);
      detail(ev.reason === "call" ? ev.call : `line ${ev.line} (${ev.reason})`);
      update();
    },

    onResumed() {
      paused = false;
      editor.setCurrentLine(null);
      detail("");
      update();
    },

    /** A call was sent: a step waiting on it says what it waits for. */
    onCall(/** @type {string} */ text) {
      if (!stepping || paused) return;
      waiting = blockedText(text);
      frame.schedule();
    },

    onResult() {
      if (!stepping || paused) return;
      waiting = "";
      frame.schedule();
    },

    /** The program ended: nothing is paused any more; the history stays readable. */
    onEnded() {
      paused = false;
      stepping = false;
      editor.setCurrentLine(null);
      update();
    },

    /** The learner changed breakpoints: a running program gets them at once (when it is the editor's file's). */
    breakpointsChanged(/** @type {number[]} */ lines) {
      if (running() && own()) control("setBreakpoints", { lines });
    },

    /** The editor's file became the running program's, or stopped being: its paused line follows. */
    ownChanged() {
      const line = paused && own() ? history.at(-1)?.line ?? null : null;
      editor.setCurrentLine(line);
      update();
    },
  };
}
