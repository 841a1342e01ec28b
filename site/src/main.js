// The page: puts the editor, the panels, the run and the lessons together.
// Each concern has its module — run.js (the engine, Run and Stop, the
// status), files.js (the file in the editor), output.js, trace.js, … —; the
// page⇄engine protocol is typed in engine.d.ts.

import echo from "../../examples/echo/main.go";
import { createEngine, lessonsResponse, RUNNER_KEY, savedRunner, takeEngine, tools, workspace } from "./boot.js";
import { createClientPanel } from "./clients.js";
import { createDebugger } from "./debugger.js";
import { createEditor } from "./editor.js";
import { createFiles } from "./files.js";
import { createFrame } from "./frame.js";
import { createLanes } from "./lanes.js";
import { createLayout } from "./layout.js";
import { createLessons } from "./lessons.js";
import { createOutput } from "./output.js";
import { createRun } from "./run.js";
import { createScope } from "./scope.js";
import { createShare } from "./share.js";
import { createSocketsPanel } from "./sockets.js";
import { themeToggle } from "./theme.js";
import { createTrace } from "./trace.js";

/** @typedef {import("./engine").Runner} Runner */

/** The trace panel keeps at most this many calls, dropping the oldest. */
const MAX_TRACE_ENTRIES = 2000;
/** How long after the page is ready what waits for it (afterReady) may wait for the page to be idle. */
const IDLE_WAIT_MS = 300;
/** What waits for the page to be ready waits at most this long (the bridge may be down). */
const READY_WAIT_MS = 3000;

const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));
const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * The page is ready (the status first turned `ready`): the engine is connected and the editor holds
 * the learner's program. What the learner does not need before — the lesson list and text, Go's
 * syntax in the editor, the compile check while typing (which starts engine.wasm in the editor's
 * tools) — waits for it (or READY_WAIT_MS, when the bridge cannot be reached), and for a moment
 * when the page is idle, so that none of it delays ready.
 */
let becameReady = /** @type {() => void} */ (() => {});
const afterReady = Promise.race([
  new Promise((resolve) => (becameReady = () => resolve(undefined))),
  new Promise((resolve) => setTimeout(resolve, READY_WAIT_MS)),
]).then(idle);

/** Renders the panels that show engine events, at most once per animation frame. */
const frame = createFrame();
const output = createOutput(el("output"), frame);
const trace = createTrace(el("trace"), frame, { max: MAX_TRACE_ENTRIES });
const lanes = createLanes(el("lanes"), el("trace"), frame);
const sockets = createSocketsPanel(frame, { body: el("sockets"), empty: byId("sockets-empty"), note: byId("sockets-note") });
const clients = createClientPanel({
  list: byId("clients"),
  newButton: /** @type {HTMLButtonElement} */ (el("client-new")),
  addrInput: /** @type {HTMLInputElement} */ (byId("client-addr")),
  request: (args) => run.client(args),
  defaultAddr: () => sockets.listeningAddr(),
});

// engine.wasm (boot.js: tools) serves the editor (compile errors while typing, Format) and the
// workspace's zip; the editor and the files wait for it in nothing else.
const editor = createEditor({
  parent: byId("editor-host"),
  // The first file is most often the playground's, never saved: the editor starts with it (hidden
  // until the workspace answers), and opening it then changes nothing.
  doc: echo,
  onRun: () => run.run(),
  onSave: () => files.save(),
  onChange: () => files.edited(),
  onBreakpoints: (lines) => debug.breakpointsChanged(lines),
  check: (source) => afterReady.then(() => tools.check(source)),
  format: (source) => tools.format(source),
});
afterReady.then(() => editor.enhance()).catch((err) => console.debug("editor: enhance:", err));
const files = createFiles({ editor, workspace, say: output.say, onOpened: () => run.becomeReady(), onSwitch: (name) => scope.opened(name) });

const runnerSelect = /** @type {HTMLSelectElement} */ (el("runner"));
runnerSelect.value = savedRunner();
runnerSelect.addEventListener("change", () => {
  const r = /** @type {Runner} */ (runnerSelect.value);
  localStorage.setItem(RUNNER_KEY, r);
  run.setRunner(r);
});

const run = createRun({
  runner: savedRunner(),
  // The first engine is boot.js's, connecting since the page was parsed.
  connect: (runner, callbacks) => takeEngine(runner, callbacks) ?? createEngine(runner, callbacks),
  onReady: () => becameReady(),
  editor,
  files,
  frame,
  say: output.say,
  ui: { status: el("status"), detail: byId("status-detail"), pid: el("pid"), stop: /** @type {HTMLButtonElement} */ (el("stop")) },
  panels: {
    show(ev) {
      switch (ev.type) {
        case "output":
          output.print(ev.text, ev.stream);
          break;
        case "call":
          trace.call(ev.id, ev.text);
          lanes.onCall(ev.id, ev.text);
          debug.onCall(ev.text);
          break;
        case "result":
          trace.result(ev.id, ev.text, ev.failed);
          lanes.onResult(ev.id, ev.text, ev.failed);
          debug.onResult();
          break;
        case "skipped":
          trace.skipped(ev.calls);
          if (ev.bytes) output.skipped(ev.bytes);
          break;
        case "sockets":
          sockets.show(ev.sockets, ev.message);
          break;
        case "client-data":
        case "client-eof":
        case "client-closed":
          clients.onEvent(ev);
          break;
        default:
          console.debug("page: engine event not shown", ev);
      }
    },
    runStarting() {
      scope.update();
      debug.reset();
      lanes.reset();
      output.clear();
      trace.clear();
      editor.clearDiagnostics();
    },
    paused(ev) {
      debug.onPaused(ev);
      scope.update();
    },
    resumed() {
      debug.onResumed();
      scope.update();
    },
    runEnded(why) {
      trace.cancelPending(why);
      debug.onEnded();
      scope.update();
    },
    diagnostic(d, all, file) {
      if (scope.own()) editor.showDiagnostics(all);
      const where = d.column ? `${file}:${d.line}:${d.column}` : `${file}:${d.line}`;
      output.say(`${where}: ${d.kind === "panic" ? "panic: " : ""}${d.message}`, "error", () => editor.goTo(d.line, d.column));
    },
    sessionEnded(why) {
      clients.sessionEnded(why);
      sockets.clear();
    },
    update: () => debug.update(),
  },
});

const scope = createScope({
  layout: byId("layout"),
  parts: ["variables", "goroutines", "history", "lanes", "output", "trace"].map(el).concat(byId("sockets-empty")),
  run: () => run.program(),
  paused: () => debug.paused,
  onChange(own) {
    debug.ownChanged();
    // The last run's diagnostics, shown in the editor while it holds the run's file.
    if (own) editor.showDiagnostics(run.diagnostics());
    else editor.clearDiagnostics();
  },
});
const debug = createDebugger({
  editor,
  control: (method, args) => run.control(method, args),
  run: (opts) => run.run(opts),
  stop: () => run.stop(),
  running: () => run.running(),
  detail: (text) => run.detail(text),
  trace,
  frame,
  own: () => scope.own(),
});

createLayout({ layout: byId("layout"), lessons: byId("lessons-pane"), fold: /** @type {HTMLButtonElement} */ (el("lessons-fold")) });
themeToggle(/** @type {HTMLButtonElement} */ (el("theme")));

el("run").addEventListener("click", () => run.run());
el("stop").addEventListener("click", () => run.stop());
el("format").addEventListener("click", () => editor.format());
document.addEventListener("keydown", (e) => {
  // The editor has its own binding; this one is for focus elsewhere on the page.
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
    e.preventDefault();
    run.run();
  }
});

/** Resolves once the page is idle, or after IDLE_WAIT_MS. */
function idle() {
  return new Promise((resolve) => {
    if (typeof requestIdleCallback === "function") requestIdleCallback(() => resolve(undefined), { timeout: IDLE_WAIT_MS });
    else setTimeout(resolve, 0);
  });
}

/**
 * For tests and the console: the CodeMirror view, Run/Stop as the buttons do them, and flush,
 * which resolves once every edit and progress change so far is in the workspace.
 */
Object.assign(window, {
  sockstep: { view: editor.view, run: run.run, stop: run.stop, flush: files.flush },
});

const lessons = createLessons(
  {
    openFile: files.open,
    replaceDoc: files.replace,
    getDoc: () => editor.getDoc(),
    flush: files.flush,
    load: files.load,
    write: files.write,
    names: files.names,
    exportArchive: files.exportArchive,
    importArchive: files.importArchive,
    run: (opts) => run.run(opts),
    program: () => run.program(),
    say: output.say,
  },
  echo,
);

createShare({ source: () => editor.getDoc(), open: (source) => lessons.addShared(source), say: output.say }, afterReady);

run.start();
lessons.start({ lessons: lessonsResponse, afterReady }).catch((err) => output.say(`could not open the lessons: ${err instanceof Error ? err.message : String(err)}`, "error"));
