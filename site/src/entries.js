// The workspace's names for the playground, shared programs and the lessons, and progress.json: shared by the
// lessons panel (lessons.js) and boot.js, which reads the entry that was open last before the
// rest of the page is in.

/** The playground's file (the echo server); each lesson's is lessons/<id>/main.go. */
export const PLAYGROUND_FILE = "main.go";
/** Which lessons passed, and which entry was open: {"passed": {"02-binding": true}, "open": "02-binding"}. */
export const PROGRESS_FILE = "progress.json";
/** The entry id of the playground. */
export const PLAYGROUND = "playground";

/** The workspace file of a lesson. */
export const lessonFile = (/** @type {string} */ id) => `lessons/${id}/main.go`;

/** A program opened from a shared link (share.js) is the playground's too: shared/<n>/main.go, entry id shared/<n>. */
export const SHARED = /^shared\/[1-9][0-9]{0,5}$/;

/** The workspace file of an entry: a lesson's id, a shared program's, or PLAYGROUND. */
export const entryFile = (/** @type {string} */ id) =>
  id === PLAYGROUND ? PLAYGROUND_FILE : SHARED.test(id) ? `${id}/main.go` : lessonFile(id);

/** progress.json's text as progress; anything unreadable counts as no progress. */
export function parseProgress(/** @type {string | null} */ text) {
  /** @type {{passed: Record<string, boolean>, open: string}} */
  const p = { passed: {}, open: PLAYGROUND };
  if (!text) return p;
  try {
    const v = JSON.parse(text);
    if (v && typeof v.passed === "object") {
      for (const [id, ok] of Object.entries(v.passed)) if (ok === true) p.passed[id] = true;
    }
    if (typeof v?.open === "string") p.open = v.open;
  } catch {
    // a hand-edited or damaged file: start afresh rather than fail
  }
  return p;
}
