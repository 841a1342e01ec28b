package bridge

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sockstep/sockstep/internal/testnet"
)

// The page's layout, theme, share links and accessibility (site/src: layout.js, theme.js,
// share.js, scope.js), driven through the hooks README lists, in Debian's Chromium.

// viewport sets the window's size as a learner's screen would be.
func viewport(t *testing.T, ctx context.Context, w, h int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatalf("viewport %dx%d: %v", w, h, err)
	}
}

// evalInt evaluates a JavaScript expression that yields a number.
func evalInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	f, err := chromedp.Run(ctx, chromedp.Evaluate[float64](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return int(f)
}

// shot saves the page as it is drawn, NAME.png in the folder SOCKSTEP_SCREENSHOTS names, if it does.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SOCKSTEP_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

// tabTo presses Tab until the hook id has the focus, as a learner without a mouse would; the
// editor keeps Tab for indenting, so there Escape goes first.
func tabTo(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	for range 150 {
		switch evalString(t, ctx, fmt.Sprintf(`document.activeElement?.matches('%s') ? "here" : document.activeElement?.classList.contains("cm-content") ? "editor" : ""`, testID(id))) {
		case "here":
			return
		case "editor":
			pressKey(t, ctx, kb.Escape)
		}
		pressKey(t, ctx, kb.Tab)
	}
	t.Fatalf("Tab never reaches %s", id)
}

// reload reloads the page and waits until it is ready again.
func reload(t *testing.T, ctx context.Context) {
	t.Helper()
	flush(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitStatus(t, ctx, "ready")
}

// openLesson clicks lesson number n in the list and waits until the editor holds its file.
func openLesson(t *testing.T, ctx context.Context, n int) string {
	t.Helper()
	waitFor(t, ctx, "the lesson list", `document.querySelectorAll('[data-testid="lessons"] [data-lesson]').length > 5`)
	id := evalString(t, ctx, fmt.Sprintf(`[...document.querySelectorAll('[data-lesson]')].find(b => b.querySelector('.entry-number').textContent === "%d")?.dataset.lesson ?? ""`, n))
	if id == "" {
		t.Fatalf("no lesson %d in the list", n)
	}
	if err := chromedp.Do(ctx, chromedp.Click(fmt.Sprintf(`[data-lesson=%q]`, id))); err != nil {
		t.Fatalf("open lesson %d: %v", n, err)
	}
	waitFor(t, ctx, "lesson "+id+" in the editor", fmt.Sprintf(`document.getElementById("file-name").textContent === "lessons/%s/main.go" && !window.sockstep.view.state.readOnly`, id))
	return id
}

// noOverflow fails when the header wraps or anything of it is cut off, or when the page is
// wider than the window.
func noOverflow(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	js := `(() => {
		const bar = document.querySelector(".bar");
		const out = [];
		if (bar.scrollWidth > bar.clientWidth + 1) out.push("the header is cut off: " + bar.scrollWidth + " > " + bar.clientWidth);
		const tops = new Set([...bar.children].filter(c => c.offsetParent).map(c => Math.round(c.getBoundingClientRect().top + c.getBoundingClientRect().height / 2)));
		if ([...tops].some(a => [...tops].some(b => Math.abs(a - b) > 12))) out.push("the header wraps: " + [...tops].join(","));
		if (document.documentElement.scrollWidth > innerWidth + 1) out.push("the page is wider than the window: " + document.documentElement.scrollWidth);
		for (const b of document.querySelectorAll(".btn, .fold, select")) {
			if (b.offsetParent && b.scrollWidth > b.clientWidth + 1) out.push("cut off: " + b.textContent.trim());
		}
		// The workspace's buttons at the end of the lesson list: in the pane, or in a part of it that scrolls.
		const imp = document.querySelector(".file-btn");
		let scroller = imp.parentElement;
		while (scroller.id !== "lessons-pane" && !/auto|scroll/.test(getComputedStyle(scroller).overflowY)) scroller = scroller.parentElement;
		const r = imp.getBoundingClientRect(), pane = document.getElementById("lessons-pane").getBoundingClientRect();
		if (imp.offsetParent && scroller.id === "lessons-pane" && r.bottom > pane.bottom + 1) out.push("Import is cut off at the lessons pane's bottom");
		const ed = document.querySelector(".editor-host").getBoundingClientRect();
		if (ed.width < 400) out.push("the editor is " + ed.width + " px wide");
		return out.join("; ");
	})()`
	if got := evalString(t, ctx, js); got != "" {
		t.Errorf("%s: %s", what, got)
	}
}

// TestBrowserLayoutResize: the panes fit a 1280×720 window with a lesson open (the header on one
// line, the echo example's longest line in view), and at 1024×768; each separator moves with
// the arrow keys, says its size (aria-valuenow), and the sizes are remembered over a reload.
func TestBrowserLayoutResize(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	viewport(t, ctx, 1280, 720)
	waitStatus(t, ctx, "ready")
	shot(t, ctx, "layout-1280")
	noOverflow(t, ctx, "1280×720, the playground")
	// The echo example's longest line fits the editor as it opens.
	if got := evalString(t, ctx, `(() => { const s = window.sockstep.view.scrollDOM; return s.scrollWidth <= s.clientWidth ? "" : s.scrollWidth + " > " + s.clientWidth })()`); got != "" {
		t.Errorf("the echo example is cut off at the right at 1280×720: %s", got)
	}
	openLesson(t, ctx, 4)
	noOverflow(t, ctx, "1280×720, lesson 4 open")
	shot(t, ctx, "layout-1280-lesson")

	value := func(id string) int {
		return evalInt(t, ctx, fmt.Sprintf(`Number(document.querySelector('%s').getAttribute("aria-valuenow"))`, testID(id)))
	}
	type move struct {
		id   string
		key  string
		grow int // how the pane's size changes per press
	}
	sizes := map[string]int{}
	for _, m := range []move{{"resize-lessons", kb.ArrowRight, 16}, {"resize-side", kb.ArrowLeft, 16}, {"resize-debug", kb.ArrowUp, 16}} {
		tabTo(t, ctx, m.id)
		if got := evalString(t, ctx, `document.activeElement.getAttribute("role") + " " + getComputedStyle(document.activeElement).outlineStyle`); got != "separator solid" {
			t.Errorf("%s focused: role and outline %q, want a separator with a visible outline", m.id, got)
		}
		before := value(m.id)
		if before <= 0 {
			t.Fatalf("%s: aria-valuenow %d", m.id, before)
		}
		pressKey(t, ctx, m.key)
		pressKey(t, ctx, m.key)
		after := value(m.id)
		if after-before != 2*m.grow {
			t.Errorf("%s: two presses of %q moved it from %d to %d, want %+d", m.id, m.key, before, after, 2*m.grow)
		}
		sizes[m.id] = after
	}
	noOverflow(t, ctx, "1280×720, resized")

	reload(t, ctx)
	for id, want := range sizes {
		waitFor(t, ctx, id+" remembered", fmt.Sprintf(`Number(document.querySelector('%s').getAttribute("aria-valuenow")) === %d`, testID(id), want))
	}

	viewport(t, ctx, 1024, 768)
	waitFor(t, ctx, "the layout at 1024×768", `document.querySelector(".editor-host").getBoundingClientRect().width > 0`)
	noOverflow(t, ctx, "1024×768")
	if got := evalInt(t, ctx, `document.querySelector(".editor-host").getBoundingClientRect().height`); got < 250 {
		t.Errorf("at 1024×768 the editor is %d px high", got)
	}
	shot(t, ctx, "layout-1024")
}

// TestBrowserLessonsFold: the lesson list folds away to a narrow rail, from the keyboard, and
// stays folded over a reload; unfolding brings it back.
func TestBrowserLessonsFold(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	viewport(t, ctx, 1280, 720)
	waitStatus(t, ctx, "ready")
	waitFor(t, ctx, "the lesson list", `document.querySelectorAll('[data-lesson]').length > 5`)
	editorWidth := func() int {
		return evalInt(t, ctx, `document.querySelector(".editor-host").getBoundingClientRect().width`)
	}
	wide := editorWidth()

	tabTo(t, ctx, "lessons-fold")
	pressKey(t, ctx, kb.Enter)
	waitFor(t, ctx, "the list folded", fmt.Sprintf(`document.querySelector('%s').getAttribute("aria-expanded") === "false" && !document.querySelector('[data-lesson]').offsetParent`, testID("lessons-fold")))
	if w := evalInt(t, ctx, `document.getElementById("lessons-pane").getBoundingClientRect().width`); w > 80 {
		t.Errorf("folded, the lessons pane is still %d px wide", w)
	}
	if got := editorWidth(); got < wide+100 {
		t.Errorf("folding the list gave the editor %d px, was %d", got, wide)
	}
	noOverflow(t, ctx, "folded")
	shot(t, ctx, "folded")

	reload(t, ctx)
	waitFor(t, ctx, "the list still folded", fmt.Sprintf(`document.querySelector('%s').getAttribute("aria-expanded") === "false"`, testID("lessons-fold")))
	click(t, ctx, "lessons-fold")
	waitFor(t, ctx, "the list back", `document.querySelector('[data-lesson]')?.offsetParent != null`)
}

// TestBrowserPanelsFollowFile is the example: the playground paused at a line, then
// lesson 4 opened: no panel shows the playground's run under lesson 4's code, each says whose
// run it is; back in the playground, its run is there again, paused where it was.
func TestBrowserPanelsFollowFile(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	viewport(t, ctx, 1280, 720)
	waitStatus(t, ctx, "ready")
	waitFor(t, ctx, "the echo server in the editor", `window.sockstep.view.state.doc.toString().includes("syscall.Accept(fd)")`)
	port := testnet.FreePort(t)
	setSource(t, ctx, strings.ReplaceAll(source(t, ctx), "9000", strconv.Itoa(port)))

	click(t, ctx, "next-call") // starts paused, then runs to the first socket call
	waitStatus(t, ctx, "paused")
	waitFor(t, ctx, "the run's variables", fmt.Sprintf(`document.querySelector('%s').children.length > 0 && !!document.querySelector('%s')`, testID("variables"), testID("current-line")))
	line := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s').dataset.line`, testID("current-line")))
	stops := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s .history-label').textContent`, testID("history")))

	shown := `(id) => !!document.querySelector('[data-testid="' + id + '"]').offsetParent`
	panels := []string{"variables", "goroutines", "history", "lanes", "output", "trace"}
	panelsJS, _ := json.Marshal(panels)

	openLesson(t, ctx, 4)
	waitFor(t, ctx, "the panels to leave the playground's run", fmt.Sprintf(`(() => { const shown = %s; return %s.every(id => !shown(id)) })()`, shown, panelsJS))
	if n := evalInt(t, ctx, `[...document.querySelectorAll('[data-testid="sockets"] tr')].filter(r => r.offsetParent && !r.dataset.client).length`); n != 0 {
		t.Errorf("lesson 4 open: the sockets panel shows %d of the playground's sockets", n)
	}
	if got := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s') ? "shown" : ""`, testID("current-line"))); got != "" {
		t.Error("lesson 4 open: the editor shows the playground's paused line")
	}
	notes := evalString(t, ctx, `[...document.querySelectorAll('[data-testid="elsewhere"]')].filter(n => n.offsetParent).map(n => n.textContent).join("\n")`)
	if strings.Count(notes, "the playground") < len(panels) || !strings.Contains(notes, "paused") {
		t.Errorf("lesson 4 open: the panels do not say whose run it is:\n%s", notes)
	}
	shot(t, ctx, "panels-elsewhere")

	if err := chromedp.Do(ctx, chromedp.Click("#playground-entry")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the playground's run shown again", fmt.Sprintf(`(() => { const shown = %s; return %s.every(id => shown(id)) })()`, shown, panelsJS))
	waitFor(t, ctx, "the paused line again", fmt.Sprintf(`document.querySelector('%s')?.dataset.line === %q`, testID("current-line"), line))
	if got := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s .history-label').textContent`, testID("history"))); got != stops {
		t.Errorf("back in the playground: its history says %q, was %q", got, stops)
	}

	// Lesson 4 again, and Run: the panels are its own from then on.
	openLesson(t, ctx, 4)
	click(t, ctx, "run")
	waitFor(t, ctx, "lesson 4's run in the panels", fmt.Sprintf(`!document.getElementById("layout").dataset.elsewhere && (%s)("output")`, shown))
	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")
}

// TestBrowserTheme: the page follows the system's dark preference, the toggle switches the
// theme (the editor's colours with it) and is remembered.
func TestBrowserTheme(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	waitStatus(t, ctx, "ready")
	theme := func() string { return evalString(t, ctx, `document.documentElement.dataset.theme ?? ""`) }
	if got := theme(); got != "light" {
		t.Errorf("theme with a light system: %q", got)
	}
	dark := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: dark}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the dark theme, as the system is", `document.documentElement.dataset.theme === "dark"`)
	light := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: light}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "light again", `document.documentElement.dataset.theme === "light"`)

	luminance := func(selector string) int {
		return evalInt(t, ctx, fmt.Sprintf(`(() => { const m = getComputedStyle(document.querySelector(%q)).backgroundColor.match(/\d+/g).map(Number); return (m[0] + m[1] + m[2]) / 3 })()`, selector))
	}
	if l := luminance(".cm-editor"); l < 200 {
		t.Errorf("light theme: the editor's background is dark (%d)", l)
	}
	tabTo(t, ctx, "theme")
	pressKey(t, ctx, kb.Enter)
	waitFor(t, ctx, "the dark theme", fmt.Sprintf(`document.documentElement.dataset.theme === "dark" && document.querySelector('%s').getAttribute("aria-pressed") === "true"`, testID("theme")))
	shot(t, ctx, "dark")
	for _, sel := range []string{"body", ".cm-editor", ".cm-gutters"} {
		if l := luminance(sel); l > 60 {
			t.Errorf("dark theme: %s is light (%d)", sel, l)
		}
	}
	if got := evalString(t, ctx, `getComputedStyle(document.querySelector(".cm-content")).color`); got == "rgb(0, 0, 0)" {
		t.Errorf("dark theme: the editor's text is black")
	}
	reload(t, ctx)
	if got := theme(); got != "dark" {
		t.Errorf("after a reload: %q, want the dark theme chosen", got)
	}
	click(t, ctx, "theme")
	waitFor(t, ctx, "light", `document.documentElement.dataset.theme === "light"`)
}

// TestBrowserShareLink: Share makes a link with the program in its fragment; a fresh browser
// opens it after a confirm, as a new file (the learner's playground untouched), and the fragment
// leaves the address bar. A damaged link changes nothing and says so.
func TestBrowserShareLink(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	waitStatus(t, ctx, "ready")
	program := "package main\n\nimport \"fmt\"\n\n// shared with a friend: ünïcode kept\nfunc main() {\n\tfmt.Println(\"hello from a link\")\n}\n"
	setSource(t, ctx, program)
	click(t, ctx, "share")
	waitFor(t, ctx, "the link", fmt.Sprintf(`(document.querySelector('%s').dataset.link ?? "").includes("#program=")`, testID("share")))
	link := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s').dataset.link`, testID("share")))
	viewport(t, ctx, 1280, 720)
	shot(t, ctx, "share")
	noOverflow(t, ctx, "1280×720, a share link shown")
	if shown := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s')?.value ?? ""`, testID("share-link"))); shown != link {
		t.Errorf("the link shown %q is not the link made %q", shown, link)
	}
	if !strings.HasPrefix(link, strings.SplitN(tb.url(), "?", 2)[0]) || strings.Contains(link, "token") {
		t.Errorf("link %q: not the page's address, or carries the token", link)
	}
	if frag := link[strings.Index(link, "#"):]; strings.Contains(frag, "hello") {
		t.Errorf("the program is not compressed in the link: %s", frag)
	}

	// Another learner: a browser of their own, with a playground program of their own.
	other := browserPage(t, tb)
	dialogs := acceptDialogs(other)
	waitStatus(t, other, "ready")
	mine := "package main\n\nfunc main() { println(\"mine\") }\n"
	setSource(t, other, mine)
	flush(t, other)
	goTo(t, other, link)
	waitFor(t, other, "the shared program in the editor", fmt.Sprintf(`window.sockstep.view.state.doc.toString() === %s`, strconv.Quote(program)))
	if dialogs.Load() != 1 {
		t.Errorf("opening the link asked %d times, want one confirm", dialogs.Load())
	}
	if got := evalString(t, other, `document.getElementById("file-name").textContent`); got != "shared/1/main.go" {
		t.Errorf("the shared program opened as %q, want shared/1/main.go", got)
	}
	waitFor(t, other, "the fragment gone", `location.hash === ""`)
	waitFor(t, other, "the shared program listed", fmt.Sprintf(`document.querySelector('%s [data-entry="shared/1"]')?.getAttribute("aria-current") === "page"`, testID("shared")))
	if err := chromedp.Do(other, chromedp.Click("#playground-entry")); err != nil {
		t.Fatal(err)
	}
	waitSource(t, other, "the learner's own playground, untouched", mine)

	// A damaged link, beside someone else's part of the fragment: refused, nothing changed.
	goTo(t, other, strings.SplitN(tb.url(), "?", 2)[0]+"#other=1&program=AAAA-not!base64")
	waitFor(t, other, "the refusal", `document.getElementById("share-box").dataset.kind === "error" && !document.getElementById("share-box").hidden`)
	if got := evalString(t, other, `document.getElementById("share-box").textContent`); !strings.Contains(got, "damaged") || !strings.Contains(got, "Nothing was changed") {
		t.Errorf("refusal: %q", got)
	}
	if got := evalString(t, other, `location.hash`); got != "#other=1" {
		t.Errorf("after a damaged link the fragment is %q, want someone else's part kept: #other=1", got)
	}
	waitSource(t, other, "the playground still open", mine)
	if n := evalInt(t, other, fmt.Sprintf(`document.querySelectorAll('%s [data-entry]').length`, testID("shared"))); n != 1 || dialogs.Load() != 1 {
		t.Errorf("a damaged link changed something: %d shared programs, %d confirms", n, dialogs.Load())
	}

	// A small link that would unfold into a program larger than any shared one: refused too.
	var big bytes.Buffer
	w, _ := flate.NewWriter(&big, flate.BestCompression)
	fmt.Fprintf(w, "package main\n\nfunc main() {}\n%s", strings.Repeat("// padding\n", 10000))
	w.Close()
	goTo(t, other, strings.SplitN(tb.url(), "?", 2)[0]+"#program="+base64.RawURLEncoding.EncodeToString(big.Bytes()))
	waitFor(t, other, "the refusal of a program too large", `document.getElementById("share-box").textContent.includes("larger than")`)
	waitSource(t, other, "the playground still open", mine)
	if n := evalInt(t, other, fmt.Sprintf(`document.querySelectorAll('%s [data-entry]').length`, testID("shared"))); n != 1 || dialogs.Load() != 1 {
		t.Errorf("an oversized link changed something: %d shared programs, %d confirms", n, dialogs.Load())
	}
}

// keyboardWalk presses Tab through the whole page: every visible control that is enabled is
// reached, and each shows where the focus is (an outline, on it or on the editor's pane).
func keyboardWalk(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	// Tab from the page's start: a stop before everything, focused, then gone.
	evalString(t, ctx, `(() => { const s = document.createElement("span"); s.tabIndex = -1; document.body.prepend(s); s.focus(); window.__walk = []; window.__start = s; return "" })()`)
	pressKey(t, ctx, kb.Tab)
	evalString(t, ctx, `(() => { window.__start.remove(); return "" })()`)
	for range 200 {
		done := evalString(t, ctx, `(() => {
			const a = document.activeElement;
			if (!a || a === document.body) return "end";
			const key = a.dataset.testid || a.id || a.className || a.tagName;
			if (window.__walk.some(w => w.el === a)) return "end";
			const shown = a.classList.contains("cm-content") ? a.closest(".editor-pane") : a;
			window.__walk.push({el: a, key, outline: getComputedStyle(shown).outlineStyle});
			return a.classList.contains("cm-content") ? "editor" : "";
		})()`)
		if done == "end" {
			break
		}
		if done == "editor" {
			pressKey(t, ctx, kb.Escape)
		}
		pressKey(t, ctx, kb.Tab)
	}
	got := evalString(t, ctx, `(() => {
		const reached = new Set(window.__walk.map(w => w.el));
		const out = [];
		for (const w of window.__walk) if (w.outline === "none") out.push("no visible focus on " + w.key);
		for (const c of document.querySelectorAll("button, select, input, [role=separator], [tabindex='0']")) {
			const target = c.matches("input.visually-hidden") ? c.closest("label") : c;
			if (c.disabled || !target.offsetParent || getComputedStyle(target).visibility === "hidden") continue;
			if (!reached.has(c)) out.push("not reached: " + (c.dataset.testid || c.id || c.textContent.trim().slice(0, 30) || c.className));
		}
		return out.join("\n");
	})()`)
	if got != "" {
		t.Errorf("%s, the keyboard: %s", state, got)
	}
}

// axeAudit runs axe-core (site/node_modules) on the page and fails on serious or critical
// violations, naming each with the elements it found.
func axeAudit(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("..", "site", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Skipf("no axe-core (cd site && npm ci): %v", err)
	}
	if evalString(t, ctx, `typeof window.axe`) != "object" {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(script))); err != nil {
			t.Fatalf("load axe-core: %v", err)
		}
	}
	js := `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, awaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe: %v", state, err)
	}
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.Fatalf("%s: axe's answer: %v\n%s", state, err, out)
	}
	for _, v := range violations {
		t.Errorf("%s: %s (%s): %s\n\t%s", state, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
}

// TestBrowserAccessibility: axe-core finds no serious or critical violation in any of the
// page's states, in either theme; the status is announced (a live region).
func TestBrowserAccessibility(t *testing.T) {
	tb := newTestBridge(t, nil)
	var lessons []apiLesson
	getJSON(t, tb, "/api/lessons", &lessons)
	ctx := browserPage(t, tb)
	viewport(t, ctx, 1280, 720)
	waitStatus(t, ctx, "ready")
	if got := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s').getAttribute("aria-live")`, testID("status"))); got != "polite" {
		t.Errorf("the status is not announced: aria-live=%q", got)
	}
	axeAudit(t, ctx, "ready")
	keyboardWalk(t, ctx, "ready")
	click(t, ctx, "theme")
	waitFor(t, ctx, "the dark theme", `document.documentElement.dataset.theme === "dark"`)
	axeAudit(t, ctx, "ready, dark")
	click(t, ctx, "theme")

	port := testnet.FreePort(t)
	setSource(t, ctx, strings.ReplaceAll(source(t, ctx), "9000", strconv.Itoa(port)))
	click(t, ctx, "run")
	waitFor(t, ctx, "the server listening", fmt.Sprintf(`document.querySelector('%s [data-state="LISTEN"]') !== null`, testID("sockets")))
	waitStatus(t, ctx, "running")
	axeAudit(t, ctx, "running")
	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")
	click(t, ctx, "next-call") // starts paused, then runs to the first socket call
	waitStatus(t, ctx, "paused")
	waitFor(t, ctx, "the goroutines", fmt.Sprintf(`document.querySelector('%s button') !== null`, testID("goroutines")))
	axeAudit(t, ctx, "paused")
	click(t, ctx, "theme")
	axeAudit(t, ctx, "paused, dark")
	click(t, ctx, "theme")
	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")

	// A lesson open, and its check failed: the starter of lesson 2 does not bind yet.
	var two apiLesson
	for _, l := range lessons {
		if l.Number == 2 {
			two = l
		}
	}
	openLesson(t, ctx, 2)
	axeAudit(t, ctx, "a lesson open")
	keyboardWalk(t, ctx, "a lesson open")
	waitSource(t, ctx, "lesson 2's starter", two.Starter)
	click(t, ctx, "check")
	waitFor(t, ctx, "the check to fail", `document.getElementById("check-note").dataset.passed === "false"`)
	axeAudit(t, ctx, "a check failed")
	click(t, ctx, "theme")
	axeAudit(t, ctx, "a check failed, dark")
}
