package bridge

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// apiLesson is what GET /api/lessons says of one lesson.
type apiLesson struct {
	ID      string `json:"id"`
	Number  int    `json:"number"`
	Title   string `json:"title"`
	Starter string `json:"starter"`
	Port    int    `json:"port"`
}

// getJSON fetches a token-protected path of the bridge into v.
func getJSON(t *testing.T, tb *testBridge, path string, v any) {
	t.Helper()
	resp, err := http.Get(tb.base + path + "?token=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// acceptDialogs answers yes to every confirm() the page asks, as a learner
// who means it, and counts them.
func acceptDialogs(ctx context.Context) *atomic.Int32 {
	var n atomic.Int32
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range opening {
			if err != nil {
				return
			}
			n.Add(1)
			// Not from the goroutine that receives the events, which the answer needs.
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return &n
}

// awaitPromise makes Evaluate wait for the promise the expression gives.
func awaitPromise(p *runtime.EvaluateParams) { p.AwaitPromise = &[]bool{true}[0] }

// flush waits until the page has put every edit and progress change in the workspace.
func flush(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sockstep.flush().then(() => true)`, awaitPromise)); err != nil {
		t.Fatalf("flush the workspace: %v", err)
	}
}

// waitSource waits until the editor holds want.
func waitSource(t *testing.T, ctx context.Context, what, want string) {
	t.Helper()
	waitFor(t, ctx, what, fmt.Sprintf(`window.sockstep?.view?.state.doc.toString() === %s`, strconv.Quote(want)))
}

// TestBrowserLessonWorkspace is lesson 2 as a learner lives it: open it,
// load the reference solution, check it with the bridge's checker, reload
// and find code and pass kept, export the workspace, reset, import it back.
func TestBrowserLessonWorkspace(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) { testLessonWorkspace(t, runner) })
	}
}

func testLessonWorkspace(t *testing.T, runner string) {
	tb := newTestBridge(t, nil)
	var lessons []apiLesson
	getJSON(t, tb, "/api/lessons", &lessons)
	var lesson *apiLesson
	for i := range lessons {
		if lessons[i].Number == 2 {
			lesson = &lessons[i]
		}
	}
	if lesson == nil {
		t.Fatalf("GET /api/lessons lists no lesson 2: %+v", lessons)
	}
	var solution struct{ Solution string }
	getJSON(t, tb, "/api/lessons/"+lesson.ID+"/solution", &solution)
	if solution.Solution == "" || solution.Solution == lesson.Starter {
		t.Fatalf("lesson %s: no solution, or the same as the starter", lesson.ID)
	}

	// The lesson's program binds the lesson's own port, as a learner's would.
	if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lesson.Port)); err != nil {
		t.Fatalf("lesson %d binds port %d, which another program on this machine holds: %v", lesson.Number, lesson.Port, err)
	} else {
		ln.Close()
	}

	ctx := browserPage(t, tb)
	dialogs := acceptDialogs(ctx)
	downloads := t.TempDir()
	if _, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	chooseRunner(t, ctx, runner)

	entry := fmt.Sprintf(`%s [data-lesson=%q]`, testID("lessons"), lesson.ID)
	waitFor(t, ctx, "the lesson list", fmt.Sprintf(`document.querySelectorAll('%s [data-lesson]').length === %d && document.querySelector('%s')?.dataset.passed === "false"`,
		testID("lessons"), len(lessons), entry))
	if err := chromedp.Do(ctx, chromedp.Click(entry)); err != nil {
		t.Fatalf("open lesson %s: %v", lesson.ID, err)
	}
	waitSource(t, ctx, "the lesson's starter", lesson.Starter)
	waitFor(t, ctx, "the lesson's text", `document.querySelector("#lesson-text").textContent.trim().length > 0`)

	click(t, ctx, "solution")
	waitSource(t, ctx, "the reference solution in the editor", solution.Solution)
	if n := dialogs.Load(); n != 1 {
		t.Errorf("the solution came after %d confirmations; want 1", n)
	}

	// Check: disabled while it runs, then a checklist with every step passed.
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const b = document.querySelector('%s'); b.click(); return b.disabled })()`, testID("check"))))
	if err != nil || !disabled {
		t.Fatalf("check is not disabled while the check runs: %v, %v", disabled, err)
	}
	passed := fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll('%s')];
		return !document.querySelector('%s').disabled && rows.length > 0 &&
			rows.every(r => r.dataset.ok === "true") && document.querySelector('%s').dataset.passed === "true";
	})()`, testID("check-result"), testID("check"), entry)
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](passed, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		report, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#check-note").textContent + "\n" +
			[...document.querySelectorAll('[data-testid="check-result"]')].map(r => r.dataset.ok + ": " + r.innerText).join("\n")`))
		t.Fatalf("waiting for the check to pass: %v\nchecklist: %s\n%s", err, report, pageState(ctx))
	}
	flush(t, ctx)

	// A reload keeps the code and the pass, and reopens the lesson.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitStatus(t, ctx, "ready")
	waitFor(t, ctx, "the pass after a reload", fmt.Sprintf(`document.querySelector('%s')?.dataset.passed === "true"`, entry))
	waitSource(t, ctx, "the learner's code after a reload", solution.Solution)

	// Export: a real download, a zip holding the lesson's file and the progress.
	click(t, ctx, "export")
	archive := waitDownload(t, downloads, ".zip")
	files := unzip(t, archive)
	if got := files["lessons/"+lesson.ID+"/main.go"]; got != solution.Solution {
		t.Errorf("the export's lessons/%s/main.go:\n%s\nwant the solution", lesson.ID, got)
	}
	if !strings.Contains(files["progress.json"], strconv.Quote(lesson.ID)) {
		t.Errorf("the export's progress.json does not name %s: %q", lesson.ID, files["progress.json"])
	}

	// Download main.go: the lesson's code alone, as a file for go run.
	if err := chromedp.Do(ctx, chromedp.Click("#download")); err != nil {
		t.Fatalf("download main.go: %v", err)
	}
	if b, err := os.ReadFile(waitDownload(t, downloads, "main.go")); err != nil || string(b) != solution.Solution {
		t.Errorf("the downloaded main.go: %v\n%s\nwant the solution", err, b)
	}

	// Reset goes back to the starter, and it is saved.
	click(t, ctx, "reset")
	waitSource(t, ctx, "the starter after Reset", lesson.Starter)
	flush(t, ctx)

	// A file that is not a workspace is refused, and changes nothing.
	bad := filepath.Join(t.TempDir(), "not-a-workspace.zip")
	os.WriteFile(bad, []byte("this is not a zip"), 0o644)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(testID("import"), []string{bad})); err != nil {
		t.Fatalf("import %s: %v", bad, err)
	}
	waitFor(t, ctx, "the refusal of a bad archive", fmt.Sprintf(`document.querySelector('%s').textContent.includes("could not import not-a-workspace.zip")`, testID("output")))
	waitSource(t, ctx, "the starter after a refused import", lesson.Starter)

	// Importing the export brings the code back.
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(testID("import"), []string{archive})); err != nil {
		t.Fatalf("import %s: %v", archive, err)
	}
	waitSource(t, ctx, "the learner's code after Import", solution.Solution)
	waitFor(t, ctx, "the pass after Import", fmt.Sprintf(`document.querySelector('%s')?.dataset.passed === "true"`, entry))
}

// waitDownload waits for a finished download whose name ends in suffix in dir
// and returns its path. (Chromium writes a .crdownload first, then renames it.)
func waitDownload(t *testing.T, dir, suffix string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		names, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
		if len(names) == 1 {
			return names[0]
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	t.Fatalf("no *%s download in %s within 30s (there: %v)", suffix, dir, names)
	return ""
}

// unzip returns every file of a zip archive by name.
func unzip(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s is not a zip: %v", name, err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		text, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = string(text)
	}
	return files
}
