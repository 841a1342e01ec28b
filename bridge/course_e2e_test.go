package bridge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/sockstep/sockstep/internal/testnet"
)

// courseCSP is what a course's site might send with the page: the bridge's
// own policy, with connections to the bridge on this computer allowed.
const courseCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"connect-src 'self' http://127.0.0.1:* ws://127.0.0.1:*; worker-src 'self'; base-uri 'none'; form-action 'none'"

// course is a course's own web server: the built page's static files
// (site/dist) under /course/, on 127.0.0.1; the browser knows it by name.
type course struct {
	server       *httptest.Server
	origin, page string // http://NAME:PORT, and the page's address
	mu           sync.Mutex
	seen         []string // every request's URL and Referer
}

func courseSite(t *testing.T, name string) *course {
	t.Helper()
	c := &course{}
	files := http.StripPrefix("/course/", http.FileServer(http.Dir("../site/dist")))
	c.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen = append(c.seen, r.URL.String()+" Referer: "+r.Referer())
		c.mu.Unlock()
		w.Header().Set("Content-Security-Policy", courseCSP)
		w.Header().Set("Cache-Control", "no-store")
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(c.server.Close)
	c.origin = fmt.Sprintf("http://%s:%d", name, c.server.Listener.Addr().(*net.TCPAddr).Port)
	c.page = c.origin + "/course/"
	return c
}

// requests is what the course's server was asked so far.
func (c *course) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

// courseBrowser is headless Chromium that resolves the course sites' names
// to their servers on 127.0.0.1 and takes them for public sites on https —
// as a course on the Internet is — so that Chrome's Local Network Access
// applies to their requests to the bridge.
func courseBrowser(t *testing.T, sites map[string]*httptest.Server) context.Context {
	t.Helper()
	var rules, secure, public []string
	for name, s := range sites {
		addr := s.Listener.Addr().(*net.TCPAddr)
		rules = append(rules, "MAP "+name+" 127.0.0.1")
		secure = append(secure, fmt.Sprintf("http://%s:%d", name, addr.Port))
		public = append(public, fmt.Sprintf("127.0.0.1:%d=public", addr.Port))
	}
	ctx := startBrowser(t, 4*time.Minute,
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")),
		chromedp.Flag("unsafely-treat-insecure-origin-as-secure", strings.Join(secure, ",")),
		chromedp.Flag("ip-address-space-overrides", strings.Join(public, ",")),
	)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// setLocalNetworkAccess answers Chrome's Local Network Access prompt for
// origin ahead of time, under both of the permission's names (one since
// Chrome 145, one before; a browser that knows only one refuses the other).
func setLocalNetworkAccess(t *testing.T, ctx context.Context, origin string, setting browser.PermissionSetting) {
	t.Helper()
	var errs []string
	for _, name := range []string{"loopback-network", "local-network-access"} {
		if _, err := chromedp.Call(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: setting, Origin: origin,
		}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) == 2 {
		t.Fatalf("set Local Network Access to %s for %s: %s", setting, origin, strings.Join(errs, "; "))
	}
}

// goTo opens url in the tab as a new page: by way of about:blank, so that a
// link that differs from the page shown only by its fragment loads anew too.
func goTo(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// evalAwait evaluates a JavaScript expression that yields a string, or a promise of one.
func evalAwait(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, awaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// TestBrowserCoursePage: a course's own site hosts the page; the learner
// runs only the bridge, allowing that site, and opens the link it printed.
// The hosted page reaches the bridge on this computer — its runner over
// /engine, the in-page runner over /ws, the lesson API and a check — with the
// token from the link's fragment, which never reaches the course's server.
// It tells the learner what to do when the browser may not reach this
// computer, when no bridge answers, when the bridge was restarted, and when
// it was opened without the link. A site not allowed is refused as before.
func TestBrowserCoursePage(t *testing.T) {
	allowed, other := courseSite(t, "course.test"), courseSite(t, "other.test")
	courseOrigin, coursePage := allowed.origin, allowed.page
	otherOrigin, otherPage := other.origin, other.page
	tb := newTestBridge(t, func(c *config) {
		origin, page, err := parseCourseOrigin(coursePage)
		if err != nil {
			t.Fatal(err)
		}
		c.allowOrigins, c.coursePages = []string{origin}, []string{page}
	})
	link := tb.courseLinks()[0]
	if want := coursePage + "#bridge=127.0.0.1:" + tb.port + "&token=" + testToken; link != want {
		t.Fatalf("the course's link: %s; want %s", link, want)
	}
	ctx := courseBrowser(t, map[string]*httptest.Server{"course.test": allowed.server, "other.test": other.server})

	// The learner refused Chrome's question whether the site may reach this computer. (Headless,
	// Chromium asks no one, and takes an unanswered question for a refusal: the page's words for a
	// question not answered yet are not tested.)
	setLocalNetworkAccess(t, ctx, courseOrigin, browser.PermissionSettingDenied)
	goTo(t, ctx, link)
	waitOutput(t, ctx, "what to do when the browser may not reach this computer", `does not let this site reach programs on your computer.*Local network access`)
	if got := evalAwait(t, ctx, `location.href`); got != coursePage {
		t.Errorf("the address bar holds %s; want %s (the bridge's address and token taken out)", got, coursePage)
	}
	waitStatus(t, ctx, "disconnected")

	// Allowed, and reloaded: the tab still knows the bridge, without the fragment.
	setLocalNetworkAccess(t, ctx, courseOrigin, browser.PermissionSettingGranted)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ctx, "ready")
	waitEditorOpened(t, ctx)
	runProgram(t, ctx, fineProgram)
	waitOutput(t, ctx, "a run in a runner, from the course's page", "fine again")
	tb.waitLog(t, "runner")

	// The lesson API: the list, a solution, a check (a preflighted POST).
	checkLessonFromCourse(t, ctx, tb, 2)

	// The in-page runner: its worker's WebSocket to /ws.
	switchRunner(t, ctx, "page")
	runProgram(t, ctx, strings.Replace(fineProgram, "fine again", "fine in the page", 1))
	waitOutput(t, ctx, "a run in the page, from the course's page", "fine in the page")
	switchRunner(t, ctx, "host")

	// The token never reached the course's server.
	seen := allowed.requests()
	for _, r := range seen {
		if strings.Contains(r, testToken) || strings.Contains(r, "bridge=") {
			t.Errorf("the course's server saw %s", r)
		}
	}
	if len(seen) == 0 {
		t.Error("the course's server saw no request")
	}

	// A link from an earlier start of the bridge (another token), pasted into the tab.
	stale := strings.Replace(testToken, "0123", "3210", 1)
	evalAwait(t, ctx, fmt.Sprintf(`(window.beforeTheLink = true, location.hash = "bridge=127.0.0.1:%s&token=%s", "")`, tb.port, stale))
	waitReloaded(t, ctx, "beforeTheLink")
	waitOutput(t, ctx, "what to do with a stale link", `does not know this page's token.*Open the link it printed when it started last`)
	waitStatus(t, ctx, "disconnected")

	// A link to a bridge that does not run.
	free := strconv.Itoa(testnet.FreePort(t))
	goTo(t, ctx, coursePage+"#bridge=127.0.0.1:"+free+"&token="+testToken)
	waitOutput(t, ctx, "what to do when no bridge answers", `No answer from the sockstep bridge at 127\.0\.0\.1:`+free+`: is it running\? Start it on this computer with `+"`"+`sockstep --allow-origin `+coursePage+"`")

	// The page without the link, in a new tab (whose session storage is empty).
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	goTo(t, tab, coursePage)
	waitOutput(t, tab, "what to do without the link", "This page runs your programs with sockstep, a small program on your computer. Start it there with `sockstep --allow-origin "+coursePage+"`")
	closeTab()

	// A link to somewhere else than this computer is not followed.
	goTo(t, ctx, coursePage+"#bridge=attacker.example:80&token="+testToken)
	waitOutput(t, ctx, "a link to elsewhere refused", `does not name a sockstep bridge on this computer`)

	// A site not allowed, holding the right link, is refused as before.
	setLocalNetworkAccess(t, ctx, otherOrigin, browser.PermissionSettingGranted)
	goTo(t, ctx, otherPage+"#bridge=127.0.0.1:"+tb.port+"&token="+testToken)
	waitOutput(t, ctx, "what to do on a site not allowed", `A program answers at 127\.0\.0\.1:`+tb.port+`, but it does not let this site in: start sockstep with `+"`"+`sockstep --allow-origin `+otherPage+"`")
	tb.waitLog(t, "refused GET /engine", fmt.Sprintf("Origin %q may not open a session", otherOrigin))
	got := evalAwait(t, ctx, fmt.Sprintf(`(async () => {
		const read = async (url, init) => { try { const r = await fetch(url, init); return String(r.status) } catch { return "refused" } };
		return [await read(%[1]q), await read(%[2]q, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})].join(" ");
	})()`, tb.base+"/api/lessons?token="+testToken, tb.base+"/api/check?token="+testToken))
	if got != "refused refused" {
		t.Errorf("a site not allowed read the lessons and a check's answer: %q; want both refused", got)
	}
	waitStatus(t, ctx, "disconnected")
}

// waitReloaded waits until the page has been loaded again: the window no
// longer has the property marker.
func waitReloaded(t *testing.T, ctx context.Context, marker string) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// Each look on its own: the page it looks at may go away meanwhile.
		again, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`!(%q in window) && document.readyState === "complete"`, marker)))
		if err == nil && again {
			return
		}
		last = err
	}
	t.Fatalf("the page was not loaded again within 30s (%v)", last)
}

// switchRunner picks where programs run, with the page's own select, and
// waits until an engine of that runner has connected (the page marks each).
func switchRunner(t *testing.T, ctx context.Context, runner string) {
	t.Helper()
	before := evalAwait(t, ctx, `String(performance.getEntriesByName("sockstep:started").length)`)
	evalAwait(t, ctx, fmt.Sprintf(`(() => { const s = document.querySelector('%s'); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); return "" })()`, testID("runner"), runner))
	waitFor(t, ctx, "the "+runner+" runner to connect", `performance.getEntriesByName("sockstep:started").length > `+before)
}

// checkLessonFromCourse opens lesson number on the course's page, loads its
// reference solution and checks it: the lesson API's list, a solution and a
// check (a POST that Chrome preflights), all from another origin.
func checkLessonFromCourse(t *testing.T, ctx context.Context, tb *testBridge, number int) {
	t.Helper()
	var lessons []apiLesson
	getJSON(t, tb, "/api/lessons", &lessons)
	var lesson *apiLesson
	for i := range lessons {
		if lessons[i].Number == number {
			lesson = &lessons[i]
		}
	}
	if lesson == nil {
		t.Fatalf("GET /api/lessons lists no lesson %d", number)
	}
	var solution struct{ Solution string }
	getJSON(t, tb, "/api/lessons/"+lesson.ID+"/solution", &solution)
	acceptDialogs(ctx)
	entry := fmt.Sprintf(`%s [data-lesson=%q]`, testID("lessons"), lesson.ID)
	waitFor(t, ctx, "the lesson list", fmt.Sprintf(`document.querySelectorAll('%s [data-lesson]').length === %d`, testID("lessons"), len(lessons)))
	if err := chromedp.Do(ctx, chromedp.Click(entry)); err != nil {
		t.Fatalf("open lesson %s: %v", lesson.ID, err)
	}
	waitSource(t, ctx, "the lesson's starter", lesson.Starter)
	click(t, ctx, "solution")
	waitSource(t, ctx, "the reference solution in the editor", solution.Solution)
	click(t, ctx, "check")
	passed := fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll('%s')];
		return rows.length > 0 && rows.every(r => r.dataset.ok === "true") && document.querySelector('%s').dataset.passed === "true";
	})()`, testID("check-result"), entry)
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](passed, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		report, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#check-note").textContent + "\n" +
			[...document.querySelectorAll('[data-testid="check-result"]')].map(r => r.dataset.ok + ": " + r.innerText).join("\n")`))
		t.Fatalf("waiting for the check to pass: %v\nchecklist: %s\n%s", err, report, pageState(ctx))
	}
	tb.waitLog(t, "check of "+lesson.ID, "passed true")
}
