// The code editor: CodeMirror 6 with Go highlighting, line numbers and lint
// markers for the engine's diagnostics.

import { basicSetup } from "codemirror";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import { Annotation, EditorState, Compartment, Prec } from "@codemirror/state";
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
 */
export function createEditor({ parent, onRun, onSave, onChange }) {
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
        lintGutter(),
        placeholder("Loading your program…"),
        editable.of([EditorState.readOnly.of(true), EditorView.editable.of(false)]),
        EditorView.editorAttributes.of({ "data-testid": "editor" }),
        EditorView.contentAttributes.of({ "aria-label": "Go source code" }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && !u.transactions.every((t) => t.annotation(fromPage))) {
            onChange(u.state.doc.toString());
          }
        }),
      ],
    }),
  });

  return {
    view,

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
