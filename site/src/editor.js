// The code editor: CodeMirror 6 with Go highlighting, line numbers, lint
// markers for the engine's diagnostics (a run's, and the compile check's while
// the learner types), breakpoints, and Format.

import {
  EditorView,
  Decoration,
  GutterMarker,
  drawSelection,
  gutter,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  showPanel,
} from "@codemirror/view";
import { Annotation, EditorState, Compartment, Prec, RangeSet, StateEffect, StateField } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab, isolateHistory } from "@codemirror/commands";
import { foldGutter, HighlightStyle, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { forEachDiagnostic, lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";

/** @typedef {import("./engine").DiagnosticEvent} DiagnosticEvent */
/** A lint marker, and whether the check while typing set it or a run did. */
/** @typedef {import("@codemirror/lint").Diagnostic & {origin: "check" | "run"}} Mark */

/** Marks changes the page made (loading a file), which are not the learner's edits. */
const fromPage = Annotation.define();

/** How long after the last keystroke the text is checked: a check per pause, not per key. */
const CHECK_DELAY_MS = 400;

/**
 * @param {object} opts
 * @param {HTMLElement} opts.parent
 * @param {string} [opts.doc]  a text the first file likely holds (the playground's starter), shown
 *   hidden until setDoc: when the file holds it indeed, opening it changes nothing in the editor
 * @param {() => void} opts.onRun     Ctrl/Cmd+Enter
 * @param {() => void} opts.onSave    Ctrl/Cmd+S
 * @param {(source: string) => void} opts.onChange  after every edit by the learner
 * @param {(lines: number[]) => void} [opts.onBreakpoints]  after the breakpoints changed
 * @param {(source: string) => Promise<DiagnosticEvent[]>} [opts.check]  compiles without running
 *   (tools.check): its diagnostics are shown while the learner types
 * @param {(source: string) => Promise<string>} [opts.format]  gofmt (tools.format), for format()
 */
export function createEditor({ parent, doc = "", onRun, onSave, onChange, onBreakpoints = () => {}, check, format }) {
  /** What enhance() adds: Go's syntax, completion, search… (editor-later.js). */
  const extras = new Compartment();
  /** Counts changes of the text, so that a check or format answered for an older text is dropped. */
  let version = 0;
  let checkTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        Prec.highest(
          keymap.of([
            { key: "Mod-Enter", run: () => (onRun(), true) },
            { key: "Mod-s", run: () => (onSave(), true), preventDefault: true },
            { key: "Shift-Alt-f", run: () => (formatDoc(), true), preventDefault: true },
          ]),
        ),
        extras.of([]),
        // CodeMirror's basic setup, but for what enhance() adds.
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        foldGutter(),
        drawSelection(),
        EditorState.allowMultipleSelections.of(true),
        syntaxHighlighting(highlightStyle, { fallback: true }),
        highlightActiveLine(),
        // Long lines wrap rather than run off the right edge, whatever width the learner gives the editor.
        EditorView.lineWrapping,
        keymap.of([...defaultKeymap, ...historyKeymap, ...lintKeymap]),
        keymap.of([indentWithTab]), // Escape, then Tab, still leaves the editor
        indentUnit.of("\t"),
        EditorState.tabSize.of(4),
        breakpointField,
        gutter({
          class: "cm-breakpoint-gutter",
          markers: (v) => v.state.field(breakpointField),
          initialSpacer: () => spacerMarker,
          domEventHandlers: {
            mousedown(view, line) {
              toggleAt(view, line.from);
              return true;
            },
          },
        }),
        currentLineField,
        lintGutter(),
        formatErrorField,
        formatErrorTheme,
        lockedField,
        provisionalTheme,
        EditorView.editorAttributes.of({ "data-testid": "editor" }),
        // tabindex: a tab stop even while a file loads (not editable then), so the scrolling code is reachable.
        EditorView.contentAttributes.of({ "aria-label": "Go source code", tabindex: "0" }),
        EditorView.updateListener.of((u) => {
          if (u.transactions.some((t) => t.effects.some((e) => e.is(toggleBreakpoint)))) {
            onBreakpoints(breakpointLines(u.state));
          }
          if (!u.docChanged) return;
          version++;
          scheduleCheck();
          if (!u.transactions.every((t) => t.annotation(fromPage))) onChange(u.state.doc.toString());
        }),
      ],
    }),
  });

  /** Checks the text once the learner pauses (and a file just opened). */
  function scheduleCheck() {
    if (!check) return;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(runCheck, CHECK_DELAY_MS);
  }

  async function runCheck() {
    if (!check) return;
    const asked = version;
    /** @type {DiagnosticEvent[]} */
    let diags;
    try {
      diags = await check(view.state.doc.toString());
    } catch (err) {
      // The editor's tools are down (Run still says what is wrong): what they said before is
      // about an older text.
      console.debug("editor: check:", err);
      if (asked === version) replaceMarks((m) => m.origin === "run", []);
      return;
    }
    if (asked !== version) return; // the text changed since: the next check answers
    const doc = view.state.doc;
    // Whether the text compiles now: this replaces a run's compile errors (older news on the
    // same question), never a run's panic.
    replaceMarks((m) => m.origin === "run" && m.source === "panic", diags.map((d) => mark(doc, d, "check")));
  }

  /**
   * Shows marks in place of every current one that keep() refuses. Current marks are read
   * back from the editor, where they have moved with the edits since they were set; a new
   * mark the same as a kept one (a run's compile error the check found too) is shown once.
   * @param {(m: Mark) => boolean} keep
   * @param {Mark[]} marks
   */
  function replaceMarks(keep, marks) {
    /** @type {Mark[]} */
    const kept = [];
    forEachDiagnostic(view.state, (d, from, to) => {
      const m = /** @type {Mark} */ (d);
      if (keep(m)) kept.push({ ...m, from, to });
    });
    const same = (/** @type {Mark} */ a, /** @type {Mark} */ b) => a.from === b.from && a.message === b.message;
    const fresh = marks.filter((m) => !kept.some((k) => same(k, m)));
    view.dispatch(setDiagnostics(view.state, [...kept, ...fresh]));
  }

  /** Formats the text as gofmt does, as one edit Ctrl+Z undoes. */
  async function formatDoc() {
    if (!format || view.state.readOnly) return;
    const asked = version;
    const source = view.state.doc.toString();
    /** @type {string} */
    let text;
    try {
      text = await format(source);
    } catch (err) {
      view.dispatch({ effects: setFormatError.of(`Format: ${err instanceof Error ? err.message : String(err)}`) });
      return;
    }
    if (asked !== version) return; // the learner typed meanwhile: their text wins
    const { changes, exact } = formatChanges(source, text);
    const selection = exact ? undefined : { anchor: formattedPos(source, text, view.state.selection.main.head) };
    view.dispatch({
      changes,
      selection,
      effects: setFormatError.of(null),
      scrollIntoView: true,
      userEvent: "format",
      annotations: isolateHistory.of("full"), // one step of undo, joined with no typing
    });
  }

  /** Adds Go's syntax and the editing helps the first document did without; once. */
  let enhanced = /** @type {Promise<void> | null} */ (null);
  function enhance() {
    enhanced ??= import("./editor-later.js").then(
      ({ later }) => view.dispatch({ effects: extras.reconfigure(later()) }),
      (err) => {
        enhanced = null; // tried again next time
        throw err;
      },
    );
    return enhanced;
  }

  return {
    view,

    /**
     * Adds Go's syntax (highlighting, folding, indentation) and the rest of CodeMirror's basic
     * setup (completion, closing brackets, search…), fetched on first call: main.js calls it once
     * the page is ready.
     */
    enhance,

    /** Toggles a breakpoint on a 1-based line (the cursor's when absent). */
    toggleBreakpoint(/** @type {number | undefined} */ line) {
      const doc = view.state.doc;
      const pos = line ? doc.line(Math.min(Math.max(1, line), doc.lines)).from : view.state.selection.main.head;
      toggleAt(view, pos);
    },

    /** The 1-based lines that hold a breakpoint. */
    breakpoints() {
      return breakpointLines(view.state);
    },

    /** Highlights the line the program is paused at (null: none), and scrolls to it. */
    setCurrentLine(/** @type {number | null} */ line) {
      const doc = view.state.doc;
      const valid = line !== null && line >= 1 && line <= doc.lines;
      // No line shown, none to show: nothing to do (an update of the view costs a layout).
      if (!valid && view.state.field(currentLineField).size === 0) return;
      view.dispatch({
        effects: [
          setCurrentLine.of(valid ? line : null),
          ...(valid ? [EditorView.scrollIntoView(doc.line(line).from, { y: "center" })] : []),
        ],
      });
    },

    /** Replaces the whole text (not counted as an edit) and makes it editable. */
    setDoc(/** @type {string} */ text) {
      if (text === view.state.doc.toString()) {
        // The text the editor was created with (createEditor's doc): only shown and unlocked,
        // and checked as an opened file is.
        view.dispatch({ effects: setLocked.of(false) });
        scheduleCheck();
      } else {
        view.dispatch({
          changes: { from: 0, to: view.state.doc.length, insert: text },
          annotations: fromPage.of(true),
          effects: setLocked.of(false),
        });
      }
    },

    /** Makes the editor read-only until the next setDoc (while a file loads). */
    lock() {
      if (!view.state.field(lockedField)) view.dispatch({ effects: setLocked.of(true) });
    },

    getDoc() {
      return view.state.doc.toString();
    },

    /** Shows a run's diagnostics as lint markers, in place of the run's earlier ones. */
    showDiagnostics(/** @type {DiagnosticEvent[]} */ diags) {
      const doc = view.state.doc;
      replaceMarks((m) => m.origin === "check", diags.map((d) => mark(doc, d, "run")));
    },

    /** Removes a run's diagnostics (a new run starts); the check's stay. */
    clearDiagnostics() {
      replaceMarks((m) => m.origin === "check", []);
    },

    /**
     * Formats the text as gofmt does (also Shift+Alt+F): one edit, undone by Ctrl+Z, the cursor
     * kept where it was in the code. Text that does not parse is left as it is, and the error shown.
     */
    format: formatDoc,

    /** Moves the cursor to line:column and focuses the editor. */
    goTo(/** @type {number} */ line, /** @type {number} */ column) {
      const { from } = range(view.state.doc, line, column);
      view.dispatch({ selection: { anchor: from }, scrollIntoView: true });
      view.focus();
    },
  };
}

/**
 * A diagnostic as a lint marker.
 * @param {import("@codemirror/state").Text} doc
 * @param {DiagnosticEvent} d
 * @param {Mark["origin"]} origin
 * @returns {Mark}
 */
function mark(doc, d, origin) {
  const { from, to } = range(doc, d.line, d.column);
  return { from, to, severity: "error", source: d.kind === "panic" ? "panic" : "compile", message: d.message, origin };
}

// ---- Format: the changes from a text to its gofmt'd self, and a line for a refusal ----

/**
 * The changes that turn source into formatted, as small as gofmt's work: it mostly changes
 * only white space, so the two texts are walked side by side and only the runs of white space
 * that differ are replaced; the cursor, the breakpoints and the marks then move with the code
 * they were in (exact is true). Past a change that is not white space (imports sorted, a
 * semicolon dropped), the rest up to the common end is replaced in one piece.
 * @param {string} source
 * @param {string} formatted
 * @returns {{changes: {from: number, to: number, insert: string}[], exact: boolean}}
 */
function formatChanges(source, formatted) {
  let end = 0; // the common end's length
  while (end < source.length && end < formatted.length && source[source.length - 1 - end] === formatted[formatted.length - 1 - end]) end++;
  const a = source.slice(0, source.length - end);
  const b = formatted.slice(0, formatted.length - end);
  /** @type {{from: number, to: number, insert: string}[]} */
  const changes = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j] && !isSpace(a[i])) {
      i++;
      j++;
      continue;
    }
    const i0 = i;
    const j0 = j;
    while (i < a.length && isSpace(a[i])) i++;
    while (j < b.length && isSpace(b[j])) j++;
    if (i === i0 && j === j0) {
      changes.push({ from: i, to: a.length, insert: b.slice(j) });
      return { changes, exact: false };
    }
    if (a.slice(i0, i) !== b.slice(j0, j)) changes.push({ from: i0, to: i, insert: b.slice(j0, j) });
  }
  return { changes, exact: true };
}

/**
 * Where the cursor at head in source belongs in formatted, when the changes between them are
 * not all white space: after as many characters of code (not white space) as before it.
 * @param {string} source
 * @param {string} formatted
 * @param {number} head
 */
function formattedPos(source, formatted, head) {
  let code = 0;
  for (let i = 0; i < head; i++) if (!isSpace(source[i])) code++;
  let pos = 0;
  for (; pos < formatted.length && code > 0; pos++) if (!isSpace(formatted[pos])) code--;
  // Before a word in source: before it in formatted too, not at the end of the previous line.
  if (head < source.length && !isSpace(source[head])) while (pos < formatted.length && isSpace(formatted[pos])) pos++;
  return pos;
}

/** @param {string} c */
function isSpace(c) {
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
}

/**
 * CodeMirror's default highlighting, its colours CSS properties (styles.css: --syn-*) that the
 * page's theme sets: the light theme keeps CodeMirror's own colours, the dark one has its own.
 */
const highlightStyle = HighlightStyle.define([
  { tag: tags.meta, color: "var(--syn-meta)" },
  { tag: tags.link, textDecoration: "underline" },
  { tag: tags.heading, textDecoration: "underline", fontWeight: "bold" },
  { tag: tags.emphasis, fontStyle: "italic" },
  { tag: tags.strong, fontWeight: "bold" },
  { tag: tags.strikethrough, textDecoration: "line-through" },
  { tag: tags.keyword, color: "var(--syn-keyword)" },
  { tag: [tags.atom, tags.bool, tags.url, tags.contentSeparator, tags.labelName], color: "var(--syn-atom)" },
  { tag: [tags.literal, tags.inserted], color: "var(--syn-number)" },
  { tag: [tags.string, tags.deleted], color: "var(--syn-string)" },
  { tag: [tags.regexp, tags.escape, tags.special(tags.string)], color: "var(--syn-escape)" },
  { tag: tags.definition(tags.variableName), color: "var(--syn-def)" },
  { tag: tags.local(tags.variableName), color: "var(--syn-def)" },
  { tag: [tags.typeName, tags.namespace], color: "var(--syn-type)" },
  { tag: tags.className, color: "var(--syn-type)" },
  { tag: [tags.special(tags.variableName), tags.macroName], color: "var(--syn-def)" },
  { tag: tags.definition(tags.propertyName), color: "var(--syn-def)" },
  { tag: tags.comment, color: "var(--syn-comment)" },
  { tag: tags.invalid, color: "var(--err)" },
]);

/** @type {import("@codemirror/state").StateEffectType<string | null>} */
const setFormatError = StateEffect.define();

const formatErrorTheme = EditorView.baseTheme({
  ".cm-format-error": {
    padding: "2px 8px",
    color: "var(--err, #b42318)",
    background: "var(--err-bg, #fdf0ef)",
    font: "13px var(--mono, monospace)",
  },
});

/** Why Format left the text as it was, under the editor until the next edit. */
const formatErrorField = StateField.define({
  create: () => /** @type {string | null} */ (null),
  update(message, tr) {
    for (const e of tr.effects) if (e.is(setFormatError)) message = e.value;
    return tr.docChanged ? null : message;
  },
  provide: (f) =>
    showPanel.from(f, (message) =>
      message === null
        ? null
        : () => {
            const dom = document.createElement("div");
            dom.className = "cm-format-error";
            dom.dataset.testid = "format-error";
            dom.setAttribute("role", "alert");
            dom.textContent = message;
            return { dom };
          },
    ),
});

/**
 * The range a diagnostic marks: from line:column (1-based; column 0 means
 * the whole line) to the end of the word there, or the line's end.
 * @param {import("@codemirror/state").Text} doc
 * @param {number} line
 * @param {number} column
 */
function range(doc, line, column) {
  const l = doc.line(Math.min(Math.max(1, line || 1), doc.lines));
  if (!column || column < 1) {
    const indent = /^\s*/.exec(l.text)?.[0].length ?? 0;
    return { from: l.from + indent, to: l.to };
  }
  const from = Math.min(l.from + column - 1, l.to);
  const word = /^[\w.]+/.exec(l.text.slice(from - l.from));
  const to = word ? from + word[0].length : Math.min(from + 1, l.to);
  return { from, to: Math.max(to, from) };
}

// ---- Breakpoints: a gutter of markers that move with the text ----

/** @type {import("@codemirror/state").StateEffectType<number>} */
const toggleBreakpoint = StateEffect.define({ map: (pos, mapping) => mapping.mapPos(pos) });

const breakpointMarker = new (class extends GutterMarker {
  /** @override */
  toDOM() {
    const dot = document.createElement("span");
    dot.className = "cm-breakpoint";
    dot.textContent = "●";
    dot.title = "Breakpoint (F9 or click to remove)";
    return dot;
  }
})();

/** Sizes the gutter; never shown. */
const spacerMarker = new (class extends GutterMarker {
  /** @override */
  toDOM() {
    const dot = document.createElement("span");
    dot.textContent = "●";
    return dot;
  }
})();

const breakpointField = StateField.define({
  create: () => /** @type {RangeSet<GutterMarker>} */ (RangeSet.empty),
  update(set, tr) {
    set = set.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(toggleBreakpoint)) continue;
      let has = false;
      set.between(e.value, e.value, () => {
        has = true;
      });
      set = set.update(has ? { filter: (from) => from !== e.value } : { add: [breakpointMarker.range(e.value)] });
    }
    return set;
  },
});

/** @param {EditorView} view @param {number} pos */
function toggleAt(view, pos) {
  view.dispatch({ effects: toggleBreakpoint.of(view.state.doc.lineAt(pos).from) });
}

/** @param {EditorState} state */
function breakpointLines(state) {
  const lines = new Set();
  const iter = state.field(breakpointField).iter();
  for (; iter.value; iter.next()) lines.add(state.doc.lineAt(iter.from).number);
  return [...lines].sort((a, b) => a - b);
}

// ---- Read-only while a file loads: an effect, not a reconfiguration (which costs far more) ----

/** @type {import("@codemirror/state").StateEffectType<boolean>} */
const setLocked = StateEffect.define();

/**
 * Whether the editor is read-only until a file's text is in (lock, setDoc); it starts so. Until
 * the first file is in, what the editor holds (createEditor's doc) is hidden, and says so.
 */
const lockedField = StateField.define({
  create: () => /** @type {boolean | "first"} */ ("first"),
  update(locked, tr) {
    for (const e of tr.effects) if (e.is(setLocked)) locked = e.value;
    return locked;
  },
  provide: (f) => [
    EditorState.readOnly.from(f, (locked) => locked !== false),
    EditorView.editable.from(f, (locked) => locked === false),
    EditorView.editorAttributes.from(f, (locked) => (locked === "first" ? { class: "cm-first-loading" } : noAttrs)),
  ],
});

/** @type {Record<string, string>} */
const noAttrs = {};

const provisionalTheme = EditorView.baseTheme({
  "&.cm-first-loading .cm-scroller": { visibility: "hidden" },
  "&.cm-first-loading::after": {
    content: '"Loading your program…"',
    position: "absolute",
    top: "4px",
    left: "8px",
    color: "#888",
  },
});

// ---- The line the program is paused at: data-testid="current-line", data-line=N ----

/** @type {import("@codemirror/state").StateEffectType<number | null>} */
const setCurrentLine = StateEffect.define();

const currentLineField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setCurrentLine)) continue;
      const line = e.value;
      if (line === null) {
        deco = Decoration.none;
      } else {
        const from = tr.state.doc.line(line).from;
        deco = Decoration.set([
          Decoration.line({
            attributes: { class: "cm-paused-line", "data-testid": "current-line", "data-line": String(line) },
          }).range(from),
        ]);
      }
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});
