package bridge

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/site"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browserPage opens the bridge's page in headless Chromium. Browser tests are
// skipped on a developer's machine without Chromium or a built page, never
// in CI.
func browserPage(t *testing.T, tb *testBridge) context.Context {
	t.Helper()
	ctx := startBrowser(t, 3*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(tb.url())); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	return ctx
}

// startBrowser starts headless Chromium with opts besides the usual ones,
// for at most timeout, and logs its console when the test fails. It skips
// the test on a developer's machine without Chromium or a built page, never
// in CI.
func startBrowser(t *testing.T, timeout time.Duration, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	_, statErr := os.Stat(chromiumPath)
	switch {
	case statErr == nil && site.Built():
	case os.Getenv("CI") == "true":
		t.Fatalf("browser tests need %s and a built page (make build): %v, built=%v", chromiumPath, statErr, site.Built())
	default:
		t.Skipf("no %s or no built page (make build)", chromiumPath)
	}
	opts = append(append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
	), opts...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })

	var mu sync.Mutex
	var console []string
	chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			console = append(console, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
		case *runtime.EventExceptionThrown:
			text := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				text += " " + e.ExceptionDetails.Exception.Description
			}
			console = append(console, "exception: "+text)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("browser console:\n%s", strings.Join(console, "\n"))
		}
	})
	return ctx
}

// testID is the CSS selector of an automation hook.
func testID(id string) string { return `[data-testid="` + id + `"]` }

// waitFor polls a JavaScript expression until it is true.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("waiting for %s: %v\n%s", what, err, pageState(ctx))
	}
}

// waitStatus waits until the status line reads want.
func waitStatus(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	waitFor(t, ctx, "status "+want, fmt.Sprintf(`document.querySelector('%s')?.textContent.trim() === %q`, testID("status"), want))
}

// pageState describes the page for a failure message.
func pageState(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`["status", "output", "trace"].map(id =>
		id + ": " + (document.querySelector('[data-testid="' + id + '"]')?.innerText ?? "(missing)")).join("\n")`))
	if err != nil {
		return "page state unavailable: " + err.Error()
	}
	return s
}

// setSource replaces the editor's text, through the documented hook.
func setSource(t *testing.T, ctx context.Context, src string) {
	t.Helper()
	// The page opens the saved program (or the example) a moment after it is
	// ready; text set before that would be replaced by it.
	waitFor(t, ctx, "the editor to open a program", `window.sockstep.view.state.doc.length > 0`)
	js := fmt.Sprintf(`(() => { const v = window.sockstep.view; v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: %s}}); return true })()`, strconv.Quote(src))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatalf("set the editor's text: %v", err)
	}
}

func source(t *testing.T, ctx context.Context) string {
	t.Helper()
	waitFor(t, ctx, "the editor to open a program", `window.sockstep.view.state.doc.length > 0`)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.sockstep.view.state.doc.toString()`))
	if err != nil {
		t.Fatalf("read the editor's text: %v", err)
	}
	return s
}

func click(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(testID(id))); err != nil {
		t.Fatalf("click %s: %v", id, err)
	}
}

// checkEcho connects to addr as a client would, retrying while the server
// starts, and checks that each line comes back.
func checkEcho(t *testing.T, addr string, lines ...string) {
	t.Helper()
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if conn, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("connect to the echo server at %s: %v (try: nc %s)", addr, err, strings.Replace(addr, ":", " ", 1))
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for _, line := range lines {
		fmt.Fprintf(conn, "%s\n", line)
		got, err := r.ReadString('\n')
		if err != nil || got != line+"\n" {
			t.Fatalf("echo from %s: got %q, %v; want %q", addr, got, err, line+"\n")
		}
	}
}

// runners are the page's choices of where the program runs: a runner
// process on the host (the default), and engine.wasm in the page. The core
// path (run, trace, step, a lesson check) is tested with each.
var runners = []string{"host", "page"}

// chooseRunner picks where programs run, with the page's own select, and
// waits until the page is ready with it.
func chooseRunner(t *testing.T, ctx context.Context, runner string) {
	t.Helper()
	waitStatus(t, ctx, "ready")
	evalJS := fmt.Sprintf(`(() => { const s = document.querySelector('%s'); if (s.value !== %q) { s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); } return s.value })()`, testID("runner"), runner, runner)
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](evalJS)); err != nil || got != runner {
		t.Fatalf("choose the %s runner: %q, %v", runner, got, err)
	}
	waitStatus(t, ctx, "ready")
}

func TestBrowserRunsEchoServer(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) { testRunsEchoServer(t, runner) })
	}
}

func testRunsEchoServer(t *testing.T, runner string) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	chooseRunner(t, ctx, runner)
	waitEditorOpened(t, ctx)

	// The token has left the address bar, and page script cannot read the
	// cookie that replaced it.
	if leak, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href.includes(`+strconv.Quote(testToken)+`) ? location.href : document.cookie`)); err != nil || leak != "" {
		t.Errorf("token visible to the page after load: %q, %v; want it gone from the URL and the cookie HttpOnly", leak, err)
	}

	src := source(t, ctx)
	if !strings.Contains(src, "Port: 9000") || !strings.Contains(src, "syscall.Accept") {
		t.Fatalf("the editor does not open with the echo server:\n%s", src)
	}
	port := testnet.FreePort(t) // the default 9000 may be taken on a shared machine
	setSource(t, ctx, strings.ReplaceAll(src, "9000", strconv.Itoa(port)))
	addr := "127.0.0.1:" + strconv.Itoa(port)

	click(t, ctx, "run")
	waitStatus(t, ctx, "running")
	checkEcho(t, addr, "hello", "second line")
	checkEchoWithNC(t, strconv.Itoa(port), "and from nc")
	trace := testID("trace")
	waitFor(t, ctx, "the trace of the echo", fmt.Sprintf(`(() => {
		const lines = [...document.querySelector('%s').children].map(e => e.textContent);
		return lines.some(l => l.startsWith("socket(AF_INET, SOCK_STREAM, 0) = 3")) &&
			lines.some(l => l.startsWith("bind(3, %s) = 0")) &&
			lines.some(l => /^accept\(3\) = 4 \(peer 127\.0\.0\.1:\d+\)/.test(l)) &&
			lines.some(l => l.startsWith('read(4, 1024) = 6 "hello\\n"')) &&
			lines.some(l => l.startsWith('write(4, "hello\\n") = 6'));
	})()`, trace, addr))
	waitFor(t, ctx, "the program's output", fmt.Sprintf(`document.querySelector('%s').textContent.includes("listening on")`, testID("output")))

	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")
	if !refusedWithin(mustAddrPort(t, addr), time.Second) {
		t.Fatalf("%s still accepts connections a second after Stop", addr)
	}

	// The page is ready to run again, on the same port.
	click(t, ctx, "run")
	waitStatus(t, ctx, "running")
	checkEcho(t, addr, "again")
	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")
}

func TestBrowserShowsCompileError(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	waitStatus(t, ctx, "ready")
	waitEditorOpened(t, ctx) // or the workspace's answer may replace the text below
	setSource(t, ctx, "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(undefinedThing)\n}\n")
	click(t, ctx, "run")
	waitStatus(t, ctx, "error")
	waitFor(t, ctx, "the error in the output", fmt.Sprintf(`/6:14.*undefinedThing/.test(document.querySelector('%s').textContent)`, testID("output")))
	waitFor(t, ctx, "an error marker in the editor", `document.querySelector('.cm-lintRange-error, .cm-lint-marker-error') !== null`)

	// The page carries on: a correct program runs.
	setSource(t, ctx, "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"fine now\")\n}\n")
	click(t, ctx, "run")
	waitFor(t, ctx, "the fixed program's output", fmt.Sprintf(`document.querySelector('%s').textContent.includes("fine now")`, testID("output")))
	waitStatus(t, ctx, "stopped")
}

// TestEchoRunsNatively keeps the promise that the playground's program is
// ordinary Go: built for the host, it passes the same echo check, with nc
// as the client.
func TestEchoRunsNatively(t *testing.T) {
	src, err := os.ReadFile("../examples/echo/main.go")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(testnet.FreePort(t))
	dir := t.TempDir()
	os.WriteFile(dir+"/go.mod", []byte("module echo\n\ngo 1.26\n"), 0o644)
	os.WriteFile(dir+"/main.go", []byte(strings.ReplaceAll(string(src), "9000", port)), 0o644)
	build := exec.Command("go", "build", "-o", "echo", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	server := exec.Command(dir + "/echo")
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	checkEcho(t, "127.0.0.1:"+port, "native hello")
	checkEchoWithNC(t, port, "from nc")
}

// checkEchoWithNC sends line to the echo server on 127.0.0.1:port with
// netcat, the client README tells learners to use, and checks it comes back.
func checkEchoWithNC(t *testing.T, port, line string) {
	t.Helper()
	nc, err := exec.LookPath("nc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nc is missing (.ci/run installs netcat-openbsd)")
		}
		t.Skip("no nc")
	}
	cmd := exec.Command(nc, "-N", "-w", "5", "127.0.0.1", port) // -N: shut down writing at the end of input
	cmd.Stdin = strings.NewReader(line + "\n")
	out, err := cmd.Output()
	if err != nil || string(out) != line+"\n" {
		t.Errorf("nc 127.0.0.1 %s: got %q, %v; want %q", port, out, err, line+"\n")
	}
}

// TestBrowserClientsAndSockets opens two clients from the client panel
// against the default echo server, which serves one client at a time: the
// second waits in the kernel's accept queue, and the sockets panel shows it
// there, until the first client closes.
func TestBrowserClientsAndSockets(t *testing.T) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	waitStatus(t, ctx, "ready")
	waitFor(t, ctx, "the echo server in the editor", `window.sockstep.view.state.doc.toString().includes("Port: 9000")`)
	port := strconv.Itoa(testnet.FreePort(t))
	setSource(t, ctx, strings.ReplaceAll(source(t, ctx), "9000", port))
	click(t, ctx, "run")
	waitStatus(t, ctx, "running")
	row := func(attrs string) string {
		return fmt.Sprintf(`document.querySelector('%s > tr%s')`, testID("sockets"), attrs)
	}
	waitFor(t, ctx, "the listener in the sockets panel", row(`[data-fd="3"][data-state="LISTEN"][data-local="127.0.0.1:`+port+`"]`)+` !== null`)

	client := func(n int) string { return fmt.Sprintf(`%s[data-client="%d"]`, testID("client"), n) }
	clientPort := func(n int) string {
		t.Helper()
		p, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('%s').dataset.port`, client(n))))
		if err != nil {
			t.Fatalf("client %d's port: %v", n, err)
		}
		return p
	}
	send := func(n int, line string) {
		t.Helper()
		input := client(n) + " " + testID("client-input")
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(input), line)); err != nil {
			t.Fatalf("type in client %d: %v", n, err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(client(n)+" "+testID("client-send")))); err != nil {
			t.Fatalf("send from client %d: %v", n, err)
		}
	}
	output := func(n int, want string) {
		t.Helper()
		waitFor(t, ctx, fmt.Sprintf("%q in client %d's output", want, n), fmt.Sprintf(`document.querySelector('%s %s').textContent.includes(%q)`, client(n), testID("client-output"), want))
	}

	// Two clients, with the address of the learner's listener by default.
	click(t, ctx, "client-new")
	waitFor(t, ctx, "client 1", fmt.Sprintf(`document.querySelector('%s') !== null`, client(1)))
	click(t, ctx, "client-new")
	waitFor(t, ctx, "client 2", fmt.Sprintf(`document.querySelector('%s') !== null`, client(2)))
	p1, p2 := clientPort(1), clientPort(2)
	if nc := `nc 127.0.0.1 ` + port; !strings.Contains(pageText(t, ctx, client(1)), nc) {
		t.Errorf("client 1 does not show %q", nc)
	}

	send(1, "hello")
	output(1, `hello\n`)
	send(2, "second")
	// The server talks to client 1; client 2 is connected all the same,
	// waiting in the accept queue with no descriptor yet.
	waitFor(t, ctx, "the listener, and two ESTABLISHED connections from the clients' ports", fmt.Sprintf(`(() => {
		const l = %s, a = %s, q = %s;
		return l !== null && l.dataset.queue === "1" && a !== null && q !== null;
	})()`, row(`[data-fd="3"][data-state="LISTEN"]`),
		row(`[data-fd="4"][data-state="ESTABLISHED"][data-peer="127.0.0.1:`+p1+`"]`),
		row(`[data-orphan][data-state="ESTABLISHED"][data-peer="127.0.0.1:`+p2+`"]`)))
	screenshot(t, ctx, "clients-queued")

	// Client 1 leaves: the server accepts client 2 and answers it, and client
	// 1's side, which closed first, waits in TIME_WAIT.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(client(1)+" "+testID("client-close")))); err != nil {
		t.Fatalf("close client 1: %v", err)
	}
	output(2, `second\n`)
	waitFor(t, ctx, "client 2 served by fd 4, and client 1's TIME_WAIT", fmt.Sprintf(`%s !== null && %s !== null`,
		row(`[data-fd="4"][data-state="ESTABLISHED"][data-peer="127.0.0.1:`+p2+`"]`),
		row(`[data-orphan][data-state="TIME_WAIT"][data-local="127.0.0.1:`+p1+`"]`)))
	waitFor(t, ctx, "client 1 closed", fmt.Sprintf(`document.querySelector('%s').dataset.state === "closed"`, client(1)))
	screenshot(t, ctx, "clients-time-wait")

	// The client panel's calls are not the learner's: the trace has none.
	if text := pageText(t, ctx, testID("trace")); strings.Contains(text, "client") {
		t.Errorf("the trace shows the client panel's operations:\n%s", text)
	}
	// Stop ends the program's process: the kernel closes its side of client
	// 2's connection. The client panel's clients are the page's session's,
	// not the program's: client 2 stays, told that the server closed.
	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")
	waitFor(t, ctx, "client 2 told the server closed", fmt.Sprintf(`document.querySelector('%s').dataset.state === "eof"`, client(2)))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(client(2)+" "+testID("client-close")))); err != nil {
		t.Fatalf("close client 2: %v", err)
	}
	waitFor(t, ctx, "client 2 closed", fmt.Sprintf(`document.querySelector('%s').dataset.state === "closed"`, client(2)))
}

func pageText(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('%s')?.textContent ?? ""`, selector)))
	if err != nil {
		t.Fatalf("read %s: %v", selector, err)
	}
	return s
}

// screenshot saves the page as NAME.png in the folder SOCKSTEP_SCREENSHOTS
// names, if it does, for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SOCKSTEP_SCREENSHOTS")
	if dir == "" {
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 1000)); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	os.WriteFile(path, png, 0o644)
}

// TestBrowserClosedTabClosesSockets: closing the page's tab ends its session,
// and with it every socket of the learner's program on the host.
func TestBrowserClosedTabClosesSockets(t *testing.T) {
	tb := newTestBridge(t, nil)
	first := browserPage(t, tb)
	waitStatus(t, first, "ready")

	tab, closeTab := chromedp.NewContext(first) // a second tab of the same browser
	defer closeTab()
	if err := chromedp.Do(tab, chromedp.Navigate(tb.url())); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}
	waitStatus(t, tab, "ready")
	waitEditorOpened(t, tab)
	port := testnet.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	setSource(t, tab, strings.ReplaceAll(source(t, tab), "9000", strconv.Itoa(port)))
	click(t, tab, "run")
	waitStatus(t, tab, "running")
	checkEcho(t, addr, "before the tab closes")

	closeTab()
	if !refusedWithin(mustAddrPort(t, addr), time.Second) {
		t.Fatalf("%s still accepts connections a second after its tab closed", addr)
	}
	waitStatus(t, first, "ready") // the other tab is untouched
}
