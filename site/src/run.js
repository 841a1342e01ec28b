// The run's lifecycle: the engine that runs programs (the runner the learner
// chose) and its connection — start, loss, retry —, Run and Stop, the
// status line and the running program's process id. What the engine's
// events show is the panels' (Panels): this module tells them when.
//
// The host runner's session outlives its runs: Stop asks the runner to end
// the program, and its exit event ends the run. The in-page runner's Stop
// terminates the worker (an endless loop never yields to a request) and
// starts a fresh one, with a fresh bridge session.

/** @typedef {import("./engine").Runner} Runner */
/** @typedef {import("./engine").Engine} Engine */
/** @typedef {import("./engine").EngineCallbacks} EngineCallbacks */
/** @typedef {import("./engine").EngineEvent} EngineEvent */
/** @typedef {import("./engine").PausedEvent} PausedEvent */
/** @typedef {import("./engine").DiagnosticEvent} DiagnosticEvent */
/** @typedef {import("./engine").Methods} Methods */
/** @typedef {import("./engine").ClientArgs} ClientArgs */
/** @typedef {"ready" | "running" | "paused" | "stopped" | "error" | "disconnected"} Status */

/** How long after a failed start or a lost bridge the page tries again, with a fresh engine. */
const RETRY_MS = 1000;
/** How soon after a run's end a crash of engine.wasm is still that run's. */
const CRASH_AFTER_EXIT_MS = 1000;

/**
 * A program the learner ran, from Run to its end.
 * @typedef {object} Program
 * @property {string} file  its workspace name
 * @property {string} source
 * @property {{debug?: boolean, breakpoints?: number[]}} options
 * @property {"queued" | "starting" | "running" | "ended" | "stopped"} state
 *   queued: waits for an engine, or for the program before it to end; starting: sent to the
 *   engine; running: the engine said it started; ended: by itself, its trace still in the
 *   session; stopped: by Stop, the engine's end, or its session's
 */

/**
 * What the panels are told.
 * @typedef {object} Panels
 * @property {(ev: EngineEvent) => void} show  an event only panels show: output, call, result, skipped, sockets, client-*
 * @property {() => void} runStarting  a run starts: what the last one showed goes
 * @property {(ev: PausedEvent) => void} paused
 * @property {() => void} resumed
 * @property {(why: string) => void} runEnded  nothing is paused any more; calls still waiting are cancelled
 * @property {(d: DiagnosticEvent, all: DiagnosticEvent[], file: string) => void} diagnostic  one more of the run's
 * @property {(why: string) => void} sessionEnded  the bridge session is gone, with its sockets and clients
 * @property {() => void} update  whether a program runs changed: buttons follow
 */

/**
 * @param {object} o
 * @param {Runner} o.runner  the runner to start with
 * @param {(runner: Runner, callbacks: EngineCallbacks) => Engine} o.connect  makes an engine
 * @param {{getDoc(): string, breakpoints(): number[]}} o.editor
 * @param {{ready(): boolean, name(): string, save(): void}} o.files  the file in the editor
 * @param {Panels} o.panels
 * @param {import("./frame.js").Frame} o.frame  drawn before every status change
 * @param {(text: string, kind: "system" | "error") => void} o.say  a line in the output
 * @param {object} o.ui
 * @param {HTMLElement} o.ui.status  data-testid="status"
 * @param {HTMLElement} o.ui.detail  beside it: what the status needs said
 * @param {HTMLElement} o.ui.pid  data-testid="pid"
 * @param {HTMLButtonElement} o.ui.stop
 * @param {() => void} [o.onReady]  the status turned `ready` for the first time
 */
export function createRun({ runner: initial, connect, editor, files, panels, frame, say, ui, onReady = () => {} }) {
  let runner = initial;
  /** @type {Engine | null} */
  let engine = null;
  /** The engine takes requests. */
  let started = false;
  /** Programs the engine has run: with the in-page runner, all in one bridge session and trace. */
  let runs = 0;
  /** The engine's bridge session, which a check names. */
  let session = /** @type {string | null} */ (null);
  /** The program that runs, or ran last. */
  let current = /** @type {Program | null} */ (null);
  /** The program Run asked for, until it starts. */
  let queued = /** @type {Program | null} */ (null);
  /** Stop was asked of the host runner; the program's exit follows. */
  let stopping = false;
  /** The current run's diagnostics. */
  let diagnostics = /** @type {DiagnosticEvent[]} */ ([]);
  /** When the last run ended (performance.now()). */
  let runEndedAt = -Infinity;
  let retryTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  /** The last failure to connect told to the learner, so that retries do not repeat it. */
  let lastFailure = "";
  /** @type {Status} */
  let status = "disconnected";
  /** The status has been `ready` (onReady was called). */
  let wasReady = false;

  const running = () => current?.state === "starting" || current?.state === "running";

  // ---- The engine ----

  function open() {
    clearTimeout(retryTimer);
    const eng = connect(runner, {
      onEvents(events) {
        for (const ev of events) {
          if (engine !== eng) break; // an event ended this engine
          onEvent(ev);
        }
      },
      onGone(message, kind) {
        if (engine === eng) gone(message, kind);
      },
    });
    engine = eng;
    started = false;
    runs = 0;
    eng.start().then(
      () => {
        if (engine !== eng) return;
        started = true;
        // For `make bench`: one mark per engine that came up.
        performance.mark("sockstep:started");
        if (lastFailure) say("connected to the bridge", "system");
        lastFailure = "";
        detail("");
        becomeReady();
      },
      (err) => {
        if (engine === eng) gone(describe(err), "disconnect");
      },
    );
  }

  /** Leaves the engine, and with it its bridge session. */
  function leave(/** @type {string} */ why) {
    engine?.close();
    engine = null;
    started = false;
    session = null;
    if (current?.state === "ended") current.state = "stopped"; // its trace went with the session
    panels.sessionEnded(why);
  }

  /**
   * The engine is of no more use: try again with a fresh one, at once after a crash of a
   * connected engine.wasm (the bridge is likely still there), else after RETRY_MS.
   * @param {string} message
   * @param {"crash" | "disconnect"} kind
   */
  function gone(message, kind) {
    const wasStarted = started;
    const wasRunning = running();
    // A crash may be told just after the run it ended (its exit went out first).
    const crashedRun = kind === "crash" && (wasRunning || performance.now() - runEndedAt < CRASH_AFTER_EXIT_MS);
    if (wasRunning) endRun("stopped", "the engine stopped");
    leave("the bridge session ended");
    if (wasRunning || crashedRun) {
      say(crashedRun ? `${message}. The engine has restarted: fix the program and press Run.` : message, "error");
    } else if (message !== lastFailure) {
      say(message, "system");
    }
    if (kind === "crash" && wasStarted) {
      if (crashedRun || wasRunning) setStatus("error");
      else if (status === "ready") setStatus("disconnected");
      open();
    } else {
      lastFailure = message;
      setStatus("disconnected");
      detail("retrying…");
      retryTimer = setTimeout(open, RETRY_MS);
    }
    update();
  }

  /**
   * Status `ready` (after connecting or reconnecting) once the engine is connected and the
   * editor holds the learner's program, so a test that waits for `ready` can edit and Run.
   * A Run pressed meanwhile starts now.
   */
  function becomeReady() {
    if (!started || !files.ready()) return;
    if (status === "disconnected") setStatus("ready");
    if (queued && !running()) startRun();
  }

  /** @param {EngineEvent} ev */
  function onEvent(ev) {
    switch (ev.type) {
      case "paused":
        if (!running()) break;
        setStatus("paused"); // which draws the trace and lanes up to this stop
        panels.paused(ev);
        break;
      case "resumed":
        if (!running()) break;
        setStatus("running");
        panels.resumed();
        break;
      case "diagnostic":
        diagnostics.push(ev);
        panels.diagnostic(ev, diagnostics, current?.file ?? files.name());
        break;
      case "exit":
        exited(ev.error);
        break;
      case "session":
        session = ev.id;
        break;
      case "process":
        if (running()) setPid(ev.pid, ev.name);
        break;
      default:
        panels.show(ev);
    }
  }

  // ---- Run and Stop ----

  /**
   * Runs the editor's program.
   * @param {{debug?: boolean, breakpoints?: number[], fresh?: boolean}} [opts] debug: stop at the
   *   start; fresh: in-page, in a new bridge session, whose trace holds this run only (a check
   *   reads it). A host run is always a fresh process with a fresh trace.
   */
  function run(opts) {
    if (!files.ready()) return; // the editor is still empty; Run is pressed again in a moment
    files.save();
    const { fresh = false, ...options } = opts ?? { breakpoints: editor.breakpoints() };
    if (running()) {
      if (runner === "page") stop(); // with a fresh worker
      else askStop(); // the exit event starts this run
    } else if (fresh && runner === "page" && engine && runs > 0) {
      leave("a check runs in a fresh session");
      open();
    }
    queued = { file: files.name(), source: editor.getDoc(), options, state: "queued" };
    if (started && !running()) {
      startRun();
    } else if (status === "disconnected") {
      say(`the program runs once the engine connects (last try: ${lastFailure || "connecting"})`, "system");
    }
    update();
  }

  function startRun() {
    const p = /** @type {Program} */ (queued);
    const eng = /** @type {Engine} */ (engine);
    queued = null;
    current = p;
    p.state = "starting";
    runs++;
    diagnostics = [];
    stopping = false;
    // The request goes first: the panels' clearing and the status line's draw (a layout of the
    // page, several ms) then overlap the program's start. No event of this run can arrive before
    // this task ends.
    const { debug = false, breakpoints = [] } = p.options;
    const started = eng.request("run", { source: p.source, name: p.file, debug, breakpoints });
    panels.runStarting();
    setStatus("running");
    update();
    started.then(
      ({ pid }) => {
        if (p.state !== "starting") return;
        p.state = "running";
        if (pid) setPid(pid, "");
        if (stopping) sendStop();
      },
      (err) => {
        if (p !== current || !running()) return;
        endRun("stopped", "the program did not start");
        say(`could not run the program: ${describe(err)}`, "error");
        setStatus("error");
        update();
      },
    );
  }

  function stop() {
    if (queued && !running()) {
      queued = null;
      say("run cancelled", "system");
      update();
      return;
    }
    if (!running()) return;
    queued = null;
    if (runner === "host") {
      askStop();
      return;
    }
    // Terminating the worker closes its WebSocket; the bridge then closes every socket of the session.
    endRun("stopped", "stopped");
    leave("Stop ended the session");
    say("stopped", "system");
    setStatus("stopped");
    update();
    open();
  }

  /**
   * Asks the host runner to end the program (SIGTERM, then SIGKILL): its exit event ends the
   * run. The bridge can stop a program once it has started: a Stop right after Run waits for that.
   */
  function askStop() {
    if (stopping) return;
    stopping = true;
    detail("stopping…");
    if (current?.state === "running") sendStop();
  }

  function sendStop() {
    /** @type {Engine} */ (engine).request("stop", {}).catch((err) => {
      if (!stopping) return; // it ended meanwhile
      stopping = false;
      detail("");
      say(`could not stop the program: ${describe(err)}`, "error");
    });
  }

  /** The program ended: error is empty when it ended normally. */
  function exited(/** @type {string} */ error) {
    if (!running()) return;
    const stopped = stopping;
    endRun(stopped ? "stopped" : "ended", "the program ended");
    if (stopped) {
      // A Stop is not an error, whatever signal it took: the exit says which.
      say("stopped", "system");
      if (error) say(`program exited: ${error}`, "system");
      setStatus("stopped");
    } else if (!error) {
      say("program exited", "system");
      setStatus("stopped");
    } else {
      const shown = diagnostics.some((d) => error.includes(d.message));
      say(shown ? "program exited with an error" : `program exited: ${error}`, "error");
      setStatus("error");
    }
    if (queued && started) startRun(); // Run pressed while it ran
    update();
  }

  /** @param {"ended" | "stopped"} state @param {string} why */
  function endRun(state, why) {
    /** @type {Program} */ (current).state = state;
    stopping = false;
    runEndedAt = performance.now();
    setPid(0, "");
    detail("");
    panels.runEnded(why);
  }

  function update() {
    ui.stop.disabled = !running() && !queued;
    panels.update();
  }

  // ---- The status line ----

  /**
   * Every status change first draws what happened before it, so whoever watches the status
   * (the learner, a test) finds the trace and panels complete up to it.
   * @param {Status} s
   */
  function setStatus(s) {
    frame.flush();
    status = s;
    ui.status.textContent = s;
    ui.status.dataset.status = s;
    // For `make bench`: the first mark is the cold start (open → ready).
    if (s === "ready") {
      performance.mark("sockstep:ready");
      if (!wasReady) {
        wasReady = true;
        onReady();
      }
    }
  }

  function detail(/** @type {string} */ text) {
    ui.detail.textContent = text;
  }

  /** The running program's process (the host runner's; 0: none). */
  function setPid(/** @type {number} */ pid, /** @type {string} */ name) {
    ui.pid.textContent = pid ? String(pid) : "";
    if (name) ui.pid.title = `${name}: try ss -tlnp, or strace -f -p ${pid}`;
    /** @type {HTMLElement} */ (ui.pid.parentElement).hidden = !pid;
  }

  return {
    /** Connects the first engine. */
    start() {
      setStatus("disconnected");
      detail("connecting…");
      update();
      open();
    },
    becomeReady,
    run,
    stop,
    running,
    detail,

    /** Switches to another runner: a running program is stopped, and the session ends. */
    setRunner(/** @type {Runner} */ r) {
      if (r === runner) return;
      runner = r;
      if (running()) {
        endRun("stopped", "the runner changed");
        say("stopped", "system");
        setStatus("stopped");
      }
      leave("the runner changed");
      say(r === "host" ? "programs run as processes on this machine from now on" : "programs run in this page from now on", "system");
      if (status === "ready") setStatus("disconnected");
      detail("connecting…");
      open();
      update();
    },

    /**
     * Steers the running program (the debugger's step, pause, setBreakpoints); a refusal (not
     * paused, no program any more) is only worth a note in the console.
     * @template {"step" | "pause" | "setBreakpoints"} M
     * @param {M} method
     * @param {Methods[M]["args"]} args
     */
    control(method, args) {
      if (!running() || !engine) return;
      engine.request(method, args).catch((err) => console.debug(`page: ${method}: ${describe(err)}`));
    },

    /** One of the client panel's operations, on the engine's bridge session. */
    client(/** @type {ClientArgs} */ args) {
      if (!started || !engine) return Promise.reject(new Error("not connected to the bridge"));
      return engine.request("client", args);
    },

    /** The last run's diagnostics (reset when a run starts). */
    diagnostics: () => diagnostics,

    /** What runs (or is queued, or ran last), for Check: see lessons.js. */
    program() {
      const p = queued ?? current;
      return {
        runner,
        file: p?.file ?? "",
        source: p?.source ?? null,
        state: p?.state ?? null,
        running: running(),
        session,
        runsInSession: runs,
      };
    },
  };
}

function describe(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}
