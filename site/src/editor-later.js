// What the editor adds once the page is ready (editor.js: enhance): Go's syntax — highlighting,
// folding, indentation — and the editing helps of CodeMirror's basic setup that the first
// document does without: completion, closing brackets, bracket matching, search, rectangular
// selection. A chunk of its own, so that the page is ready before it is fetched and compiled.

import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { go } from "@codemirror/lang-go";
import { bracketMatching, foldKeymap, indentOnInput } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { crosshairCursor, dropCursor, keymap, rectangularSelection } from "@codemirror/view";

/** The extensions, in basic setup's order; their keys before the editor's others, as there. */
export function later() {
  return [
    go(),
    dropCursor(),
    indentOnInput(),
    bracketMatching(),
    closeBrackets(),
    autocompletion(),
    rectangularSelection(),
    crosshairCursor(),
    highlightSelectionMatches(),
    keymap.of([...closeBracketsKeymap, ...searchKeymap, ...foldKeymap, ...completionKeymap]),
  ];
}
