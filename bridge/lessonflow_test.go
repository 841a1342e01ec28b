package bridge

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/wasm/engine"
)

// starterSays is what the check of each lesson's starter must say, in the
// playground, where it reads the run's trace.
var starterSays = map[string]string{
	"01-socket":     "expected a call socket(AF_INET, SOCK_STREAM, 0)",
	"02-binding":    "EADDRINUSE",
	"03-listening":  "never called listen on descriptor",
	"04-accepting":  `waited 3s for the line "you are …"`,
	"05-talking":    `(expected "Hello, `,
	"06-iterative":  "the first client has left",
	"07-telnet":     "as if the server answered what one read returned as a whole",
	"08-ending":     `expected "bye"`,
	"09-reuseaddr":  "bind(3, 127.0.0.1:9009) = -1 EADDRINUSE",
	"10-service":    "(the services database says",
	"11-concurrent": "goroutine of its own",
	"12-http":       `expected status 404 Not Found, got "200 OK"`,
	"13-eventloop":  "the server seems stuck on one client",
	"14-framing":    "Read exactly 4 bytes, then exactly the length they say",
	"15-shutdown":   "signal.Notify",
	"16-address":    "Listen on the IPv6 loopback too",
	"17-datagrams":  "your program read the datagram",
}

// flowParallel bounds how many lessons' flows run at once: each runs its
// program in a runner process of its own, and the checks wait for answers
// for seconds, not for ever.
const flowParallel = 4

// TestLessonFlowInThePlayground is what a learner does in every lesson, in
// the playground, as the page does it, on the lesson's own port: Run the
// starter and Check (it fails, saying what is missing from the trace), Show
// solution, Run and Check (it passes at once), Run it again and Check again
// (a learner who reruns within a minute). Each Run is a runner process of
// its own; each Check is POST /api/check with the page's session, sent as
// soon as the run has started, as the page sends it.
//
// The trap this guards against: a check whose connections the server closed
// first left them in TIME_WAIT, so the next run, without SO_REUSEADDR, could
// not bind for a minute. The checks leave nothing behind, so this test
// passes when it runs again right after itself.
func TestLessonFlowInThePlayground(t *testing.T) {
	all, err := lessons.All()
	if err != nil {
		t.Fatal(err)
	}
	tb := newTestBridge(t, nil)
	slots := make(chan struct{}, flowParallel)
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			t.Parallel()
			slots <- struct{}{}
			defer func() { <-slots }()
			waitBindable(t, l.Port)
			c := dialEngine(t, tb)
			for i, run := range []struct {
				name, src string
				pass      bool
			}{
				{"starter", l.Starter, false},
				{"solution", l.Solution, true},
				{"solution", l.Solution, true}, // Run again, and Check
			} {
				what := fmt.Sprintf("run %d, the %s", i+1, run.name)
				a := c.do(engine.Request{Method: engine.MethodRun, Source: run.src, Name: "lessons/" + l.ID + "/main.go"})
				if a["error"] != nil {
					t.Fatalf("%s: run: %v", what, a)
				}
				_, lines := checkStream(t, tb, l.ID, c.id, "")
				if len(lines) == 0 {
					t.Fatalf("%s: the check answered nothing", what)
				}
				done := lines[len(lines)-1]
				if done["done"] != true || done["passed"] != run.pass {
					t.Fatalf("%s: passed %v, want %v:%s", what, done["passed"], run.pass, showLines(lines))
				}
				for _, step := range lines[:len(lines)-1] {
					if step["skipped"] == true {
						t.Errorf("%s: step %q skipped in the playground", what, step["step"])
					}
				}
				if !run.pass {
					last := lines[len(lines)-2]
					if msg, _ := last["message"].(string); last["ok"] != false || !strings.Contains(msg, starterSays[l.ID]) {
						t.Errorf("%s: the last step should fail saying %q:%s", what, starterSays[l.ID], showLines(lines))
					}
				}
			}
			if l.ID == "03-listening" {
				// Check again, the same program still running, as the page
				// does when the editor has not changed: its listen queue keeps
				// every client the checks connected, and the answer must stay
				// the same.
				for i := range 3 {
					if _, lines := checkStream(t, tb, l.ID, c.id, ""); len(lines) == 0 || lines[len(lines)-1]["passed"] != true {
						t.Fatalf("check %d of the same running program:%s", i+2, showLines(lines))
					}
				}
			}
			// Stop, as the learner leaves the lesson.
			if a := c.do(engine.Request{Method: engine.MethodStop}); a["error"] != nil && a["error"] != errNotRunning.Error() {
				t.Errorf("stop: %v", a)
			}
		})
	}
}

// waitBindable waits until a program could bind 127.0.0.1:port without
// SO_REUSEADDR, as the lessons' programs do, and skips the test when that
// does not happen within a TIME_WAIT's minute: the lessons' ports are fixed,
// and another program on this machine — a learner's, another test run's —
// may hold one. What this test's own runs leave behind, it meets within
// itself: each flow runs the next program on the same port at once.
func waitBindable(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(70 * time.Second)
	for {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		syscall.Close(fd)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			held, _ := kit.PortSockets(port)
			t.Skipf("the lesson's port %d stays taken by another program (%v; %+v): stop it to run this test", port, err, held)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// showLines shows a check's NDJSON lines as a checklist.
func showLines(lines []map[string]any) string {
	var b strings.Builder
	for _, l := range lines {
		if l["done"] == true {
			continue
		}
		mark := "ok  "
		if l["ok"] != true {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "\n  %s %v: %v", mark, l["step"], l["message"])
	}
	return b.String()
}
