package lessons_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/wasm/engine"
)

func all(t *testing.T) []lessons.Lesson {
	t.Helper()
	ls, err := lessons.All()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// TestEveryFolderIsComplete: text with a title, starter, solution and a
// registered checker (All fails without one), seventeen lessons numbered in
// order, and markdown whose structure renders: fences closed, headings in
// order, a section saying what the check checks.
func TestEveryFolderIsComplete(t *testing.T) {
	ls := all(t)
	if len(ls) != 17 {
		t.Fatalf("got %d lessons; want 17", len(ls))
	}
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	folders := 0
	for _, d := range dirs {
		if d.IsDir() && regexp.MustCompile(`^\d\d-`).MatchString(d.Name()) {
			folders++
			if _, err := os.Stat(filepath.Join(d.Name(), "check.go")); err != nil {
				t.Errorf("%s: no check.go: %v", d.Name(), err)
			}
		}
	}
	if folders != len(ls) {
		t.Errorf("%d lesson folders, %d lessons loaded", folders, len(ls))
	}
	for i, l := range ls {
		if l.Number != i+1 || l.Port != lessons.BasePort+l.Number {
			t.Errorf("%s: number %d, port %d; want %d, %d", l.ID, l.Number, l.Port, i+1, lessons.BasePort+i+1)
		}
		if l.Starter == l.Solution {
			t.Errorf("%s: the starter is the solution", l.ID)
		}
		for name, src := range map[string]string{"starter": l.Starter, "solution": l.Solution} {
			if !strings.HasPrefix(src, "// Lesson "+strconv.Itoa(l.Number)+":") || !strings.Contains(src, "package main") {
				t.Errorf("%s/%s: should start with \"// Lesson %d:\" and be package main", l.ID, name, l.Number)
			}
			if l.Number > 1 && !strings.Contains(src, strconv.Itoa(l.Port)) {
				t.Errorf("%s/%s: does not use the lesson's port %d", l.ID, name, l.Port)
			}
		}
		checkMarkdown(t, l)
	}
}

func checkMarkdown(t *testing.T, l lessons.Lesson) {
	t.Helper()
	if l.Title == "" || strings.Contains(l.Title, "#") {
		t.Errorf("%s: bad title %q", l.ID, l.Title)
	}
	fence := false
	var headings []string
	for n, line := range strings.Split(l.Text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if fence {
			continue
		}
		if strings.HasPrefix(line, "#") {
			level := len(line) - len(strings.TrimLeft(line, "#"))
			if level > 2 || !strings.HasPrefix(line[level:], " ") {
				t.Errorf("%s/lesson.md:%d: heading %q: use \"# \" once, then \"## \"", l.ID, n+1, line)
			}
			if level == 1 && n > 0 {
				t.Errorf("%s/lesson.md:%d: a second title", l.ID, n+1)
			}
			headings = append(headings, line)
		}
		if strings.Count(line, "`")%2 != 0 {
			t.Errorf("%s/lesson.md:%d: unbalanced inline code: %q", l.ID, n+1, line)
		}
	}
	if fence {
		t.Errorf("%s/lesson.md: a code fence is not closed", l.ID)
	}
	if len(headings) == 0 || headings[len(headings)-1] != "## The check" {
		t.Errorf("%s/lesson.md: should end with a \"## The check\" section; headings: %q", l.ID, headings)
	}
	if strings.Contains(l.Text, "\t") && !strings.Contains(l.Text, "```") {
		t.Errorf("%s/lesson.md: tabs outside code", l.ID)
	}
}

// freePort is testnet.FreePort, never the same port twice in this test
// binary: a parallel test's program may not have bound its port yet (a
// native one is still being built) when another test looks for one.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		p := testnet.FreePort(t)
		if !portsTaken[p] {
			portsTaken[p] = true
			return p
		}
	}
}

var (
	portsMu    sync.Mutex
	portsTaken = map[int]bool{}
)

// onPort rewrites the lesson's port in src, so tests can run side by side.
func onPort(l lessons.Lesson, src string, port int) string {
	return strings.ReplaceAll(src, strconv.Itoa(l.Port), strconv.Itoa(port))
}

// program is one run of a lesson's program: its target, and how to end it.
type program struct {
	target lessons.Target
	ended  chan struct{} // closed once the program has ended
	stop   func()        // ends it (a no-op once it has ended) and waits for that
	output func() string // what it printed, and how it ended
}

// startInterpreted runs src as the page does — in the engine, its calls on
// a real native.Session — and returns a target with that session's trace.
//
// src's port is rewritten to port, and the program runs on a session of its
// own. The program is ended when the test ends, if not before.
func startInterpreted(t *testing.T, l lessons.Lesson, src string, port int) *program {
	t.Helper()
	if inRunner[l.ID] {
		return startRunner(t, l, src, port)
	}
	s := native.NewSession(native.DefaultPolicy())
	var mu sync.Mutex
	var out bytes.Buffer
	e := engine.New(s.Do, func(ev engine.Event) {
		var text string
		switch ev := ev.(type) {
		case engine.OutputEvent:
			text = ev.Text
		case engine.ExitEvent:
			text = ev.Error
		case engine.DiagnosticEvent:
			text = ev.Message
		default:
			return
		}
		mu.Lock()
		out.WriteString(text)
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	p := &program{
		target: lessons.Target{Addr: "127.0.0.1:" + strconv.Itoa(port), Trace: s.Trace},
		ended:  make(chan struct{}),
		output: func() string { mu.Lock(); defer mu.Unlock(); return out.String() },
	}
	go func() {
		defer close(p.ended)
		if err := e.Run(ctx, onPort(l, src, port)); err != nil {
			mu.Lock()
			fmt.Fprintf(&out, "\nthe engine: %v", err)
			mu.Unlock()
		}
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			<-p.ended
			s.Close() // as the kernel does at a process's exit
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

// build compiles src, its port rewritten to port, into dir and returns the
// binary's path.
func build(t *testing.T, l lessons.Lesson, src string, port int, dir, name string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool:", err)
	}
	file := filepath.Join(dir, name+".go")
	if err := os.WriteFile(file, []byte(onPort(l, src, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command(goTool, "build", "-o", bin, file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}

// startNative runs bin as a process of its own, as a learner's `go run`
// does, on port, with no trace. The process ends when the test ends, if not
// before.
func startNative(t *testing.T, bin string, port int) *program {
	t.Helper()
	cmd := exec.Command(bin)
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &program{
		target: lessons.Target{Addr: "127.0.0.1:" + strconv.Itoa(port)},
		ended:  make(chan struct{}),
		output: func() string { mu.Lock(); defer mu.Unlock(); return out.String() },
	}
	go func() {
		err := cmd.Wait()
		mu.Lock()
		fmt.Fprintf(&out, "\n[%v]", cmp.Or(err, error(errExitedCleanly)))
		mu.Unlock()
		close(p.ended)
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt) // Ctrl-C
			select {
			case <-p.ended:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-p.ended
			}
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

// errExitedCleanly marks a clean exit in a native program's output.
var errExitedCleanly = errors.New("exit status 0")

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// waitEnded waits for a program that ends by itself (bounded).
func waitEnded(t *testing.T, p *program) {
	t.Helper()
	select {
	case <-p.ended:
	case <-time.After(time.Minute):
		t.Fatal("the program did not end within a minute")
	}
}

// check runs l's checker and returns whether it passed and its steps.
func check(t *testing.T, l lessons.Lesson, target lessons.Target) (bool, []lessons.Step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	steps, passed := l.Check(ctx, target)
	var got []lessons.Step
	for s := range steps {
		got = append(got, s)
	}
	return passed(), got
}

func show(steps []lessons.Step) string {
	var b strings.Builder
	for _, s := range steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		b.WriteString("\n  " + mark + " " + s.Name + ": " + s.Message)
	}
	return b.String()
}

// starterMisses is what each starter's failure must name.
var starterMisses = map[string]string{
	"01-socket":     "expected a call socket(AF_INET, SOCK_STREAM, 0)",
	"02-binding":    "EADDRINUSE",
	"03-listening":  "never called listen on descriptor",
	"04-accepting":  `waited 3s for the line "you are …" and nothing came`,
	"05-talking":    `(expected "Hello, `,
	"06-iterative":  "the first client has left",
	"07-telnet":     "as if the server answered what one read returned as a whole",
	"08-ending":     `expected "bye"`,
	"09-reuseaddr":  "Set SO_REUSEADDR before bind on every socket of the port",
	"10-service":    "(the services database says",
	"11-concurrent": "goroutine of its own",
	"12-http":       "expected status 404 Not Found, got \"200 OK\"",
	"13-eventloop":  "the server seems stuck on one client",
	"14-framing":    "Read exactly 4 bytes, then exactly the length they say",
	"15-shutdown":   "signal.Notify",
	"16-address":    "Listen on the IPv6 loopback too",
	"17-datagrams":  "your program read the datagram",
}
