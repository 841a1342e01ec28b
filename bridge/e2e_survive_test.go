package bridge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sockstep/sockstep/internal/testnet"
)

// outputText is what the output panel shows.
func outputText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('%s').textContent`, testID("output"))))
	if err != nil {
		t.Fatalf("read the output: %v", err)
	}
	return s
}

// responsive checks that the page's own thread answers at once while the
// learner's program runs: an evaluation, and an edit in the editor.
func responsive(t *testing.T, ctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const v = window.sockstep.view; v.dispatch({changes: {from: 0, insert: " "}}); v.dispatch({changes: {from: 0, to: 1}}); return 42 })()`))
	if err != nil || got != 42 {
		t.Fatalf("the page does not answer while the program runs: %v", err)
	}
}

// waitEditorOpened waits until the editor shows the program it opens with,
// so that a test's text is not replaced by the workspace's answer.
func waitEditorOpened(t *testing.T, ctx context.Context) {
	t.Helper()
	waitFor(t, ctx, "the editor's first program", `window.sockstep.view.state.doc.toString().includes("syscall.Accept")`)
}

// runProgram puts src in the editor and presses Run.
func runProgram(t *testing.T, ctx context.Context, src string) {
	t.Helper()
	setSource(t, ctx, src)
	click(t, ctx, "run")
}

// waitOutput waits until the output panel matches the regular expression re.
func waitOutput(t *testing.T, ctx context.Context, what, re string) {
	t.Helper()
	waitFor(t, ctx, what, fmt.Sprintf(`new RegExp(%q).test(document.querySelector('%s').textContent)`, re, testID("output")))
}

const fineProgram = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"fine again\")\n}\n"

// TestBrowserSurvivesTheProgram: what a learner's program does to the engine
// never freezes the page; Stop ends a program that never ends; a program
// that kills the engine is explained in words, and the next run works.
func TestBrowserSurvivesTheProgram(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	waitStatus(t, ctx, "ready")
	waitEditorOpened(t, ctx)

	// An endless loop: the page answers, Stop ends it.
	runProgram(t, ctx, "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"spinning\")\n\tfor {\n\t}\n}\n")
	waitStatus(t, ctx, "running")
	waitOutput(t, ctx, "the loop's first words", "spinning")
	responsive(t, ctx)
	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")
	waitOutput(t, ctx, "the word stopped", "\\nstopped\\n")
	runProgram(t, ctx, fineProgram)
	waitOutput(t, ctx, "a run after Stop", "fine again")
	waitStatus(t, ctx, "stopped")

	// Recursion of a reasonable depth is fine.
	runProgram(t, ctx, "package main\n\nimport \"fmt\"\n\nfunc depth(n int) int {\n\tif n == 0 {\n\t\treturn 0\n\t}\n\treturn depth(n-1) + 1\n}\n\nfunc main() {\n\tfmt.Println(\"depth\", depth(1000))\n}\n")
	waitOutput(t, ctx, "recursion 1000 deep", "depth 1000")
	waitStatus(t, ctx, "stopped")

	for _, tc := range []struct {
		name, body string
		said       string // what the output must say, a regular expression
	}{
		{"deep recursion", "func f(n int) int {\n\treturn f(n+1) + 1\n}\n\nfunc main() {\n\tfmt.Println(\"recursing\")\n\tfmt.Println(f(0))\n}\n",
			"your program recursed too deeply"},
		{"huge allocation", "func main() {\n\tfmt.Println(\"allocating\")\n\tvar all [][]byte\n\tfor {\n\t\tall = append(all, make([]byte, 256<<20))\n\t}\n}\n",
			"your program used all the memory"},
		{"panic in a goroutine", "func main() {\n\tfmt.Println(\"starting\")\n\tgo func() {\n\t\tpanic(\"boom in a goroutine\")\n\t}()\n\tselect {}\n}\n",
			"main.go:8:\\d+: panic: [^]*your program panicked in a goroutine: boom in a goroutine"},
		{"impossible allocation", "func main() {\n\tn := 1 << 62\n\tb := make([]byte, n)\n\tfmt.Println(len(b))\n}\n",
			"panic: runtime: allocation size out of range"},
	} {
		runProgram(t, ctx, "package main\n\nimport \"fmt\"\n\n"+tc.body)
		waitOutput(t, ctx, tc.name+": the words for it", tc.said)
		waitStatus(t, ctx, "error")
		responsive(t, ctx)
		out := outputText(t, ctx)
		t.Logf("%s: the output says:\n%s", tc.name, out)
		if len(out) > 2000 {
			t.Errorf("%s: %d characters of output; want a few lines, not the runtime's stack dump", tc.name, len(out))
		}
		runProgram(t, ctx, fineProgram)
		waitOutput(t, ctx, tc.name+": a run after it", "fine again")
		waitStatus(t, ctx, "stopped")
	}
}

// TestBrowserReconnects: when the bridge goes away the page says
// disconnected, and when a bridge is back on the same port with the same
// token, the page is ready again with a fresh session, and runs programs.
func TestBrowserReconnects(t *testing.T) {
	port := testnet.FreePort(t)
	first, stopFirst := bridgeOn(t, port)
	ctx := browserPage(t, first)
	waitStatus(t, ctx, "ready")
	waitEditorOpened(t, ctx)
	stopFirst()
	waitStatus(t, ctx, "disconnected")
	waitOutput(t, ctx, "the page saying the bridge went away", "lost the bridge")

	second, _ := bridgeOn(t, port)
	waitStatus(t, ctx, "ready")
	second.waitLog(t, "session from", "opened")
	runProgram(t, ctx, fineProgram)
	waitOutput(t, ctx, "a run on the new bridge", "fine again")
	waitStatus(t, ctx, "stopped")
}

// bridgeOn serves a bridge on port with the test token; stop shuts it down
// and waits.
func bridgeOn(t *testing.T, port int) (*testBridge, func()) {
	t.Helper()
	cfg, err := parseFlags([]string{"--port", strconv.Itoa(port)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.token = testToken
	logs := &logBuffer{}
	var b *bridge
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err = listen(cfg, logs); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	stop := serveInBackground(t, b)
	return &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port, log: logs}, stop
}

// TestBrowserForeignPageIsRefused: a page of another origin, in the same
// browser that holds the bridge's cookie, tries to open the bridge's
// WebSocket with the token and without it, and to read the bridge's page;
// the bridge refuses, and says so in its log. Both "other origins" are
// tried: another port of 127.0.0.1 (the same site, so the SameSite=Strict
// cookie goes along: the Origin check stops it) and localhost (another site:
// no cookie either).
func TestBrowserForeignPageIsRefused(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb) // sets the cookie
	waitStatus(t, ctx, "ready")

	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>another site</title><p>nothing to see</p>")
	}))
	defer attacker.Close()
	attackerPort := attacker.Listener.Addr().(*net.TCPAddr).Port
	for _, origin := range []string{attacker.URL, fmt.Sprintf("http://localhost:%d", attackerPort)} {
		if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/")); err != nil {
			t.Fatalf("open the other page: %v", err)
		}
		for _, query := range []string{"?token=" + testToken, ""} {
			wsURL := "ws://127.0.0.1:" + tb.port + "/ws" + query
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`new Promise(done => {
				const ws = new WebSocket(%q);
				ws.binaryType = "arraybuffer";
				ws.onopen = () => done("open");
				ws.onmessage = () => done("message");
				ws.onclose = (e) => done("closed " + e.code);
				setTimeout(() => done("no answer"), 10000);
			})`, wsURL), chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("from %s: %v", origin, err)
			}
			if got != "closed 1006" {
				t.Errorf("from %s, WebSocket %s: got %q; want closed 1006 (the handshake refused)", origin, wsURL, got)
			}
			tb.waitLog(t, "refused GET /ws", fmt.Sprintf("Origin %q may not open a session", origin))
		}
		// fetch: a page may send a request, never read the answer.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
			const opaque = await fetch(%q, {mode: "no-cors", credentials: "include"});
			let read = "unread";
			try { await fetch(%q, {credentials: "include"}); read = "read"; } catch (e) { read = "refused"; }
			return opaque.type + " " + opaque.status + " " + (await opaque.text()).length + " " + read;
		})()`, tb.base+"/?token="+testToken, tb.base+"/"), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("fetch from %s: %v", origin, err)
		}
		if got != "opaque 0 0 refused" {
			t.Errorf("fetch of the bridge's page from %s: got %q; want an opaque answer and a refused read", origin, got)
		}
	}
	if n := strings.Count(tb.log.String(), "refused GET /ws"); n != 4 {
		t.Errorf("the bridge logged %d refused WebSockets; want 4:\n%s", n, tb.log)
	}

	// The bridge's own page still works, in the same browser.
	if err := chromedp.Do(ctx, chromedp.Navigate(tb.base+"/")); err != nil { // the cookie alone
		t.Fatal(err)
	}
	waitStatus(t, ctx, "ready")
	waitEditorOpened(t, ctx)
	runProgram(t, ctx, fineProgram)
	waitOutput(t, ctx, "a run on the bridge's own page", "fine again")
}
