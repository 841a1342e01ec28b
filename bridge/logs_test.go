package bridge

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native/wire"
)

// rawGet sends a GET of target (written into the request line as it is)
// without the token, and reads the answer's status.
func rawGet(t *testing.T, tb *testBridge, target string) int {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+tb.port)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n", target, tb.port)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("GET %.40s…: %v", target, err)
	}
	code, _ := strconv.Atoi(strings.Fields(line)[1])
	return code
}

// logLines are the lines of the bridge's log so far.
func logLines(tb *testBridge) []string {
	return strings.Split(strings.TrimSuffix(tb.log.String(), "\n"), "\n")
}

// TestLogCannotBeForged: a request without the token, which any web page
// can send, cannot write a line of its own into the bridge's log, nor an
// escape sequence into the terminal that shows it, nor a long line.
func TestLogCannotBeForged(t *testing.T) {
	tb := newTestBridge(t, nil)
	forged := "/x%0Asockstep:%202026/01/01%2000:00:00%20session%20from%20127.0.0.1:1%20opened%0D%1B[2J%1B]0;owned%07%C2%9B31m%E2%80%AEdesrever"
	if code := rawGet(t, tb, forged); code != 403 {
		t.Fatalf("GET without the token: %d; want 403", code)
	}
	long := "/" + strings.Repeat("a", 900<<10)
	if code := rawGet(t, tb, long); code != 403 {
		t.Fatalf("GET of a long path without the token: %d; want 403", code)
	}
	tb.waitLog(t, "refused GET", "missing or wrong token", `\x1b[2J`)
	log := tb.log.String()
	for _, bad := range []string{"\x1b", "\r", "\a", "\u009b", "\u202e"} {
		if strings.Contains(log, bad) {
			t.Errorf("the log holds %q, a control character from the request:\n%q", bad, log)
		}
	}
	lines := logLines(tb)
	for _, l := range lines {
		if strings.HasPrefix(l, "sockstep: 2026/01/01") || !strings.HasPrefix(l, "sockstep: ") {
			t.Errorf("a line the request wrote: %q", l)
		}
		if len(l) > maxLogLine+64 {
			t.Errorf("a line of %d bytes; want at most about %d", len(l), maxLogLine)
		}
	}
	tb.waitLog(t, "refused GET", "/aaaa")
	if n := len(logLines(tb)); n != 2 {
		t.Errorf("two refused requests wrote %d lines; want 2:\n%s", n, tb.log)
	}
}

// accounted counts the lines of the log that mention what: those written,
// and those left out as the summaries count them.
func accounted(tb *testBridge, what string) (written, summarized int) {
	re := regexp.MustCompile(`… ([0-9,]+) more `)
	for _, l := range logLines(tb) {
		if !strings.Contains(l, what) {
			continue
		}
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
			summarized += n
		} else {
			written++
		}
	}
	return written, summarized
}

// waitAccounted waits until every one of want lines mentioning what is
// either in the log or counted by a summary, and fails the test otherwise.
func waitAccounted(t *testing.T, tb *testBridge, what string, want int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		written, summarized := accounted(tb, what)
		if written+summarized == want {
			if summarized == 0 {
				t.Errorf("%d lines mentioning %q: none left out; want most of them summarised", want, what)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines mentioning %q: %d written, %d summarised; want %d in all. The log:\n%s", what, written, summarized, want, tb.log)
		}
	}
}

// TestLogFloodIsSummarised: refusals a page can cause as fast as it likes —
// requests without the token, with a huge path; records the bridge cannot
// accept; calls the policy refuses; calls over --max-pending-calls — each
// write a few lines, then one a second that counts the rest.
func TestLogFloodIsSummarised(t *testing.T) {
	tb := newTestBridge(t, nil)

	const requests = 100
	long := "/" + strings.Repeat("b", 900<<10)
	for range requests {
		rawGet(t, tb, long)
	}
	if size := len(tb.log.String()); size > 64<<10 {
		t.Errorf("%d refused requests wrote %d bytes of log; want at most 64 KiB", requests, size)
	}
	waitAccounted(t, tb, "missing or wrong token", requests)

	ws := dialSession(t, tb)
	var answers atomic.Int64 // results and problems
	go func() {              // read what the bridge answers, as a page does
		for {
			_, f, err := ws.ReadMessage()
			if err != nil {
				return
			}
			records, _ := wire.DecodeFrame(f)
			for _, rec := range records {
				if rec.Result != nil || rec.Problem != nil {
					answers.Add(1)
				}
			}
		}
	}()
	// answered waits until n answers have come, so that every call of a
	// frame meets the policy, not the pending cap.
	answered := func(n int64) {
		for deadline := time.Now().Add(10 * time.Second); answers.Load() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d answers; want %d", answers.Load(), n)
			}
		}
	}
	frame := func(calls ...wire.Call) []byte {
		var f []byte
		for _, c := range calls {
			f, _ = wire.AppendRecord(f, wire.Record{Call: &c})
		}
		return f
	}
	write := func(f []byte) {
		if err := ws.WriteMessage(websocket.BinaryMessage, f); err != nil {
			t.Fatal(err)
		}
	}
	write(frame(wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}))
	answered(1)

	// Records the bridge cannot accept, and calls the policy refuses.
	const frames, perFrame = 40, 50
	result, _ := wire.EncodeFrame(wire.Record{Result: &wire.Result{ID: 1}})
	var bad []byte
	var refused []wire.Call
	for i := range perFrame {
		bad = append(bad, result...) // the page may only send calls
		refused = append(refused, wire.Call{ID: uint64(100 + i), Op: wire.OpBind, FD: 3, Addr: netip.MustParseAddrPort("0.0.0.0:9999")})
	}
	before := len(logLines(tb))
	for i := range frames {
		write(bad)
		write(frame(refused...))
		answered(int64(1 + 2*perFrame*(i+1)))
	}
	waitAccounted(t, tb, "the page may only send calls", frames*perFrame)
	waitAccounted(t, tb, "loopback-only", frames*perFrame)

	// Calls over --max-pending-calls: the first 256 accepts block.
	write(frame(wire.Call{ID: 2, Op: wire.OpBind, FD: 3, Addr: netip.MustParseAddrPort("127.0.0.1:0")}))
	answered(int64(2 + 2*perFrame*frames))
	write(frame(wire.Call{ID: 3, Op: wire.OpListen, FD: 3, Value: 1}))
	answered(int64(3 + 2*perFrame*frames))
	var accepts []wire.Call
	for i := range 300 {
		accepts = append(accepts, wire.Call{ID: uint64(1000 + i), Op: wire.OpAccept, FD: 3})
	}
	for range 10 {
		write(frame(accepts...))
	}
	waitAccounted(t, tb, "--max-pending-calls", 10*300-tb.cfg.maxPending)

	written := len(logLines(tb)) - before
	// Per kind: logBurst lines, then a summary a second (the waits above
	// took a few).
	if most := 3 * (logBurst + 8); written > most {
		t.Errorf("%d bad records, %d refused calls and %d calls over the cap wrote %d lines; want at most %d:\n%s", frames*perFrame, frames*perFrame, 10*300-tb.cfg.maxPending, written, most, tb.log)
	}
}
