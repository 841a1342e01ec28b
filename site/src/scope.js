// Whose run the panels show. One program runs at a time, and the panels (variables, goroutines,
// history, the server's steps, output, system calls, the program's sockets) show its run; the
// editor shows whichever file the learner opened. When that is not the run's file, each panel
// hides what it holds (kept, not cleared: going back to the run's file shows it again, and a
// running program's events keep arriving) and says whose run it is instead, and the editor shows
// neither the run's paused line nor its errors. Running the file in the editor makes the panels
// its own again. The clients panel and the clients' sockets are the bridge session's, shared by
// every file: they stay.

import { PLAYGROUND_FILE } from "./entries.js";

/**
 * @param {object} o
 * @param {HTMLElement} o.layout  .layout: data-elsewhere names the run's file while it is not the editor's
 * @param {HTMLElement[]} o.parts  what each panel shows of the run
 * @param {() => {file: string, state: string | null}} o.run  the run's file and state (run.js: Program), null before any
 * @param {() => boolean} o.paused
 * @param {(own: boolean) => void} o.onChange  the panels became the editor's file's, or stopped being
 */
export function createScope({ layout, parts, run, paused, onChange }) {
  /** The file in the editor. */
  let file = "";
  let own = true;
  /** @type {HTMLElement[]} */
  const notes = [];
  for (const part of parts) {
    part.classList.add("run-part");
    const p = document.createElement("p");
    p.className = "elsewhere";
    p.dataset.testid = "elsewhere";
    part.before(p);
    notes.push(p);
  }

  function update() {
    const r = run();
    const theirs = r.state !== null && r.file !== "" && r.file !== file;
    if (theirs) {
      layout.dataset.elsewhere = r.file;
      const who = describe(r.file);
      const text = `The last run is ${who}'s (${stateText(r.state, paused())}), not this file's: open ${who} to see it here, or Run this file.`;
      for (const n of notes) if (n.textContent !== text) n.textContent = text;
    } else {
      delete layout.dataset.elsewhere;
    }
    if (own !== !theirs) {
      own = !theirs;
      onChange(own);
    }
  }

  return {
    /** The editor now shows name. */
    opened(/** @type {string} */ name) {
      file = name;
      update();
    },
    /** The run started, changed state or ended. */
    update,
    /** The panels show the run of the file in the editor (or no run at all). */
    own: () => own,
  };
}

/** "the playground", "lesson 02-binding", "shared program 3" */
export function describe(/** @type {string} */ file) {
  if (file === PLAYGROUND_FILE) return "the playground";
  const lesson = /^lessons\/([^/]+)\/main\.go$/.exec(file);
  if (lesson) return `lesson ${lesson[1]}`;
  const shared = /^shared\/(\d+)\/main\.go$/.exec(file);
  if (shared) return `shared program ${shared[1]}`;
  return file;
}

/** @param {string | null} state @param {boolean} paused */
function stateText(state, paused) {
  if (state === "queued" || state === "starting") return "starting";
  if (state === "running") return paused ? "paused" : "running";
  return "ended";
}
