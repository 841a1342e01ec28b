// The page's theme: light or dark, as `<html data-theme>` says (styles.css holds the colours,
// the editor's included). It follows the system's preference unless the learner chose with the
// toggle; a choice that matches the system is forgotten, so the page follows the system again.
// boot.js imports this first, so the theme is set before the page is first drawn.

/** Where the learner's choice is remembered: "light" or "dark"; absent: the system's. */
export const THEME_KEY = "sockstep.theme";

const system = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;

/** @returns {"light" | "dark" | null} */
function chosen() {
  try {
    const t = localStorage.getItem(THEME_KEY);
    return t === "light" || t === "dark" ? t : null;
  } catch {
    return null; // no storage for this page: the system's
  }
}

/** @returns {"light" | "dark"} */
function systemTheme() {
  return system?.matches ? "dark" : "light";
}

/** Sets `<html data-theme>`: the learner's choice, else the system's. */
export function applyTheme() {
  document.documentElement.dataset.theme = chosen() ?? systemTheme();
}

applyTheme();
system?.addEventListener("change", applyTheme);

/**
 * The toggle (data-testid="theme"): pressed means dark.
 * @param {HTMLButtonElement} button
 */
export function themeToggle(button) {
  const label = /** @type {HTMLElement | null} */ (button.querySelector(".visually-hidden"));
  const show = () => {
    const dark = document.documentElement.dataset.theme === "dark";
    button.setAttribute("aria-pressed", String(dark));
    button.title = dark ? "Dark theme (press for the light one)" : "Light theme (press for the dark one)";
    if (label) label.textContent = "Dark theme";
  };
  button.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    try {
      if (next === systemTheme()) localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, next);
    } catch {
      // not remembered: this page only
    }
    document.documentElement.dataset.theme = next;
    show();
  });
  system?.addEventListener("change", show);
  show();
}
