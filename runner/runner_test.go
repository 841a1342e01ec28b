package runner

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/wasm/engine"
)

// TestMain lets this test binary serve as the runner, as the sockstep
// binary does: Start runs it with the argument "runner".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "runner" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

// testGrace is Stop's grace period in these tests: a race-detector build
// sleeps a second at exit (GORACE's atexit_sleep_ms), which a program that
// ends gracefully must have time for.
const testGrace = 3 * time.Second

// run is one runner's run, as the tests see it.
type run struct {
	t      *testing.T
	p      *Process
	mu     sync.Mutex
	events []map[string]any
	own    []*Own
}

func startRunner(t *testing.T, source string, change func(*Program)) *run {
	t.Helper()
	return startRunnerIn(t, false, source, change)
}

// spareReady is how long a test gives a spare to make its interpreter
// before handing it the program.
const spareReady = 500 * time.Millisecond

// startRunnerIn starts source in a runner of its own, or, with spare, in a
// spare runner that made its interpreter before the program was known.
func startRunnerIn(t *testing.T, spare bool, source string, change func(*Program)) *run {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prog := &Program{Source: source, Name: "main.go", Policy: native.DefaultPolicy(), MaxMemory: 256 << 20, MaxStack: 16 << 20}
	if change != nil {
		change(prog)
	}
	r := &run{t: t}
	cfg := Config{Command: []string{exe, "runner"}, Grace: testGrace, MemoryFlag: "--max-memory"}
	handlers := Handlers{
		Events: func(b []byte) {
			var evs []map[string]any
			if err := json.Unmarshal(b, &evs); err != nil {
				t.Errorf("runner sent unreadable events %q: %v", b, err)
			}
			r.mu.Lock()
			r.events = append(r.events, evs...)
			r.mu.Unlock()
		},
		Own:  func(o *Own) { r.mu.Lock(); r.own = append(r.own, o); r.mu.Unlock() },
		Exit: func(*Process, string) {},
	}
	if spare {
		if r.p, err = Spawn(cfg); err == nil {
			time.Sleep(spareReady)
			err = r.p.Run(prog, handlers)
		}
	} else {
		r.p, err = Start(cfg, prog, handlers)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.p.Kill()
		select {
		case <-r.p.Done():
		case <-time.After(5 * time.Second):
			t.Errorf("runner %d still there 5s after SIGKILL", r.p.Pid)
		}
	})
	return r
}

// status waits for the program's end.
func (r *run) status() string {
	r.t.Helper()
	select {
	case <-r.p.Done():
		return r.p.Status()
	case <-time.After(20 * time.Second):
		r.t.Fatalf("the program did not end")
		return ""
	}
}

func (r *run) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		if e["type"] == "output" {
			b.WriteString(e["text"].(string))
		}
	}
	return b.String()
}

func TestProgramEndsAsAProcess(t *testing.T) {
	for _, tc := range []struct {
		name, body, status string
	}{
		{"returns", `fmt.Println("hi")`, ""},
		{"exits", `fmt.Println("hi"); os.Exit(3)`, "exit status 3"},
		{"panics", `fmt.Println("hi"); panic("boom")`, "panic: boom"},
		{"panics in a goroutine", `fmt.Println("hi"); go func() { panic("boom") }(); time.Sleep(5 * time.Second)`, "your program panicked in a goroutine: boom."},
		{"recurses", `fmt.Println("hi"); var f func(int) int; f = func(n int) int { return f(n+1) + 1 }; f(0)`, "your program recursed too deeply"},
		{"allocates 4 GB", `fmt.Println("hi"); b := make([]byte, 4<<30); b[1<<30] = 1; fmt.Println(len(b))`, "all the memory a run may have (256 MiB; start the bridge with --max-memory"},
	} {
		for _, spare := range []bool{false, true} {
			name := tc.name
			if spare {
				name += " in a spare"
			}
			t.Run(name, func(t *testing.T) {
				if raceEnabled && strings.Contains(tc.name, "allocates") {
					t.Skip("a race-detector build runs without the memory cap")
				}
				r := startRunnerIn(t, spare, "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n)\n\nvar _ = os.Exit\nvar _ = time.Sleep\n\nfunc main() {\n\t"+tc.body+"\n}\n", nil)
				got := r.status()
				if tc.status == "" && got != "" || !strings.HasPrefix(got, tc.status) && !strings.Contains(got, tc.status) {
					t.Errorf("status %q; want %q", got, tc.status)
				}
				if out := r.output(); !strings.HasPrefix(out, "hi\n") {
					t.Errorf("output %q; want hi", out)
				}
			})
		}
	}
}

func TestRunnerSeesNoneOfTheBridgesEnvironment(t *testing.T) {
	t.Setenv("SOCKSTEP_SECRET", "hunter2")
	r := startRunner(t, "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() { fmt.Println(len(os.Environ()), os.Environ()) }\n", nil)
	if got := r.status(); got != "" {
		t.Fatalf("status %q", got)
	}
	if out := r.output(); out != "0 []\n" {
		t.Errorf("the program saw the environment %q; want none", out)
	}
}

func TestStopTerminatesThenKills(t *testing.T) {
	r := startRunner(t, "package main\n\nfunc main() { for { } }\n", nil)
	time.Sleep(200 * time.Millisecond)
	r.p.Stop()
	if got := r.status(); got != "terminated by SIGTERM" {
		t.Errorf("status %q; want terminated by SIGTERM", got)
	}
	if err := syscall.Kill(r.p.Pid, 0); err == nil {
		t.Errorf("runner %d is still there", r.p.Pid)
	}
}

func TestTraceAndSockets(t *testing.T) {
	r := startRunner(t, `package main

import (
	"fmt"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	fmt.Println(fd, err)
	err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: 0, Addr: [4]byte{127, 0, 0, 1}})
	fmt.Println(err)
	syscall.Listen(fd, 5)
	fmt.Println("listening")
	syscall.Accept(fd)
}
`, nil)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.output(), "listening") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var listening bool
	for time.Now().Before(deadline) && !listening {
		r.mu.Lock()
		for _, o := range r.own {
			for _, s := range o.Sockets {
				listening = listening || s.Listening
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	if !listening {
		t.Errorf("the runner never reported its listener: %+v", r.own)
	}
	tr := r.p.Trace()
	if len(tr) < 3 || tr[0].Call.Op != "socket" || tr[2].Call.Op != "listen" {
		t.Fatalf("trace %+v; want socket, bind, listen", tr)
	}
	r.p.Stop()
	r.status()
	if got := r.p.Trace(); len(got) < 3 {
		t.Errorf("after the end the trace has %d entries; want the last one fetched", len(got))
	}
}

func TestControlSteersTheProgram(t *testing.T) {
	t.Run("in a runner of its own", func(t *testing.T) { controlSteers(t, false) })
	t.Run("in a spare", func(t *testing.T) { controlSteers(t, true) })
}

func controlSteers(t *testing.T, spare bool) {
	r := startRunnerIn(t, spare, "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := 1\n\tx++\n\tfmt.Println(x)\n}\n", func(p *Program) { p.Debug = true })
	waitFor := func(typ string) map[string]any {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			r.mu.Lock()
			for i, e := range r.events {
				if e["type"] == typ {
					r.events = r.events[i+1:]
					r.mu.Unlock()
					return e
				}
			}
			r.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no %s event; got %v", typ, r.events)
		return nil
	}
	if e := waitFor("paused"); e["line"] != float64(6) {
		t.Errorf("paused at %v; want line 6", e["line"])
	}
	r.p.Request(engine.Request{ID: 7, Method: engine.MethodStep, Kind: "step"})
	if e := waitFor("answer"); e["id"] != float64(7) || e["error"] != nil {
		t.Errorf("answer %v; want id 7 without error", e)
	}
	if e := waitFor("paused"); e["line"] != float64(7) {
		t.Errorf("paused at %v; want line 7", e["line"])
	}
	r.p.Request(engine.Request{ID: 8, Method: engine.MethodStep, Kind: "continue"})
	if got := r.status(); got != "" {
		t.Errorf("status %q", got)
	}
	if out := r.output(); out != "2\n" {
		t.Errorf("output %q", out)
	}
}

func TestProgramCatchesSIGTERM(t *testing.T) {
	r := startRunner(t, `package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	fmt.Println("ready")
	fmt.Println("got", <-stop)
}
`, nil)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.output(), "ready") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.p.Stop()
	if got := r.status(); got != "" {
		t.Errorf("status %q; want a normal end; output %q, stderr %q", got, r.output(), r.p.stderr.String())
	}
	if out := r.output(); out != "ready\ngot terminated\n" {
		t.Errorf("output %q", out)
	}
}

func TestProgramIgnoringSIGTERMIsKilled(t *testing.T) {
	r := startRunner(t, `package main

import (
	"fmt"
	"os/signal"
	"syscall"
)

func main() {
	signal.Ignore(syscall.SIGTERM)
	fmt.Println("ready")
	for {
	}
}
`, nil)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.output(), "ready") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.p.Stop()
	if got := r.status(); !strings.HasPrefix(got, "killed after Stop") {
		t.Errorf("status %q; want killed after Stop", got)
	}
}

func TestSweepWorkDirs(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	old, _ := os.MkdirTemp("", workDirPrefix)
	recent, _ := os.MkdirTemp("", workDirPrefix)
	full, _ := os.MkdirTemp("", workDirPrefix)
	os.WriteFile(full+"/f", nil, 0o600)
	long := time.Now().Add(-2 * time.Minute)
	os.Chtimes(old, long, long)
	os.Chtimes(full, long, long)
	SweepWorkDirs()
	for dir, want := range map[string]bool{old: false, recent: true, full: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s kept: %v; want %v", dir, err == nil, want)
		}
	}
}
