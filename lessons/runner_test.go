package lessons_test

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/runner"
)

// TestMain lets this test binary serve as the playground's runner, as the
// sockstep binary does: runner.Start runs it with the argument "runner".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "runner" {
		os.Exit(runner.Main())
	}
	os.Exit(m.Run())
}

// inRunner are the lessons whose interpreted runs need a process of their
// own, as the playground gives each Run: their checks send the program a
// signal (15), or their wrong programs panic in a goroutine, which ends
// the process (14) — in this test binary's, every test.
var inRunner = map[string]bool{"14-framing": true, "15-shutdown": true}

// startRunner runs src as the playground does: in a runner process of its
// own (package runner), its calls on that process's native.Session. The
// target has the runner's trace, and the process to signal. src's port is
// rewritten to port. The runner is killed when the test ends, if the
// program has not ended before.
func startRunner(t *testing.T, l lessons.Lesson, src string, port int) *program {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	prog := &runner.Program{Source: onPort(l, src, port), Name: "main.go", Policy: native.DefaultPolicy(), MaxMemory: 512 << 20, MaxStack: 64 << 20}
	p := &program{ended: make(chan struct{}), output: func() string { mu.Lock(); defer mu.Unlock(); return out.String() }}
	proc, err := runner.Start(runner.Config{Command: []string{exe, "runner"}, Grace: 5 * time.Second, MemoryFlag: "--max-memory"}, prog, runner.Handlers{
		Events: func(b []byte) {
			var evs []struct{ Type, Text, Error, Message string }
			json.Unmarshal(b, &evs)
			mu.Lock()
			defer mu.Unlock()
			for _, e := range evs {
				if e.Type == "output" || e.Type == "diagnostic" {
					out.WriteString(e.Text + e.Message)
				}
			}
		},
		Own: func(*runner.Own) {},
		Exit: func(_ *runner.Process, status string) {
			mu.Lock()
			out.WriteString("\n[" + cmpOr(status, "exit status 0") + "]")
			mu.Unlock()
			close(p.ended)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.target = lessons.Target{Addr: "127.0.0.1:" + strconv.Itoa(port), Trace: proc.Trace, Process: runnerProcess{proc}}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			proc.Kill()
			<-p.ended
		})
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("the program's output:\n%s", p.output())
		}
	})
	return p
}

func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// runnerProcess is a runner as a check's kit.Process.
type runnerProcess struct{ p *runner.Process }

func (r runnerProcess) Signal(sig syscall.Signal) error { r.p.Signal(sig); return nil }

func (r runnerProcess) Ended() (string, bool) {
	select {
	case <-r.p.Done():
		return r.p.Status(), true
	default:
		return "", false
	}
}

// needsIPv6 skips a test of lesson 16 on a host without IPv6 loopback
// (a container started with IPv6 off): the lesson's server must bind ::1.
func needsIPv6(t *testing.T, l lessons.Lesson) {
	t.Helper()
	if l.ID != "16-address" {
		return
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("this host has no IPv6 loopback (::1), which lesson 16 needs:", err)
	}
	ln.Close()
}
