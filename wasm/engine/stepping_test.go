//go:build !js

// A real native.Session serves these tests: they run on the host only (the
// benchmarks in bench_test.go also run under js/wasm).

package engine

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockstep/sockstep/examples"
	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/wasm/stepper"
)

// lineOf is the 1-based line of the first line of src containing text.
func lineOf(t *testing.T, src, text string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("no line with %q", text)
	return 0
}

// debugRun runs src with opts on a real native.Session in the background.
func debugRun(t *testing.T, src string, opts Options) (*Engine, *recorder) {
	t.Helper()
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e := New(hostRelay(t).Call, rec.emit)
	done := make(chan error, 1)
	go func() { done <- e.RunWith(ctx, src, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("program did not stop")
		}
	})
	return e, rec
}

// nthPause waits for the n-th paused event (1-based).
func nthPause(t *testing.T, rec *recorder, n int) PausedEvent {
	t.Helper()
	rec.waitFor(t, "pause "+strconv.Itoa(n), func() bool {
		if len(find[ExitEvent](rec)) > 0 {
			t.Fatalf("program ended: %v", rec.all())
		}
		return len(find[PausedEvent](rec)) >= n
	})
	return find[PausedEvent](rec)[n-1]
}

func variable(e PausedEvent, name string) string {
	for _, v := range e.Variables {
		if v.Name == name {
			return v.Value
		}
	}
	return "(none)"
}

func TestSteppingOverABlockingAcceptCompletesWhenAClientConnects(t *testing.T) {
	port := strconv.Itoa(testnet.FreePort(t))
	src := strings.ReplaceAll(examples.Echo, "9000", port)
	accept := lineOf(t, src, "syscall.Accept(fd)")
	e, rec := debugRun(t, src, Options{Breakpoints: []int{accept}})

	p := nthPause(t, rec, 1)
	if p.Line != accept || p.Reason != stepper.ReasonBreakpoint || p.Goroutine != 1 {
		t.Fatalf("first stop: %+v; want line %d, breakpoint, goroutine 1", p, accept)
	}
	if v := variable(p, "fd"); v != "3" {
		t.Errorf("fd = %s; want 3", v)
	}
	if err := e.Step(stepper.KindStep, 1); err != nil {
		t.Fatal(err)
	}
	// The step waits in accept on the host: no client, no stop.
	rec.waitFor(t, "accept(3) sent", func() bool {
		calls := find[CallEvent](rec)
		return len(calls) > 0 && calls[len(calls)-1].Text == "accept(3)"
	})
	if n := len(find[PausedEvent](rec)); n != 1 {
		t.Fatalf("stopped again before a client connected: %+v", find[PausedEvent](rec))
	}
	if err := e.Pause(); err != nil { // main is blocked in accept: the pause waits for it
		t.Fatal(err)
	}

	client, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	p = nthPause(t, rec, 2)
	if p.Line != accept+1 {
		t.Fatalf("second stop at line %d; want %d", p.Line, accept+1)
	}
	local := client.LocalAddr().String()
	if conn, peer := variable(p, "conn"), variable(p, "peer"); conn != "4" || peer != local {
		t.Errorf("conn = %s, peer = %s; want 4, %s (variables %+v)", conn, peer, local, p.Variables)
	}
	for _, v := range p.Variables {
		if v.Name == "conn" && !v.Changed {
			t.Errorf("conn is not marked changed")
		}
	}
	if p.TraceLength != len(find[CallEvent](rec)) {
		t.Errorf("trace length %d; %d calls were sent", p.TraceLength, len(find[CallEvent](rec)))
	}

	e.SetBreakpoints(nil)
	if err := e.Step(stepper.KindContinue, 0); err != nil {
		t.Fatal(err)
	}
	client.Close()
	echoOnce(t, "127.0.0.1:"+port, "after stepping\n")
}

func TestNextCallStopsBeforeTheCallIsSent(t *testing.T) {
	port := strconv.Itoa(testnet.FreePort(t))
	src := strings.ReplaceAll(examples.Echo, "9000", port)
	e, rec := debugRun(t, src, Options{Debug: true})
	p := nthPause(t, rec, 1)
	if p.Reason != stepper.ReasonPause || p.Line != lineOf(t, src, "syscall.Socket(") {
		t.Fatalf("first stop %+v; want the socket line", p)
	}
	for i, want := range []string{"socket(AF_INET, SOCK_STREAM, 0)", "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, 1)", "bind(3, 127.0.0.1:" + port + ")"} {
		if err := e.Step(stepper.KindCall, 0); err != nil {
			t.Fatal(err)
		}
		p = nthPause(t, rec, i+2)
		if p.Reason != stepper.ReasonCall || p.Call != "about to call "+want {
			t.Fatalf("stop %d: %s %q; want about to call %s", i, p.Reason, p.Call, want)
		}
		if n := len(find[CallEvent](rec)); n != i {
			t.Errorf("%d calls sent before stop %d; want %d", n, i, i)
		}
		if p.Line == 0 {
			t.Errorf("call stop without a line")
		}
	}
	if err := e.Step(stepper.KindContinue, 0); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "listening", func() bool { return strings.Contains(rec.stdout(), "listening") })
	echoOnce(t, "127.0.0.1:"+port, "hi\n")
}

func TestGoroutineBlockedInReadIsShown(t *testing.T) {
	port := strconv.Itoa(testnet.FreePort(t))
	src := strings.ReplaceAll(perClient, "PORT", port)
	write := lineOf(t, src, "syscall.Write(conn")
	e, rec := debugRun(t, src, Options{Breakpoints: []int{write}})
	rec.waitFor(t, "ready", func() bool { return strings.Contains(rec.stdout(), "ready") })
	a, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Both serve goroutines wait in read; wait until the trace shows them.
	rec.waitFor(t, "two reads", func() bool {
		n := 0
		for _, c := range find[CallEvent](rec) {
			if strings.HasPrefix(c.Text, "read(") {
				n++
			}
		}
		return n == 2
	})
	a.Write([]byte("x"))
	p := nthPause(t, rec, 1)
	if p.Line != write || p.Goroutine == 1 {
		t.Fatalf("stop %+v; want line %d in a serve goroutine", p, write)
	}
	states := map[string]int{}
	for _, g := range p.Goroutines {
		states[g.State+" "+g.Call]++
	}
	if states["blocked accept(3)"] != 1 || states["blocked read(5, 64)"]+states["blocked read(4, 64)"] != 1 || states["paused "] != 1 {
		t.Errorf("goroutines %+v; want main in accept, one in read, one paused", p.Goroutines)
	}
	e.SetBreakpoints(nil)
	e.Step(stepper.KindContinue, 0)
	buf := make([]byte, 1)
	a.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := a.Read(buf); err != nil || buf[0] != 'x' {
		t.Errorf("echo after continue: %q, %v", buf, err)
	}
}

// TestPreparedInterpreterRunsThePrograms: a runner's spare makes its
// interpreter before its program is known (Prepare); the program then runs
// as in a fresh one — its output, its calls, a breakpoint set when it starts
// — and the run after it makes its own.
func TestPreparedInterpreterRunsThePrograms(t *testing.T) {
	src := `package main

import (
	"fmt"
	"syscall"
)

func main() {
	fmt.Println("hello")
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	syscall.Close(fd)
	fmt.Println("done", fd)
}
`
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := New(hostRelay(t).Call, rec.emit)
	if err := e.Prepare(); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	closeLine := lineOf(t, src, "syscall.Close(fd)")
	done := make(chan error, 1)
	go func() { done <- e.RunWith(ctx, src, Options{Breakpoints: []int{closeLine}}) }()
	p := nthPause(t, rec, 1)
	if p.Line != closeLine || p.Reason != stepper.ReasonBreakpoint || variable(p, "fd") != "3" {
		t.Fatalf("stop: %+v; want line %d, a breakpoint, fd 3", p, closeLine)
	}
	if err := e.Step(stepper.KindContinue, 0); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("prepared run: %v; events: %v", err, rec.all())
	}
	var out strings.Builder
	for _, o := range find[OutputEvent](rec) {
		out.WriteString(o.Text)
	}
	if out.String() != "hello\ndone 3\n" {
		t.Errorf("prepared run printed %q; want hello, then done 3", out.String())
	}
	if calls := find[CallEvent](rec); len(calls) != 2 || !strings.HasPrefix(calls[0].Text, "socket(") || calls[1].Text != "close(3)" {
		t.Errorf("prepared run's calls: %+v; want socket, close(3)", calls)
	}

	// The next run has no interpreter made ahead: it makes its own, and a
	// program that does not compile is reported as in any run.
	err := e.RunWith(ctx, strings.Replace(src, "syscall.Close(fd)", "syscall.Close(fdd)", 1), Options{})
	if err == nil || !strings.Contains(err.Error(), "fdd") {
		t.Errorf("the run after: %v; want the undefined fdd reported", err)
	}
}
