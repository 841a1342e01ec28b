package bridge

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sockstep/sockstep/internal/testnet"
)

// pressKey sends a key as a person presses it (kb's names: kb.F9).
func pressKey(t *testing.T, ctx context.Context, key string, mods ...chromedp.Modifier) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(key, chromedp.KeyModifiers(mods...))); err != nil {
		t.Fatalf("press %q: %v", key, err)
	}
}

// evalString evaluates a JavaScript expression that yields a string.
func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func TestBrowserStepsThroughAccept(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) { testStepsThroughAccept(t, runner) })
	}
}

func testStepsThroughAccept(t *testing.T, runner string) {
	tb := newTestBridge(t, nil)
	ctx := browserPage(t, tb)
	chooseRunner(t, ctx, runner)
	waitFor(t, ctx, "the echo server in the editor", `window.sockstep.view.state.doc.toString().includes("syscall.Accept(fd)")`)

	port := testnet.FreePort(t)
	src := strings.ReplaceAll(source(t, ctx), "9000", strconv.Itoa(port))
	setSource(t, ctx, src)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	accept := 0
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "syscall.Accept(fd)") {
			accept = i + 1
		}
	}
	if accept == 0 {
		t.Fatal("the echo server has no accept line")
	}

	// The cursor on the accept line, then F9, as a learner would.
	evalString(t, ctx, fmt.Sprintf(`(() => { const v = window.sockstep.view;
		v.dispatch({selection: {anchor: v.state.doc.line(%d).from + 3}}); v.focus(); return "" })()`, accept))
	pressKey(t, ctx, kb.F9)
	waitFor(t, ctx, "a breakpoint marker", `document.querySelectorAll('.cm-breakpoint').length === 1`)

	pressKey(t, ctx, kb.F5) // run
	waitStatus(t, ctx, "paused")
	currentLine := fmt.Sprintf(`document.querySelector('%s')?.dataset.line`, testID("current-line"))
	waitFor(t, ctx, "the accept line highlighted", fmt.Sprintf(`%s === "%d"`, currentLine, accept))

	client, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(30 * time.Second))
	peer := client.LocalAddr().String()

	click(t, ctx, "step")
	waitFor(t, ctx, "the line after accept", fmt.Sprintf(`%s === "%d"`, currentLine, accept+1))
	waitStatus(t, ctx, "paused")
	vars := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s').innerText`, testID("variables")))
	if !strings.Contains(vars, "conn = 4") || !strings.Contains(vars, "peer = "+peer) {
		t.Fatalf("variables view lacks conn = 4 and peer = %s:\n%s", peer, vars)
	}
	if got := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s [data-name="conn"]')?.dataset.changed ?? "no"`, testID("variables"))); got != "true" {
		t.Errorf("conn is not marked changed: %s", got)
	}
	if got := evalString(t, ctx, fmt.Sprintf(`String(document.querySelector('%s').querySelectorAll('[data-lit="true"]').length)`, testID("lanes"))); got != "6" {
		t.Errorf("lit lane steps: %s; want S1–S4, C1 and C3", got)
	}
	if got := evalString(t, ctx, fmt.Sprintf(`document.querySelector('%s .history-label').textContent`, testID("history"))); !strings.HasPrefix(got, "stop 2 of 2") {
		t.Errorf("history: %q", got)
	}

	if path := os.Getenv("SOCKSTEP_SCREENSHOT"); path != "" { // to look at the page as a person would
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(path, png, 0o644)
		}
	}
	pressKey(t, ctx, kb.F9) // the cursor is still on accept: remove the breakpoint
	waitFor(t, ctx, "the breakpoint removed", `document.querySelectorAll('.cm-breakpoint').length === 0`)
	click(t, ctx, "continue")
	waitStatus(t, ctx, "running")
	r := bufio.NewReader(client)
	for _, line := range []string{"hello", "after stepping"} {
		fmt.Fprintf(client, "%s\n", line)
		got, err := r.ReadString('\n')
		if err != nil || got != line+"\n" {
			t.Fatalf("echo: got %q, %v; want %q\n%s", got, err, line, pageState(ctx))
		}
	}
	client.Close()
	checkEcho(t, addr, "the next client")
	click(t, ctx, "stop")
	waitStatus(t, ctx, "stopped")
}
