// The file in the editor: opening a workspace file — its saved text, or its
// starting code when it was never saved — and saving the learner's edits,
// 300 ms after the last keystroke, at once on Ctrl+S, and before anything
// reads the workspace (flush). Workspace operations go one at a time, in the
// order asked, so that a load, an export or a flush never overtakes a save.

/**
 * The learner's files (workspace.js).
 * @typedef {object} Workspace
 * @property {(name: string) => Promise<string | null>} load  null: no such file
 * @property {(name: string, source: string) => Promise<void>} save
 * @property {() => Promise<string[]>} names  every file's name, sorted
 * @property {() => Promise<Uint8Array>} exportArchive  the whole workspace as a zip
 * @property {(archive: Uint8Array) => Promise<string[]>} importArchive
 *   writes a zip made by exportArchive; resolves to the names written; changes nothing when it rejects
 */

/** How long after the last keystroke the editor's text is saved. */
const SAVE_DELAY_MS = 300;
/** How long a file may take to load; the editor shows the file's starting code meanwhile, unsaved. */
const LOAD_TIMEOUT_MS = 5000;

/**
 * @param {object} o
 * @param {{getDoc(): string, setDoc(text: string): void, lock(): void, view: import("@codemirror/view").EditorView}} o.editor
 * @param {Promise<Workspace>} o.workspace
 * @param {(text: string, kind: "system" | "error") => void} o.say  a line in the output
 * @param {() => void} o.onOpened  the first file is in the editor
 * @param {(name: string) => void} [o.onSwitch]  the editor shows another file now (the panels follow: scope.js)
 */
export function createFiles({ editor, workspace, say, onOpened, onSwitch = () => {} }) {
  /** The file in the editor: its workspace name, and what it starts with when never saved. */
  let file = { name: "", starter: "" };
  /** The workspace answered for this file: from now on every edit is saved. */
  let loaded = false;
  /** The workspace did not answer in time; the editor shows the file's starter meanwhile, unsaved. */
  let fallback = false;
  /** The learner typed since the file was opened. */
  let edited = false;
  /** The text the workspace last confirmed it saved for this file. */
  let savedText = /** @type {string | null} */ (null);
  /** The text of the last save asked for this file and not done yet. */
  let pendingSave = /** @type {string | null} */ (null);
  let saveTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  let saveErrorShown = false;
  /** Counts open calls, so that an older one's answer does not land in a newer file. */
  let opening = 0;
  /** A file is in the editor (saved text or starter): only then may the program run. */
  let ready = false;
  /** Settles once every workspace operation asked so far has. */
  let done = Promise.resolve();

  /**
   * Runs op on the workspace after every operation asked before it.
   * @template T
   * @param {(ws: Workspace) => Promise<T>} op
   * @returns {Promise<T>}
   */
  function inTurn(op) {
    const p = done.then(() => workspace).then(op);
    done = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  /**
   * Shows a workspace file in the editor: its saved text, or starter when it was never saved.
   * @param {string} name
   * @param {string} starter
   * @param {{save?: boolean}} [opts] save: false when the editor's text must not be saved first
   *   (the workspace has just been replaced by an import)
   */
  async function open(name, starter, opts = {}) {
    if (opts.save !== false) save(); // the file being left
    const token = ++opening;
    file = { name, starter };
    loaded = false;
    fallback = false;
    edited = false;
    savedText = null;
    pendingSave = null;
    editor.lock();
    const loading = inTurn((ws) => ws.load(name));
    try {
      const text = await withTimeout(loading, LOAD_TIMEOUT_MS);
      if (token !== opening) return;
      loaded = true;
      savedText = text;
      editor.setDoc(text ?? starter);
      onSwitch(name);
    } catch (err) {
      if (token !== opening) return;
      fallback = true;
      editor.setDoc(starter);
      onSwitch(name);
      say(`could not open your saved ${name} (${describe(err)}); showing its starting code, and not saving yet`, "system");
      loading.then(
        (text) => {
          if (token === opening && fallback) lateLoad(text);
        },
        () => {}, // it stays unsaved: the learner was told
      );
    }
    if (!ready) {
      ready = true;
      onOpened();
    }
  }

  /** The workspace answered after all: the learner's edits since win, else its text is shown. */
  function lateLoad(/** @type {string | null} */ text) {
    fallback = false;
    loaded = true;
    savedText = text;
    if (edited) {
      save();
    } else {
      editor.setDoc(text ?? file.starter);
      say(`opened your saved ${file.name}`, "system");
    }
  }

  /** Saves the editor's text, if it changed. */
  function save() {
    clearTimeout(saveTimer);
    saveTimer = undefined;
    if (!loaded) return;
    const { name } = file;
    const source = editor.getDoc();
    if (source === savedText || source === pendingSave) return;
    pendingSave = source;
    inTurn((ws) => ws.save(name, source))
      .then(
        () => {
          saveErrorShown = false;
          if (file.name === name) savedText = source;
        },
        (err) => {
          if (!saveErrorShown) say(`could not save your program: ${describe(err)}`, "error");
          saveErrorShown = true;
        },
      )
      .finally(() => {
        if (file.name === name && pendingSave === source) pendingSave = null;
      });
  }

  return {
    open,
    save,
    /** The learner edited the text: it is saved once they pause. */
    edited() {
      edited = true;
      clearTimeout(saveTimer);
      saveTimer = setTimeout(save, SAVE_DELAY_MS);
    },
    /** Resolves once every edit so far, and every workspace operation asked, is done. */
    flush() {
      save();
      return done;
    },
    /** Replaces the editor's text as an edit like the learner's own (Ctrl+Z undoes it), saved at once. */
    replace(/** @type {string} */ text) {
      editor.view.dispatch({ changes: { from: 0, to: editor.view.state.doc.length, insert: text } });
      save();
    },
    name: () => file.name,
    ready: () => ready,

    // The rest of the workspace (lessons.js: progress, Export, Import), in turn with the saves.
    load: (/** @type {string} */ name) => withTimeout(inTurn((ws) => ws.load(name)), LOAD_TIMEOUT_MS),
    write: (/** @type {string} */ name, /** @type {string} */ text) => inTurn((ws) => ws.save(name, text)),
    names: () => inTurn((ws) => ws.names()),
    exportArchive: () => inTurn((ws) => ws.exportArchive()),
    importArchive: (/** @type {Uint8Array} */ archive) => inTurn((ws) => ws.importArchive(archive)),
  };
}

/**
 * @template T
 * @param {Promise<T>} p
 * @param {number} ms
 * @returns {Promise<T>}
 */
function withTimeout(p, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("the workspace did not answer")), ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([p, timeout])).finally(() => clearTimeout(timer));
}

function describe(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}
