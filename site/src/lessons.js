// The lessons panel: the list of lessons and the playground, the open
// lesson's text, Check with its checklist, Reset, the reference solution,
// and the workspace's Export, Import and Download main.go.
//
// The bridge serves the lessons (GET /api/lessons, GET
// /api/lessons/{id}/solution) and checks a running program (POST /api/check,
// a stream of one JSON object per line). The learner's files and progress
// live in the workspace, reached through the host (main.js: files.js).

import { entryFile, lessonFile, parseProgress, PLAYGROUND, PROGRESS_FILE, SHARED } from "./entries.js";

/**
 * A lesson as GET /api/lessons lists it.
 * @typedef {object} Lesson
 * @property {string} id       "02-binding"
 * @property {number} number
 * @property {string} title
 * @property {string} text     markdown
 * @property {string} starter  Go source the lesson starts from
 * @property {number} port     where the lesson's server listens
 */

/**
 * One line of POST /api/check's answer.
 * @typedef {{step: string, ok: boolean, message?: string, reproduce?: string} | {done: true, passed: boolean}} CheckLine
 */

/**
 * What the panel needs from the page (main.js).
 * @typedef {object} Host
 * @property {(name: string, starter: string, opts?: {save?: boolean}) => Promise<void>} openFile
 *   shows a workspace file in the editor, or `starter` when it was never saved
 * @property {(text: string) => void} replaceDoc  replaces the editor's text, as an undoable edit, and saves it
 * @property {() => string} getDoc
 * @property {() => Promise<void>} flush  resolves once every edit so far is saved
 * @property {(name: string) => Promise<string | null>} load  a workspace file; null when there is none
 * @property {(name: string, text: string) => Promise<void>} write  a workspace file
 * @property {() => Promise<string[]>} names  every workspace file's name
 * @property {() => Promise<Uint8Array>} exportArchive  the whole workspace as a zip
 * @property {(archive: Uint8Array) => Promise<string[]>} importArchive  resolves to the names written
 * @property {(opts: {fresh: boolean}) => void} run  runs the editor's program; fresh: in-page, in a new bridge session
 * @property {() => ProgramState} program  what runs, or is queued, or ran last
 * @property {(text: string, kind: "system" | "error") => void} say  a line in the output panel
 */

/**
 * @typedef {object} ProgramState
 * @property {"host" | "page"} runner
 * @property {string} file  its workspace file
 * @property {string | null} source
 * @property {"queued" | "starting" | "running" | "ended" | "stopped" | null} state  run.js: Program
 * @property {boolean} running  started and not ended
 * @property {string | null} session  the bridge session of the engine it runs on
 * @property {number} runsInSession  how many programs that session has run (the in-page runner's)
 */

/** How long Check waits for the learner's program to be running in a session. */
const START_WAIT_MS = 20000;
/** How long a check may take in all, a bound on a stream that never ends. */
const CHECK_TIMEOUT_MS = 120000;
/** The largest archive Import reads (the engine refuses larger ones too: wasm/workspace.MaxArchiveBytes). */
const MAX_ARCHIVE_BYTES = 8 << 20;

const el = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));
const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {Host} host
 * @param {string} playgroundStarter the playground's program when the learner has none
 */
export function createLessons(host, playgroundStarter) {
  const listEl = el("lessons");
  const sharedEl = el("shared");
  const playgroundButton = /** @type {HTMLButtonElement} */ (byId("playground-entry"));
  const lessonEl = byId("lesson");
  const textEl = byId("lesson-text");
  const checklistEl = byId("checklist");
  const checkNote = byId("check-note");
  const checkButton = /** @type {HTMLButtonElement} */ (el("check"));
  const resetButton = /** @type {HTMLButtonElement} */ (el("reset"));
  const solutionButton = /** @type {HTMLButtonElement} */ (el("solution"));
  const exportButton = /** @type {HTMLButtonElement} */ (el("export"));
  const importInput = /** @type {HTMLInputElement} */ (el("import"));
  const downloadButton = /** @type {HTMLButtonElement} */ (byId("download"));
  const fileLabel = byId("file-name");

  /** Counts lesson texts shown, so that a text rendered late does not replace a newer one. */
  let textShown = 0;
  /** Lesson text is drawn once this resolves: after the page is ready, for the first (start). */
  let textWhen = Promise.resolve();

  /** @type {Lesson[]} */
  let lessons = [];
  /** The shared programs' entry ids (shared/1, …), in order. */
  let shared = /** @type {string[]} */ ([]);
  /** @type {{passed: Record<string, boolean>, open: string}} */
  let progress = { passed: {}, open: PLAYGROUND };
  /** progress.json was read (or is new): saving it will not overwrite progress we could not read. */
  let progressLoaded = false;
  /** The open entry: a lesson's id or PLAYGROUND. */
  let openID = PLAYGROUND;
  let checking = false;

  // ---- Progress ----

  async function loadProgress() {
    try {
      progress = parseProgress(await host.load(PROGRESS_FILE));
      progressLoaded = true;
    } catch (err) {
      host.say(`could not read which lessons you passed (${describe(err)}); not saving progress for now`, "system");
    }
  }

  function saveProgress() {
    if (!progressLoaded) return;
    host.write(PROGRESS_FILE, JSON.stringify(progress, null, 2) + "\n").catch((err) => {
      host.say(`could not save your progress: ${describe(err)}`, "error");
    });
  }

  // ---- The list ----

  /** @param {Promise<Response>} asked  GET api/lessons */
  async function fetchLessons(asked) {
    const resp = await asked;
    if (!resp.ok) throw new Error(`${resp.status} ${(await resp.text()).trim() || resp.statusText}`);
    const list = await resp.json();
    if (!Array.isArray(list)) throw new Error("the bridge sent something other than a list of lessons");
    return /** @type {Lesson[]} */ (list).filter((l) => typeof l.id === "string" && typeof l.starter === "string");
  }

  function renderList() {
    listEl.replaceChildren(
      ...lessons.map((l) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "entry";
        b.dataset.lesson = l.id;
        b.dataset.passed = String(Boolean(progress.passed[l.id]));
        const num = document.createElement("span");
        num.className = "entry-number";
        num.textContent = String(l.number);
        const title = document.createElement("span");
        title.className = "entry-title";
        title.textContent = l.title;
        const mark = document.createElement("span");
        mark.className = "entry-mark";
        mark.setAttribute("aria-label", progress.passed[l.id] ? "passed" : "not passed yet");
        mark.textContent = progress.passed[l.id] ? "✓" : "";
        b.append(num, title, mark);
        b.addEventListener("click", () => open(l.id));
        li.append(b);
        return li;
      }),
    );
    markOpen();
  }

  /** Lists the shared programs the workspace holds (shared/<n>/main.go). */
  async function listShared() {
    const names = await host.names();
    shared = names
      .map((n) => /^(shared\/[0-9]+)\/main\.go$/.exec(n)?.[1] ?? "")
      .filter((id) => SHARED.test(id))
      .sort((a, b) => sharedNumber(a) - sharedNumber(b));
    renderShared();
  }

  function renderShared() {
    sharedEl.replaceChildren(
      ...shared.map((id) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "entry";
        b.dataset.entry = id;
        const num = document.createElement("span");
        num.className = "entry-number";
        num.setAttribute("aria-hidden", "true");
        num.textContent = "↗";
        const title = document.createElement("span");
        title.className = "entry-title";
        title.textContent = `Shared program ${sharedNumber(id)}`;
        b.append(num, title);
        b.addEventListener("click", () => open(id));
        li.append(b);
        return li;
      }),
    );
    markOpen();
  }

  /**
   * Writes a shared program as a new file of the playground, and opens it; resolves to its name.
   * @param {string} source
   */
  async function addShared(source) {
    if (checking) throw new Error("a check is running: open the link again when it is done");
    await host.flush();
    await listShared();
    const id = `shared/${Math.max(0, ...shared.map(sharedNumber)) + 1}`;
    await host.write(entryFile(id), source);
    shared.push(id);
    renderShared();
    await open(id);
    return entryFile(id);
  }

  function markOpen() {
    for (const b of sharedEl.querySelectorAll("button[data-entry]")) {
      const here = /** @type {HTMLElement} */ (b).dataset.entry === openID;
      b.classList.toggle("open", here);
      if (here) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    for (const b of listEl.querySelectorAll("button[data-lesson]")) {
      const here = /** @type {HTMLElement} */ (b).dataset.lesson === openID;
      b.classList.toggle("open", here);
      if (here) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    playgroundButton.classList.toggle("open", openID === PLAYGROUND);
    if (openID === PLAYGROUND) playgroundButton.setAttribute("aria-current", "page");
    else playgroundButton.removeAttribute("aria-current");
  }

  // ---- Opening an entry ----

  const lesson = () => lessons.find((l) => l.id === openID) ?? null;
  const currentFile = () => entryFile(openID);
  const currentStarter = () => lesson()?.starter ?? playgroundStarter;

  /**
   * @param {string} id a lesson's id or PLAYGROUND
   * @param {{save?: boolean}} [opts]
   */
  async function open(id, opts) {
    if (checking) return;
    openID = id === PLAYGROUND || SHARED.test(id) || lessons.some((l) => l.id === id) ? id : PLAYGROUND;
    markOpen();
    const l = lesson();
    lessonEl.hidden = !l;
    checklistEl.replaceChildren();
    checkNote.textContent = "";
    showText(l);
    fileLabel.textContent = currentFile();
    fileLabel.title = `The file in the editor: ${currentFile()}`;
    if (progress.open !== openID) {
      progress.open = openID;
      saveProgress();
    }
    await host.openFile(currentFile(), currentStarter(), opts);
  }

  playgroundButton.addEventListener("click", () => open(PLAYGROUND));

  /** Shows a lesson's text (none: the playground), once marked is loaded. */
  function showText(/** @type {Lesson | null} */ l) {
    const token = ++textShown;
    if (!l) {
      textEl.replaceChildren();
      return;
    }
    Promise.all([textWhen, safeMarkdown()]).then(
      ([, markdown]) => {
        if (token !== textShown) return;
        textEl.innerHTML = markdown(l.text);
        // A code block wider than the pane scrolls: reachable from the keyboard.
        for (const pre of textEl.querySelectorAll("pre")) pre.tabIndex = 0;
      },
      (err) => {
        if (token !== textShown) return;
        textEl.textContent = l.text; // as written, rather than nothing
        console.debug("lessons: markdown:", err);
      },
    );
  }

  // ---- Check ----

  checkButton.addEventListener("click", () => check());

  async function check() {
    const l = lesson();
    if (!l || checking) return;
    checking = true;
    checkButton.disabled = true;
    checkButton.setAttribute("aria-busy", "true");
    checklistEl.replaceChildren();
    try {
      const session = await runForCheck(l);
      checkNote.textContent = `checking your server on port ${l.port}…`;
      const passed = await streamCheck(l, session);
      checkNote.textContent = passed ? "passed: every step works" : "not yet: see the steps that failed";
      checkNote.dataset.passed = String(passed);
      if (passed && !progress.passed[l.id]) {
        progress.passed[l.id] = true;
        saveProgress();
        renderList();
      }
    } catch (err) {
      checkNote.textContent = describe(err);
      checkNote.dataset.passed = "false";
    } finally {
      checking = false;
      checkButton.disabled = false;
      checkButton.removeAttribute("aria-busy");
    }
  }

  /**
   * Makes sure the editor's program for this lesson is what the check reads — a learner pressing
   * Check means "check this code" — starting it when it is not; resolves to its bridge session,
   * whose current (or last) run's trace the checker reads. A program that ends by itself (a
   * lesson may ask for that) is checked all the same, by its trace.
   *
   * With the host runner each Run is a fresh process with a fresh trace: the program runs again
   * unless exactly it runs now, or ended by itself since the last Run. With the in-page runner a
   * session's trace holds every run of it: the program runs in a fresh session unless it already
   * runs as the first of its own.
   * @param {Lesson} l
   */
  async function runForCheck(l) {
    await host.flush();
    const file = lessonFile(l.id);
    const source = host.getDoc();
    const p = host.program();
    const same = p.file === file && p.source === source;
    if (p.runner === "host") {
      if (!same || p.state === null || p.state === "stopped") start();
      return started((now) => {
        if (now.file !== file || now.source !== source) return null;
        if (now.state === "stopped") throw new Error("your program stopped before the check could start (see Output)");
        return now.state === "running" || now.state === "ended" ? now.session : null;
      });
    }
    if (p.running && same && p.runsInSession === 1 && p.session) return p.session;
    start();
    return started((now) => (now.runsInSession === 1 && now.source === source ? now.session : null));
  }

  function start() {
    checkNote.textContent = "starting your program…";
    host.run({ fresh: true });
  }

  /**
   * Waits, bounded, until session(program) names the session to check.
   * @param {(now: ProgramState) => string | null} session
   */
  async function started(session) {
    const deadline = Date.now() + START_WAIT_MS;
    for (;;) {
      const id = session(host.program());
      if (id) return id;
      if (Date.now() > deadline) throw new Error("your program did not start within 20 s: is the bridge running? (see Output)");
      await sleep(50);
    }
  }

  /**
   * POST /api/check, showing each step as its line arrives; resolves to whether it passed.
   * @param {Lesson} l
   * @param {string} session
   */
  async function streamCheck(l, session) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), CHECK_TIMEOUT_MS);
    try {
      const resp = await fetch("api/check", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ lesson: l.id, session }),
        signal: ctrl.signal,
      });
      if (!resp.ok || !resp.body) {
        throw new Error(`the check could not run: ${(await resp.text()).trim() || resp.status + " " + resp.statusText}`);
      }
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (value) buffered += value;
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          /** @type {CheckLine} */
          let item;
          try {
            item = JSON.parse(line);
          } catch {
            throw new Error(`the checker sent a line that is not JSON: ${line.slice(0, 200)}`);
          }
          if ("done" in item) return Boolean(item.passed);
          addStep(item);
        }
        if (done) throw new Error("the check ended without a verdict");
      }
    } catch (err) {
      if (ctrl.signal.aborted) throw new Error(`the check took longer than ${CHECK_TIMEOUT_MS / 1000} s and was stopped`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** @param {{step: string, ok: boolean, message?: string, reproduce?: string}} s */
  function addStep(s) {
    const li = document.createElement("li");
    li.dataset.testid = "check-result";
    li.dataset.ok = String(s.ok === true);
    li.className = "step";
    const mark = document.createElement("span");
    mark.className = "step-mark";
    mark.textContent = s.ok ? "✓" : "✗";
    mark.setAttribute("aria-label", s.ok ? "passed" : "failed");
    const name = document.createElement("span");
    name.className = "step-name";
    name.textContent = s.step;
    li.append(mark, name);
    if (s.message && !s.ok) {
      const msg = document.createElement("p");
      msg.className = "step-message";
      msg.textContent = s.message;
      li.append(msg);
    }
    if (s.reproduce && !s.ok) {
      const row = document.createElement("div");
      row.className = "step-reproduce";
      const code = document.createElement("code");
      code.textContent = s.reproduce;
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "btn small";
      copy.textContent = "Copy";
      copy.title = "Copy the command that reproduces this";
      copy.addEventListener("click", () => copyText(s.reproduce ?? "", copy, code));
      row.append("Try it: ", code, copy);
      li.append(row);
    }
    checklistEl.append(li);
  }

  // ---- Reset and the solution ----

  resetButton.addEventListener("click", () => {
    const what = lesson() ? `lesson ${lesson()?.number}` : "the playground";
    if (!confirm(`Reset ${what} to its starting code? Your code for it is replaced (Ctrl+Z in the editor brings it back until you reload).`)) return;
    host.replaceDoc(currentStarter());
    checklistEl.replaceChildren();
    checkNote.textContent = "";
  });

  solutionButton.addEventListener("click", async () => {
    const l = lesson();
    if (!l) return;
    if (!confirm(`Show the reference solution of lesson ${l.number}? It replaces your code in the editor (Ctrl+Z brings yours back). Trying a little longer first teaches more.`)) return;
    try {
      const resp = await fetch(`api/lessons/${encodeURIComponent(l.id)}/solution`, { credentials: "same-origin" });
      if (!resp.ok) throw new Error(`${resp.status} ${(await resp.text()).trim() || resp.statusText}`);
      const { solution } = await resp.json();
      if (typeof solution !== "string") throw new Error("the bridge sent no solution");
      if (openID === l.id) host.replaceDoc(solution);
    } catch (err) {
      host.say(`could not load the solution: ${describe(err)}`, "error");
    }
  });

  // ---- Export, import, download ----

  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    try {
      await host.flush();
      const archive = await host.exportArchive();
      // A view of a plain ArrayBuffer (engine.wasm makes it), never of shared memory.
      download(new Blob([/** @type {BlobPart} */ (archive)], { type: "application/zip" }), `sockstep-workspace-${today()}.zip`);
    } catch (err) {
      host.say(`could not export your workspace: ${describe(err)}`, "error");
    } finally {
      exportButton.disabled = false;
    }
  });

  importInput.addEventListener("change", async () => {
    const chosen = importInput.files?.[0];
    importInput.value = ""; // choosing the same file again fires change again
    if (!chosen) return;
    if (chosen.size > MAX_ARCHIVE_BYTES) {
      host.say(`could not import ${chosen.name}: it is ${chosen.size} bytes, more than a workspace can be (${MAX_ARCHIVE_BYTES}); your workspace is unchanged`, "error");
      return;
    }
    try {
      const archive = new Uint8Array(await chosen.arrayBuffer());
      await host.flush();
      const names = await host.importArchive(archive);
      host.say(`imported ${names.length} file${names.length === 1 ? "" : "s"} from ${chosen.name}`, "system");
      await loadProgress();
      renderList();
      await listShared().catch(() => {});
      await open(openID, { save: false }); // show the imported text, not the editor's
    } catch (err) {
      host.say(`could not import ${chosen.name}: ${describe(err)} (your workspace is unchanged)`, "error");
    }
  });

  downloadButton.addEventListener("click", () => {
    download(new Blob([host.getDoc()], { type: "text/x-go" }), "main.go");
  });

  return {
    addShared,

    /**
     * Reads progress, then opens the entry that was open last: the playground at once, a lesson
     * once the list (its starter) is in. The list and the lesson's text are drawn once afterReady
     * resolves; opening the entry waits for neither.
     * @param {object} [o]
     * @param {Promise<Response>} [o.lessons]  GET api/lessons, when already asked
     * @param {Promise<unknown>} [o.afterReady]
     */
    async start({ lessons: asked = fetch("api/lessons", { credentials: "same-origin" }), afterReady = Promise.resolve() } = {}) {
      textWhen = afterReady.then(() => {});
      await loadProgress();
      // A lesson starts from its starter, which comes with the list; the playground needs none.
      const needed = progress.open !== PLAYGROUND;
      const listing = (needed ? Promise.resolve() : afterReady)
        .then(() => fetchLessons(asked))
        .then((list) => {
          lessons = list.sort((a, b) => a.number - b.number);
        });
      const listed = Promise.allSettled([listing, afterReady]).then(([l]) => {
        if (l.status === "fulfilled") {
          if (lessons.length) renderList();
          return;
        }
        const li = document.createElement("li");
        li.className = "lessons-missing";
        li.textContent = `Lessons are not available: ${describe(l.reason)}`;
        listEl.replaceChildren(li);
      });
      if (needed) await listing.catch(() => {});
      await open(progress.open, { save: false });
      afterReady
        .then(listShared)
        .catch((err) => console.debug("lessons: shared programs:", err));
      await listed;
    },
  };
}

/** shared/3 → 3 */
function sharedNumber(/** @type {string} */ id) {
  return Number(id.slice(id.indexOf("/") + 1));
}

/** @type {Promise<(text: string) => string> | null} */
let markdownLoaded = null;

/**
 * Markdown to HTML for lesson text. The text is ours, but raw HTML in it is
 * shown as text, links go only to http(s) or within the page, and images
 * become their alt text: nothing in a lesson can run script. marked is loaded
 * on first use (a chunk of its own): the playground never needs it.
 */
function safeMarkdown() {
  markdownLoaded ??= import("marked").then(({ Marked }) => markdownWith(Marked));
  markdownLoaded.catch(() => (markdownLoaded = null)); // tried again next time
  return markdownLoaded;
}

/** @param {typeof import("marked").Marked} Marked */
function markdownWith(Marked) {
  const md = new Marked({
    gfm: true,
    renderer: {
      html: ({ text }) => escapeHTML(text),
      link({ href, title, tokens }) {
        const inner = this.parser.parseInline(tokens);
        if (!/^(https?:\/\/|#)/i.test(href)) return inner;
        const t = title ? ` title="${escapeHTML(title)}"` : "";
        const external = href.startsWith("#") ? "" : ' target="_blank" rel="noopener noreferrer"';
        return `<a href="${escapeHTML(href)}"${t}${external}>${inner}</a>`;
      },
      image: ({ text }) => escapeHTML(text),
    },
  });
  return (/** @type {string} */ text) => /** @type {string} */ (md.parse(text, { async: false }));
}

function escapeHTML(/** @type {string} */ s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Offers blob to the learner as a download named name. */
function download(/** @type {Blob} */ blob, /** @type {string} */ name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Copies text; where the clipboard is refused, selects it for Ctrl+C instead. */
async function copyText(/** @type {string} */ text, /** @type {HTMLButtonElement} */ button, /** @type {HTMLElement} */ code) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  } catch {
    const range = document.createRange();
    range.selectNodeContents(code);
    getSelection()?.removeAllRanges();
    getSelection()?.addRange(range);
  }
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

function sleep(/** @type {number} */ ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function describe(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}
