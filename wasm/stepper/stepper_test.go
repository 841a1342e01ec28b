package stepper

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/traefik/yaegi/interp"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/exports"
)

// runYaegi runs src in a fresh interpreter with the standard exports and,
// when s is not nil, the hooks; it returns what the program printed.
func runYaegi(t testing.TB, src string, s *Stepper) (string, error) {
	out, _, err := runYaegi2(t, src, s)
	return out, err
}

// runYaegi2 is runYaegi that also returns what the program and yaegi wrote
// on stderr (yaegi's panic frames, with positions).
func runYaegi2(t testing.TB, src string, s *Stepper) (string, string, error) {
	t.Helper()
	var out, errs bytes.Buffer
	i := interp.New(interp.Options{Stdout: &out, Stderr: &errs})
	if err := i.Use(exports.Standard()); err != nil {
		t.Fatal(err)
	}
	if s != nil {
		if err := i.Use(s.Exports()); err != nil {
			t.Fatal(err)
		}
	}
	_, err := i.Eval(src)
	return out.String(), errs.String(), err
}

// expected is a corpus program's `// Output:` block.
func expected(t *testing.T, src string) string {
	t.Helper()
	_, block, ok := strings.Cut(src, "// Output:\n")
	if !ok {
		t.Fatal("no // Output: block")
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(l, "//"), " ") + "\n")
	}
	return b.String()
}

func TestCorpusRunsTheSameInstrumented(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.go")
	if len(files) < 7 {
		t.Fatalf("corpus has %d programs", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			want := expected(t, src)
			plain, plainErrs, err := runYaegi2(t, src, nil)
			if err != nil || plain != want {
				t.Fatalf("plain run: %v\ngot:\n%s\nwant:\n%s", err, plain, want)
			}
			p, err := Instrument(src)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Count(p.Source, "\n"), strings.Count(src, "\n"); got != want {
				t.Fatalf("instrumented source has %d lines; want %d\n%s", got, want, p.Source)
			}
			got, errs, err := runYaegi2(t, p.Source, New(p, Options{}))
			if err != nil || got != want {
				t.Fatalf("instrumented run: %v\ngot:\n%s\nwant:\n%s\nsource:\n%s", err, got, want, p.Source)
			}
			// yaegi's panic frames name positions: they must stay the learner's.
			// Columns on a hooked line move by the hook's length.
			if lines(errs) != lines(plainErrs) {
				t.Errorf("stderr differs:\ninstrumented:\n%s\nplain:\n%s", errs, plainErrs)
			}
		})
	}
}

// session runs src instrumented in the background and collects its stops.
type session struct {
	t     *testing.T
	s     *Stepper
	stops chan Stop
	done  chan string
}

func debug(t *testing.T, src string, opts Options) *session {
	t.Helper()
	p, err := Instrument(src)
	if err != nil {
		t.Fatal(err)
	}
	se := &session{t: t, stops: make(chan Stop, 100), done: make(chan string, 1)}
	opts.OnStop = func(s Stop) { se.stops <- s }
	se.s = New(p, opts)
	go func() {
		id := se.s.Go()
		out, err := runYaegi(t, p.Source, se.s)
		se.s.Done(id)
		if err != nil {
			out += "error: " + err.Error()
		}
		se.done <- out
	}()
	return se
}

func (se *session) next() Stop {
	se.t.Helper()
	select {
	case s := <-se.stops:
		return s
	case out := <-se.done:
		se.t.Fatalf("program ended instead of stopping; output:\n%s", out)
	case <-time.After(10 * time.Second):
		se.t.Fatal("no stop within 10s")
	}
	return Stop{}
}

func (se *session) step(kind string) {
	se.t.Helper()
	if err := se.s.Step(kind, 0); err != nil {
		se.t.Fatal(err)
	}
}

func (se *session) end() string {
	se.t.Helper()
	select {
	case out := <-se.done:
		return out
	case s := <-se.stops:
		se.t.Fatalf("unexpected stop at line %d (%s)", s.Line, s.Reason)
	case <-time.After(10 * time.Second):
		se.t.Fatal("program did not end within 10s")
	}
	return ""
}

func value(s Stop, name string) (Var, bool) {
	for _, v := range s.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Var{}, false
}

const loop = `package main

import "fmt"

func main() {
	total := 0
	for i := 0; i < 3; i++ {
		total += i
	}
	fmt.Println(total)
}
`

func TestBreakpointInALoopStopsOnEveryIteration(t *testing.T) {
	se := debug(t, loop, Options{Breakpoints: []int{8}})
	for i := range 3 {
		s := se.next()
		if s.Line != 8 || s.Reason != ReasonBreakpoint {
			t.Fatalf("stop %d: line %d (%s); want 8 (breakpoint)", i, s.Line, s.Reason)
		}
		if v, _ := value(s, "i"); v.Value != fmt.Sprint(i) {
			t.Errorf("stop %d: i = %q", i, v.Value)
		}
		if i > 0 {
			if v, _ := value(s, "total"); !v.Changed && i > 1 {
				t.Errorf("stop %d: total not marked changed: %+v", i, s.Variables)
			}
		}
		se.step(KindContinue)
	}
	if out := se.end(); out != "3\n" {
		t.Errorf("output %q", out)
	}
}

func TestStepOverIntoAndOut(t *testing.T) {
	src := `package main

import "fmt"

func double(n int) int {
	m := n * 2
	return m
}

func main() {
	a := double(1)
	b := double(a)
	fmt.Println(a, b)
}
`
	se := debug(t, src, Options{StopAtStart: true})
	lines := func(kinds ...string) []int {
		var got []int
		for _, k := range kinds {
			se.step(k)
			got = append(got, se.next().Line)
		}
		return got
	}
	if s := se.next(); s.Line != 11 || s.Reason != ReasonPause {
		t.Fatalf("first stop: line %d (%s); want 11 (pause)", s.Line, s.Reason)
	}
	if got, want := lines(KindStep, KindInto, KindStep, KindOut), []int{12, 6, 7, 13}; !slices.Equal(got, want) {
		t.Fatalf("step, into, step, out: lines %v; want %v", got, want)
	}
	se.step(KindContinue)
	if out := se.end(); out != "2 4\n" {
		t.Errorf("output %q", out)
	}
}

func TestLinesInsideNestedClosures(t *testing.T) {
	src := `package main

import "fmt"

func main() {
	mk := func(a int) func() int {
		return func() int {
			b := a + 1
			return b
		}
	}
	f, g := mk(1), mk(10)
	fmt.Println(f(), g())
}
`
	se := debug(t, src, Options{Breakpoints: []int{8}})
	for _, want := range []string{"1", "10"} {
		s := se.next()
		if s.Line != 8 {
			t.Fatalf("stopped at %d; want 8", s.Line)
		}
		if v, ok := value(s, "a"); !ok || v.Value != want {
			t.Errorf("a = %+v; want %s (variables %+v)", v, want, s.Variables)
		}
		if _, ok := value(s, "f"); ok {
			t.Errorf("f is listed before it is declared: %+v", s.Variables)
		}
		se.step(KindInto)
		if s := se.next(); s.Line != 9 {
			t.Fatalf("step went to %d; want 9", s.Line)
		}
		se.step(KindContinue)
	}
	if out := se.end(); out != "2 11\n" {
		t.Errorf("output %q", out)
	}
}

func TestShadowedNamesShowTheInnerValue(t *testing.T) {
	src := `package main

import "fmt"

func main() {
	x := 1
	{
		x := "inner"
		fmt.Println(x)
	}
	fmt.Println(x)
}
`
	se := debug(t, src, Options{Breakpoints: []int{9, 11}})
	for _, want := range []string{`"inner"`, "1"} {
		s := se.next()
		var xs []string
		for _, v := range s.Variables {
			if v.Name == "x" {
				xs = append(xs, v.Value)
			}
		}
		if len(xs) != 1 || xs[0] != want {
			t.Errorf("line %d: x values %v; want [%s]", s.Line, xs, want)
		}
		se.step(KindContinue)
	}
	se.end()
}

func TestGoroutinesAreToldApart(t *testing.T) {
	src := `package main

import "fmt"

func work(n int, done chan int) {
	done <- n * n
}

func main() {
	done := make(chan int)
	go work(3, done)
	fmt.Println(<-done)
}
`
	se := debug(t, src, Options{Breakpoints: []int{6}})
	s := se.next()
	if s.Goroutine == 1 {
		t.Fatalf("the goroutine in work is reported as main: %+v", s)
	}
	var ids []int
	for _, g := range s.Goroutines {
		ids = append(ids, g.ID)
	}
	if !slices.Contains(ids, 1) || !slices.Contains(ids, s.Goroutine) {
		t.Errorf("goroutines %+v lack main or the stopped one", s.Goroutines)
	}
	se.step(KindContinue)
	if out := se.end(); out != "9\n" {
		t.Errorf("output %q", out)
	}
}

func TestPauseStopsARunningLoop(t *testing.T) {
	src := `package main

func main() {
	n := 0
	for {
		n++
	}
}
`
	se := debug(t, src, Options{})
	// Wait until the loop runs (the last line passed in main is in it).
	for deadline := time.Now().Add(10 * time.Second); se.s.PanicLine(4) == 4; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the loop never ran")
		}
	}
	se.s.Pause()
	s := se.next()
	if s.Reason != ReasonPause || (s.Line != 6 && s.Line != 5) {
		t.Fatalf("stop %+v; want a pause inside the loop", s)
	}
	se.s.End()
}

// A breakpoint set while the program runs turns its line's switch on: the
// running loop stops there.
func TestBreakpointSetWhileRunningStops(t *testing.T) {
	src := `package main

func main() {
	n := 0
	for {
		n++
		if n == -1 {
			break
		}
	}
}
`
	se := debug(t, src, Options{})
	for deadline := time.Now().Add(10 * time.Second); se.s.PanicLine(4) == 4; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the loop never ran")
		}
	}
	se.s.SetBreakpoints([]int{7})
	s := se.next()
	if s.Reason != ReasonBreakpoint || s.Line != 7 {
		t.Fatalf("stop %+v; want the breakpoint on line 7", s)
	}
	se.s.End()
}

// The hooks' variables are the program's first: a function a package
// variable's initializer calls already stops at a breakpoint, and a debug
// run stops there first.
func TestStopsInsideAPackageVariablesInitializer(t *testing.T) {
	src := `package main

import "fmt"

var x = f()

func f() int {
	y := 2
	return y
}

func main() {
	fmt.Println(x)
}
`
	for _, opts := range []Options{{Breakpoints: []int{8}}, {StopAtStart: true}} {
		se := debug(t, src, opts)
		if s := se.next(); s.Line != 8 {
			t.Errorf("%+v: first stop on line %d; want 8", opts, s.Line)
		}
		se.step(KindContinue)
		if out := se.end(); out != "2\n" {
			t.Errorf("output %q", out)
		}
	}
}

func TestPanicLineIsTheFailingStatement(t *testing.T) {
	src := `package main

func f(xs []int) int {
	a := 1
	b := a + 1
	return xs[b]
}

func main() {
	f(nil)
}
`
	p, err := Instrument(src)
	if err != nil {
		t.Fatal(err)
	}
	s := New(p, Options{})
	_, err = runYaegi(t, p.Source, s)
	if err == nil {
		t.Fatal("no panic")
	}
	if got := s.PanicLine(4); got != 6 {
		t.Errorf("panic line %d; want 6", got)
	}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{3, "3"},
		{nil, "nil"},
		{syscallErrno(98), "EADDRINUSE"},
		{[]byte("hi\n\x00\x00"), `"hi\n" (len 5)`},
		{sockaddr4(53122), "127.0.0.1:53122"},
		{"a\tb", `"a\tb"`},
	} {
		if got := Render(tc.v); got != tc.want {
			t.Errorf("Render(%#v) = %s; want %s", tc.v, got, tc.want)
		}
	}
}

var _ sync.Mutex

var columns = regexp.MustCompile(`(\d+):\d+: `)

func lines(stderr string) string { return columns.ReplaceAllString(stderr, "$1: ") }

func syscallErrno(n int) any { return syscall.Errno(n) }
func sockaddr4(port int) any {
	return &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
}

// Calls sent while no debugger is attached skip naming their goroutine; a
// later pause still shows the goroutines waiting in them as blocked.
func TestPauseShowsCallsSentBeforeItAsBlocked(t *testing.T) {
	src := `package main

func main() {
	n := 0
	for {
		n++
	}
}
`
	for _, tc := range []struct {
		name  string
		calls []*wire.Call
		want  []string
	}{
		{"one call", []*wire.Call{{Op: wire.OpAccept, FD: 3}}, []string{"accept(3)"}},
		{"two calls", []*wire.Call{{Op: wire.OpAccept, FD: 3}, {Op: wire.OpRead, FD: 4, Size: 64}},
			[]string{"a call sent before the debugger attached", "a call sent before the debugger attached"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se := debug(t, src, Options{})
			release := make(chan struct{})
			defer close(release)
			sent := make(chan struct{}, len(tc.calls))
			call := se.s.WrapCalls(func(*wire.Call) (*wire.Result, error) {
				sent <- struct{}{}
				<-release
				return &wire.Result{}, nil
			})
			for _, c := range tc.calls {
				go func() {
					defer se.s.Done(se.s.Go())
					call(c)
				}()
			}
			for range tc.calls {
				<-sent
			}
			se.s.Pause()
			s := se.next()
			var blocked []string
			for _, g := range s.Goroutines {
				if g.State == StateBlocked {
					blocked = append(blocked, g.Call)
				}
			}
			if !slices.Equal(blocked, tc.want) {
				t.Errorf("blocked goroutines in %q; want %q (all: %+v)", blocked, tc.want, s.Goroutines)
			}
			se.s.End()
		})
	}
}
