// The code editor: CodeMirror 6 with Go highlighting, line numbers and lint
// markers for the engine's diagnostics.

import { basicSetup } from "codemirror";
import { EditorView, Decoration, GutterMarker, gutter, keymap, placeholder } from "@codemirror/view";
import { Annotation, EditorState, Compartment, Prec, RangeSet, StateEffect, StateField } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { go } from "@codemirror/lang-go";
import { lintGutter, setDiagnostics } from "@codemirror/lint";

/** @typedef {import("./engine").DiagnosticEvent} DiagnosticEvent */

/** Marks changes the page made (loading a file), which are not the learner's edits. */
const fromPage = Annotation.define();

/**
 * @param {object} opts
 * @param {HTMLElement} opts.parent
 * @param {() => void} opts.onRun     Ctrl/Cmd+Enter
 * @param {() => void} opts.onSave    Ctrl/Cmd+S
 * @param {(source: string) => void} opts.onChange  after every edit by the learner
 * @param {(lines: number[]) => void} [opts.onBreakpoints]  after the breakpoints changed
 */
export function createEditor({ parent, onRun, onSave, onChange, onBreakpoints = () => {} }) {
  const editable = new Compartment();

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: "",
      extensions: [
        Prec.highest(
          keymap.of([
            { key: "Mod-Enter", run: () => (onRun(), true) },
            { key: "Mod-s", run: () => (onSave(), true), preventDefault: true },
          ]),
        ),
        basicSetup,
        keymap.of([indentWithTab]), // Escape, then Tab, still leaves the editor
        go(),
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
        placeholder("Loading your program…"),
        editable.of([EditorState.readOnly.of(true), EditorView.editable.of(false)]),
        EditorView.editorAttributes.of({ "data-testid": "editor" }),
        EditorView.contentAttributes.of({ "aria-label": "Go source code" }),
        EditorView.updateListener.of((u) => {
          if (u.transactions.some((t) => t.effects.some((e) => e.is(toggleBreakpoint)))) {
            onBreakpoints(breakpointLines(u.state));
          }
          if (u.docChanged && !u.transactions.every((t) => t.annotation(fromPage))) {
            onChange(u.state.doc.toString());
          }
        }),
      ],
    }),
  });

  return {
    view,

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
      view.dispatch({
        effects: [
          setCurrentLine.of(valid ? line : null),
          ...(valid ? [EditorView.scrollIntoView(doc.line(line).from, { y: "center" })] : []),
        ],
      });
    },

    /** Replaces the whole text (not counted as an edit) and makes it editable. */
    setDoc(/** @type {string} */ text) {
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: text },
        annotations: fromPage.of(true),
        effects: editable.reconfigure([]),
      });
    },

    /** Makes the editor read-only until the next setDoc (while a file loads). */
    lock() {
      view.dispatch({ effects: editable.reconfigure([EditorState.readOnly.of(true), EditorView.editable.of(false)]) });
    },

    getDoc() {
      return view.state.doc.toString();
    },

    /** Shows the engine's diagnostics as lint markers. */
    showDiagnostics(/** @type {DiagnosticEvent[]} */ diags) {
      const doc = view.state.doc;
      const marks = diags.map((d) => {
        const { from, to } = range(doc, d.line, d.column);
        return {
          from,
          to,
          severity: /** @type {const} */ ("error"),
          source: d.kind === "panic" ? "panic" : "compile",
          message: d.message,
        };
      });
      view.dispatch(setDiagnostics(view.state, marks));
    },

    clearDiagnostics() {
      view.dispatch(setDiagnostics(view.state, []));
    },

    /** Moves the cursor to line:column and focuses the editor. */
    goTo(/** @type {number} */ line, /** @type {number} */ column) {
      const { from } = range(view.state.doc, line, column);
      view.dispatch({ selection: { anchor: from }, scrollIntoView: true });
      view.focus();
    },
  };
}

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

const toggleBreakpoint = StateEffect.define({ map: (pos, mapping) => mapping.mapPos(pos) });

const breakpointMarker = new (class extends GutterMarker {
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

// ---- The line the program is paused at: data-testid="current-line", data-line=N ----

const setCurrentLine = StateEffect.define();

const currentLineField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setCurrentLine)) continue;
      const line = /** @type {number | null} */ (e.value);
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
