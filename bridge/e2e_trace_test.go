package bridge

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// manyCalls makes ten times more socket calls than the trace panel keeps
// (2,000), as fast as the engine can — a flood, of which the runner sends
// and the page draws only the newest — then prints done.
const manyCalls = `package main

import (
	"fmt"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	for i := 0; i < 20000; i++ {
		if _, err := syscall.Getsockname(fd); err != nil {
			fmt.Println("getsockname:", err)
			return
		}
	}
	syscall.Close(fd)
	fmt.Println("done")
}
`

// TestBrowserTraceKeepsNewestCalls: the page draws the trace once a frame,
// not per call, and under a flood the runner leaves out older calls; what
// the page shows must still be the newest calls, in order, each with its
// result, and every call left out counted (data-skipped on the entry after
// them: "… 1,204 earlier calls").
func TestBrowserTraceKeepsNewestCalls(t *testing.T) {
	tb := newTestBridge(t, func(c *config) { c.policy.CallsPerSecond = 0 })
	ctx := browserPage(t, tb)
	waitStatus(t, ctx, "ready")
	waitEditorOpened(t, ctx)
	setSource(t, ctx, manyCalls)
	click(t, ctx, "run")
	waitStatus(t, ctx, "stopped")
	waitFor(t, ctx, "the program's output", fmt.Sprintf(`document.querySelector('%s').textContent.includes("done")`, testID("output")))

	// The run made 20,002 calls: socket, 20,000 getsockname, close.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const lis = [...document.querySelector('%s').children];
		if (lis.length === 0 || lis.length > 2000) return "entries: " + lis.length;
		const ids = lis.map(li => Number(li.dataset.id));
		for (let i = 1; i < ids.length; i++) {
			if (!(ids[i] > ids[i-1])) return "not in order at " + i + ": " + ids[i-1] + ", " + ids[i];
		}
		let counted = 0;
		for (const li of lis) {
			counted += 1 + Number((li.dataset.skipped ?? "").replace(/[^0-9]/g, "") || 0);
		}
		if (counted !== 20002) return "shown and counted as left out: " + counted;
		const last = lis[lis.length - 1].textContent;
		if (!last.startsWith("close(3) = 0")) return "last entry: " + last;
		const gets = lis.slice(0, -1).filter(li => !li.textContent.startsWith("socket("));
		const bad = gets.find(li => li.dataset.state !== "done" || !li.textContent.startsWith("getsockname(3) = 0"));
		if (bad) return "entry " + bad.dataset.id + ": " + bad.dataset.state + " " + bad.textContent;
		return "";
	})()`, testID("trace"))))
	if err != nil {
		t.Fatalf("read the trace: %v", err)
	}
	if got != "" {
		t.Errorf("trace after 20,002 calls: %s; want the newest, in order, each done, and the rest counted", got)
	}
}
