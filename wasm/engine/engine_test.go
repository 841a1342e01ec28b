package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// recorder collects events; waitFor lets a test wait, bounded, for one.
type recorder struct {
	mu     sync.Mutex
	events []Event
	change chan struct{}
}

func newRecorder() *recorder { return &recorder{change: make(chan struct{}, 1)} }

func (r *recorder) emit(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.change <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// stdout is everything printed on stdout so far.
func (r *recorder) stdout() string {
	var b strings.Builder
	for _, e := range find[OutputEvent](r) {
		if e.Stream == "stdout" {
			b.WriteString(e.Text)
		}
	}
	return b.String()
}

func (r *recorder) waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !ok() {
		select {
		case <-r.change:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; events: %v", what, r.all())
		}
	}
}

// find is the events of type T recorded so far.
func find[T Event](r *recorder) []T {
	var out []T
	for _, e := range r.all() {
		if e, ok := e.(T); ok {
			out = append(out, e)
		}
	}
	return out
}

// fakeHost answers calls from a table by op, or with success.
func fakeHost(answers map[wire.Op]*wire.Result) Host {
	return func(ctx context.Context, c *wire.Call) (*wire.Result, error) {
		if r, ok := answers[c.Op]; ok {
			res := *r
			res.ID = c.ID
			return &res, nil
		}
		return &wire.Result{ID: c.ID, Ret: 3}, nil
	}
}

func runProgram(t *testing.T, call Host, src string) (*recorder, error) {
	t.Helper()
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := New(call, rec.emit).Run(ctx, src)
	return rec, err
}

const header = "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"syscall\"\n)\n\nvar _ = fmt.Sprint\nvar _ = os.Args\nvar _ = syscall.AF_INET\n\n"

// line is the number of the first line after header.
const line = 13

func TestPrograms(t *testing.T) {
	inUse := map[wire.Op]*wire.Result{wire.OpBind: {Errno: "EADDRINUSE"}}
	tests := []struct {
		name    string
		answers map[wire.Op]*wire.Result
		body    string
		source  string // instead of header+body
		stdout  string
		stderr  string
		diag    *DiagnosticEvent // the first diagnostic, if any
		exit    string
	}{
		{name: "prints", body: "func main() {\n\tfmt.Println(\"hello\")\n\tfmt.Fprintln(os.Stderr, \"oops\")\n\tos.Stdout.Write([]byte(\"raw\\n\"))\n}\n",
			stdout: "hello\nraw\n", stderr: "oops\n"},
		{name: "undefined", body: "func main() {\n\tx := 1\n\tfmt.Println(y)\n}\n",
			diag: &DiagnosticEvent{Kind: KindCompile, Line: line + 2, Column: 14, Message: "undefined: y"}, exit: "the program did not compile"},
		{name: "parse error", body: "func main() {\n\tfor {\n}\n",
			diag: &DiagnosticEvent{Kind: KindCompile, Line: line + 2, Message: "expected '}', found 'EOF'"}, exit: "the program did not compile"},
		{name: "forbidden import", source: "package main\n\nimport \"os/exec\"\n\nfunc main() { exec.Command(\"sh\") }\n",
			diag: &DiagnosticEvent{Kind: KindCompile, Line: 3, Column: 8, Message: "package \"os/exec\" is not available here"}, exit: "the program did not compile"},
		{name: "unsafe", source: "package main\n\nimport \"unsafe\"\n\nfunc main() { _ = unsafe.Sizeof(1) }\n",
			diag: &DiagnosticEvent{Kind: KindCompile, Line: 3, Column: 8, Message: "package \"unsafe\" is not available here"}, exit: "the program did not compile"},
		{name: "go's net is not reachable", source: "package main\n\nimport \"net\"\n\nfunc main() { net.Listen(\"tcp\", \":80\") }\n",
			diag: &DiagnosticEvent{Kind: KindCompile, Line: 5, Column: 15, Message: "package net \"net\" has no symbol Listen"}, exit: "the program did not compile"},
		{name: "panic", body: "func f() {\n\tpanic(\"boom\")\n}\n\nfunc main() {\n\tfmt.Println(\"before\")\n\tf()\n}\n",
			stdout: "before\n", diag: &DiagnosticEvent{Kind: KindPanic, Line: line + 1, Message: "panic in main.f"}, exit: "panic: boom"},
		{name: "panic at its line", body: "func f(xs []int) int {\n\ta := 1\n\treturn xs[a]\n}\n\nfunc main() {\n\tf(nil)\n}\n",
			diag: &DiagnosticEvent{Kind: KindPanic, Line: line + 2, Message: "panic in main.f"}, exit: "panic: reflect: slice index out of range"},
		{name: "exit", body: "func main() {\n\tfmt.Println(\"bye\")\n\tos.Exit(3)\n\tfmt.Println(\"never\")\n}\n",
			stdout: "bye\n", exit: "exit status 3"},
		{name: "exit 0", body: "func main() {\n\tos.Exit(0)\n}\n"},
		{name: "errno", answers: inUse, body: "func main() {\n\terr := syscall.Bind(3, &syscall.SockaddrInet4{Port: 9000})\n\tfmt.Println(err == syscall.EADDRINUSE, err)\n}\n",
			stdout: "true address already in use\n"},
		{name: "socket returns an fd", body: "func main() {\n\tfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)\n\tfmt.Println(fd, err)\n}\n",
			stdout: "3 <nil>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := header + tt.body
			if tt.source != "" {
				src = tt.source
			}
			rec, err := runProgram(t, fakeHost(tt.answers), src)
			exits := find[ExitEvent](rec)
			if len(exits) != 1 {
				t.Fatalf("got %d exit events; want 1: %v", len(exits), rec.all())
			}
			if got := exits[0].Error; !strings.HasPrefix(got, tt.exit) || (tt.exit == "") != (got == "") {
				t.Errorf("exit: got %q; want %q", got, tt.exit)
			}
			if (err == nil) != (tt.exit == "") {
				t.Errorf("Run: got %v; want an error iff the exit has one", err)
			}
			if got := rec.stdout(); got != tt.stdout {
				t.Errorf("stdout: got %q; want %q", got, tt.stdout)
			}
			var stderr strings.Builder
			for _, e := range find[OutputEvent](rec) {
				if e.Stream == "stderr" {
					stderr.WriteString(e.Text)
				}
			}
			if stderr.String() != tt.stderr {
				t.Errorf("stderr: got %q; want %q", stderr.String(), tt.stderr)
			}
			diags := find[DiagnosticEvent](rec)
			if tt.diag == nil {
				if len(diags) > 0 {
					t.Errorf("unexpected diagnostics %v", diags)
				}
				return
			}
			if len(diags) == 0 {
				t.Fatalf("no diagnostic; events %v", rec.all())
			}
			d := diags[0]
			if d.Kind != tt.diag.Kind || d.Line != tt.diag.Line || (tt.diag.Column != 0 && d.Column != tt.diag.Column) || !strings.HasPrefix(d.Message, tt.diag.Message) {
				t.Errorf("diagnostic: got %+v; want %+v", d, *tt.diag)
			}
		})
	}
}

func TestCallsAreTracedInOrder(t *testing.T) {
	rec, err := runProgram(t, fakeHost(map[wire.Op]*wire.Result{wire.OpBind: {Errno: "EACCES"}}), header+
		"func main() {\n\tfd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)\n\tfmt.Println(\"got\", fd)\n\tsyscall.Bind(fd, &syscall.SockaddrInet4{Port: 80, Addr: [4]byte{127, 0, 0, 1}})\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rec.all() {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{
		`{"type":"call","id":1,"text":"socket(AF_INET, SOCK_STREAM, 0)"}`,
		`{"type":"result","id":1,"text":"3","failed":false}`,
		`{"type":"output","stream":"stdout","text":"got 3\n"}`,
		`{"type":"call","id":2,"text":"bind(3, 127.0.0.1:80)"}`,
		`{"type":"result","id":2,"text":"-1 EACCES: permission denied: ports below 1024 need privileges","failed":true}`,
		`{"type":"exit","error":""}`,
		// The socket left open is closed quietly: no event.
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOpenDescriptorsAreClosedAtExit(t *testing.T) {
	var mu sync.Mutex
	var closed []int
	host := func(ctx context.Context, c *wire.Call) (*wire.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		switch c.Op {
		case wire.OpSocket:
			return &wire.Result{ID: c.ID, Ret: 3 + len(closed)}, nil
		case wire.OpClose:
			closed = append(closed, c.FD)
		}
		return &wire.Result{ID: c.ID}, nil
	}
	_, err := runProgram(t, host, header+"func main() {\n\ta, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)\n\tsyscall.Close(a)\n\tsyscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(closed) != "[3 4]" {
		t.Errorf("closed %v; want [3 4]: the program's own close, then the one left open", closed)
	}
}

func TestUnreachableBridge(t *testing.T) {
	gone := func(ctx context.Context, c *wire.Call) (*wire.Result, error) {
		return nil, errors.New("connection lost")
	}
	rec, err := runProgram(t, gone, header+"func main() {\n\t_, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)\n\tfmt.Println(err)\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.stdout(); got != "the bridge is unreachable: connection lost\n" {
		t.Errorf("got %q", got)
	}
	if res := find[ResultEvent](rec); len(res) != 1 || !res[0].Failed {
		t.Errorf("result events %v", res)
	}
}

func TestStopEndsARun(t *testing.T) {
	host := func(ctx context.Context, c *wire.Call) (*wire.Result, error) {
		if c.Op == wire.OpAccept {
			<-ctx.Done() // as the relay does
			return nil, ctx.Err()
		}
		return &wire.Result{ID: c.ID}, nil
	}
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- New(host, rec.emit).Run(ctx, header+"func main() {\n\tsyscall.Accept(3)\n}\n") }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err == nil || !strings.HasPrefix(err.Error(), "stopped") {
			t.Errorf("got %v; want stopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestOneRunAtATime(t *testing.T) {
	block := make(chan struct{})
	host := func(ctx context.Context, c *wire.Call) (*wire.Result, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return &wire.Result{ID: c.ID}, nil
	}
	e := New(host, func(Event) {})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, header+"func main() { syscall.Close(3) }\n") }()
	time.Sleep(50 * time.Millisecond)
	if err := e.Run(ctx, header+"func main() {}\n"); err != ErrBusy {
		t.Errorf("second run: got %v; want ErrBusy", err)
	}
	close(block)
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first run did not end")
	}
}

func TestOutputIsBatched(t *testing.T) {
	rec, err := runProgram(t, fakeHost(nil), header+"func main() {\n\tfor i := 0; i < 1000; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(find[OutputEvent](rec)); n > 50 {
		t.Errorf("1000 lines came in %d output events", n)
	}
	if !strings.HasSuffix(rec.stdout(), "998\n999\n") {
		t.Errorf("output lost its end")
	}
}

func TestSessionEventShape(t *testing.T) {
	ev, ok := FromBridge(&wire.Event{Kind: wire.EventHello, Message: "sockstep bridge", Session: "5f0c"})
	if !ok {
		t.Fatal("the hello's session id is not passed to the page")
	}
	if _, ok := FromBridge(&wire.Event{Kind: wire.EventHello}); ok {
		t.Error("a hello without a session id should not reach the page")
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"session","id":"5f0c"}`; string(b) != want {
		t.Errorf("got %s; want %s", b, want)
	}
}
