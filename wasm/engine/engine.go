// Package engine runs one learner program at a time in a fresh yaegi
// interpreter that can import only the packages of wasm/exports, and reports
// what happens as Events: output, each socket call and its result,
// diagnostics placed in the source, and the end of the program.
package engine

import (
	"context"
	"errors"
	"fmt"
	"go/scanner"
	"io"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traefik/yaegi/interp"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/exports"
	"github.com/sockstep/sockstep/wasm/stepper"
)

// Host performs one call on the host: a runner's native.Session.Do, or the
// in-page runner's relay.
type Host func(ctx context.Context, c *wire.Call) (*wire.Result, error)

// ErrBusy is returned by Run while another program runs.
var ErrBusy = errors.New("a program is already running")

// ErrNotRunning is returned by Step, Pause and SetBreakpoints when no
// program runs.
var ErrNotRunning = errors.New("no program is running")

// Options say how a program runs.
type Options struct {
	// Debug stops the program at the first line main runs.
	Debug bool
	// Breakpoints are lines to stop at.
	Breakpoints []int
	// Plain runs the learner's source as written, without the stepper's
	// hooks: no stops, and panics placed at their function's first
	// statement. For measuring what the hooks cost.
	Plain bool
}

// closeTimeout bounds the closing of a finished program's descriptors.
const closeTimeout = 5 * time.Second

// Engine runs programs whose socket calls go through call, and reports
// events to emit. emit is called from the program's goroutines, one event
// at a time, and should return quickly.
type Engine struct {
	call    Host
	emit    func(Event)
	ids     atomic.Uint64 // numbers call events, so the page pairs them with results
	running atomic.Bool
	stepper atomic.Pointer[stepper.Stepper] // the running program's
	ahead   *ahead                          // the next run's interpreter, made by Prepare
}

// ahead is an interpreter made before its program is known, with the run
// and the stepper it is bound to.
type ahead struct {
	r *run
	s *stepper.Stepper
	i *interp.Interpreter
}

// Prepare makes the next run's interpreter now, for a runner waiting for its
// program: the packages' symbols and the stepper's hooks, about a third of
// what a program takes from Run to its first call (yaegi compiles the
// generic parts of the standard library into every interpreter). The next
// RunWith that is not Plain compiles its program there. It must not be
// called while a program runs.
func (e *Engine) Prepare() error {
	r := e.newRun()
	s := stepper.Ahead()
	i, err := r.interpreter(s)
	if err != nil {
		return err
	}
	e.ahead = &ahead{r: r, s: s, i: i}
	return nil
}

func (e *Engine) newRun() *run {
	r := &run{e: e, open: map[int]bool{}, exited: make(chan string, 1)}
	r.out = &output{emit: e.emit}
	return r
}

// New returns an engine.
func New(call Host, emit func(Event)) *Engine {
	return &Engine{call: call, emit: emit}
}

// Run compiles and runs source as package main, and returns when main
// returns, os.Exit is called, the program panics, or ctx ends. The error is
// what the exit event says (nil when the program ended normally). When the
// program ends, descriptors it left open are closed, as the kernel does at
// exit, and goroutines it left running print nothing more and are parked at
// their next socket call (their pending calls return ECANCELED when ctx
// ends). A goroutine that never makes a call — a busy loop — runs on until
// the worker is terminated, which is how the page stops a program.
func (e *Engine) Run(ctx context.Context, source string) error {
	return e.RunWith(ctx, source, Options{})
}

// RunWith is Run with options: stop at the start, breakpoints. Every run
// but a Plain one carries the stepper's hooks, so a running program can be
// paused and its panics are placed at the failing line.
func (e *Engine) RunWith(ctx context.Context, source string, opts Options) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrBusy
	}
	defer e.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ahead := e.ahead
	e.ahead = nil
	if opts.Plain {
		ahead = nil // the interpreter made ahead carries the stepper's hooks
	}
	var r *run
	if ahead != nil {
		r = ahead.r
	} else {
		r = e.newRun()
	}
	r.ctx, r.opts = ctx, opts
	defer e.stepper.Store(nil)
	return r.run(source, ahead)
}

// Step resumes a paused program: kind is one of stepper's kinds (step,
// into, out, call, continue), goroutine the one to step (0: the one that
// stopped).
func (e *Engine) Step(kind string, goroutine int) error {
	s := e.stepper.Load()
	if s == nil {
		return ErrNotRunning
	}
	return s.Step(kind, goroutine)
}

// Pause stops the running program at the next line a goroutine reaches.
func (e *Engine) Pause() error {
	s := e.stepper.Load()
	if s == nil {
		return ErrNotRunning
	}
	s.Pause()
	return nil
}

// SetBreakpoints replaces the running program's breakpoints.
func (e *Engine) SetBreakpoints(lines []int) error {
	s := e.stepper.Load()
	if s == nil {
		return ErrNotRunning
	}
	s.SetBreakpoints(lines)
	return nil
}

// run is one program's run.
type run struct {
	e       *Engine
	ctx     context.Context
	out     *output
	exited  chan string // os.Exit's status, from any goroutine
	opts    Options
	stepper *stepper.Stepper // nil for a plain run

	mu       sync.Mutex
	ended    bool
	open     map[int]bool // descriptors the program holds
	inPanic  bool         // a panic is unwinding and was reported
	panicked *place
}

func (r *run) run(source string, ahead *ahead) error {
	i, prog, err := r.compile(source, ahead)
	if err != nil {
		return r.failed(err)
	}

	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- result{interp.Panic{Value: v}}
			}
		}()
		if s := r.stepper; s != nil {
			defer s.Done(s.Go()) // main is goroutine 1
		}
		// Not ExecuteWithContext: in yaegi v0.16.1 its goroutine writes the
		// named results that its cancelled return also writes (a data race),
		// and the browser stops a program by terminating the worker anyway.
		_, err := i.Execute(prog)
		done <- result{err}
	}()
	select {
	case res := <-done:
		if res.err == nil {
			return r.finish("")
		}
		return r.failed(res.err)
	case status := <-r.exited:
		return r.finish(status)
	case <-r.ctx.Done():
		return r.finish("stopped: " + r.ctx.Err().Error())
	}
}

// compile compiles source with the stepper's hooks (unless the run is
// plain), in the interpreter made ahead if there is one. Should the hooked
// source not compile, the learner's own source is compiled in a fresh
// interpreter: its errors are the learner's, with yaegi's exact positions;
// and should it compile, it runs without stepping rather than not at all.
func (r *run) compile(source string, ahead *ahead) (*interp.Interpreter, *interp.Program, error) {
	if !r.opts.Plain {
		if p, err := stepper.Instrument(source); err == nil {
			opts := stepper.Options{
				Breakpoints: r.opts.Breakpoints,
				StopAtStart: r.opts.Debug,
				OnStop:      r.paused,
				OnResume:    func() { r.out.event(ResumedEvent{}) },
			}
			var s *stepper.Stepper
			var i *interp.Interpreter
			if ahead != nil {
				s, i = ahead.s, ahead.i
				s.Begin(p, opts)
			} else {
				s = stepper.New(p, opts)
				if i, err = r.interpreter(s); err != nil {
					return nil, nil, err
				}
			}
			if prog, err := compile(i, p.Source); err == nil {
				r.stepper = s
				r.e.stepper.Store(s)
				return i, prog, nil
			}
		}
	}
	i, err := r.interpreter(nil)
	if err != nil {
		return nil, nil, err
	}
	prog, err := compile(i, source)
	if err == nil && !r.opts.Plain {
		r.out.writer("stderr").Write([]byte("sockstep: stepping is off for this program: the stepper could not instrument it\n"))
	}
	return i, prog, err
}

// interpreter is a fresh yaegi with the program's packages, and the
// stepper's hooks when s is not nil.
func (r *run) interpreter(s *stepper.Stepper) (*interp.Interpreter, error) {
	i := interp.New(interp.Options{
		Stdin:                strings.NewReader(""),
		Stdout:               r.out.writer("stdout"),
		Stderr:               &panicFilter{r.out.writer("stderr"), r.panicking},
		Args:                 []string{"main"},
		SourcecodeFilesystem: noFiles{},
	})
	call := exports.Perform(r.syscall)
	if s != nil {
		call = s.WrapCalls(r.syscall)
		if err := i.Use(s.Exports()); err != nil {
			return nil, err
		}
	}
	if err := r.use(i, call); err != nil {
		return nil, err
	}
	return i, nil
}

// paused reports a stop of the program.
func (r *run) paused(s stepper.Stop) {
	r.out.event(PausedEvent{Goroutine: s.Goroutine, Line: s.Line, Reason: s.Reason, Call: s.Call,
		Variables: s.Variables, Goroutines: s.Goroutines, TraceLength: s.TraceLen})
}

func (r *run) use(i *interp.Interpreter, call exports.Perform) error {
	syms := exports.Standard()
	for _, x := range []interp.Exports{exports.Syscall(call), exports.Net(call)} {
		for k, v := range x {
			syms[k] = v
		}
	}
	if err := i.Use(syms); err != nil {
		return err
	}
	// After Use, whose stdlib fix-up would keep the real os.Stdout: the
	// program's os.Stdout and os.Stderr print where fmt.Println does, and
	// os.Exit ends this run instead of the worker.
	stdout, stderr := io.Writer(r.out.writer("stdout")), io.Writer(r.out.writer("stderr"))
	return i.Use(interp.Exports{"os/os": {
		"Stdout": reflect.ValueOf(&stdout).Elem(),
		"Stderr": reflect.ValueOf(&stderr).Elem(),
		"Exit":   reflect.ValueOf(r.exit),
	}})
}

// compile is i.Compile, with yaegi's own panics turned into errors: some
// constructs it does not support panic instead of failing.
func compile(i *interp.Interpreter, source string) (prog *interp.Program, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("the interpreter cannot run this program: %v", v)
		}
	}()
	return i.Compile(source)
}

// exit is the program's os.Exit: it ends the run and parks the goroutine
// that called it, so nothing after it runs, as in a real exit.
func (r *run) exit(code int) {
	status := ""
	if code != 0 {
		status = "exit status " + strconv.Itoa(code)
	}
	select {
	case r.exited <- status:
	default:
	}
	select {}
}

// failed reports err from compiling or running, then finishes.
func (r *run) failed(err error) error {
	var p interp.Panic
	if errors.As(err, &p) {
		r.mu.Lock()
		at, reported := r.panicked, r.inPanic
		r.mu.Unlock()
		if at != nil && !reported {
			r.out.event(DiagnosticEvent{Kind: KindPanic, Line: at.line, Column: at.column, Message: fmt.Sprint("panic: ", p.Value)})
		}
		return r.finish(fmt.Sprint("panic: ", p.Value))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return r.finish("stopped: " + err.Error())
	}
	ds := diagnose(err)
	for _, d := range ds {
		r.out.event(d)
	}
	if len(ds) == 0 {
		return r.finish(err.Error())
	}
	return r.finish(fmt.Sprintf("the program did not compile: %d:%d: %s", ds[0].Line, ds[0].Column, ds[0].Message))
}

// finish ends the run: it reports the exit, closes the descriptors the
// program left open, and returns status as an error.
func (r *run) finish(status string) error {
	r.mu.Lock()
	r.ended = true
	var fds []int
	for fd := range r.open {
		fds = append(fds, fd)
	}
	r.open = nil
	r.mu.Unlock()
	slices.Sort(fds)

	if r.stepper != nil {
		r.stepper.End()
	}
	r.out.event(ExitEvent{Error: status})
	r.out.close()
	for _, fd := range fds {
		r.closeQuietly(fd)
	}
	if status == "" {
		return nil
	}
	return errors.New(status)
}

// closeQuietly closes a descriptor of a finished program, untraced, as the
// kernel does at exit.
func (r *run) closeQuietly(fd int) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	r.e.call(ctx, &wire.Call{Op: wire.OpClose, FD: fd, AtExit: true})
}

// syscall performs one call of the program's syscall or net package,
// tracing it.
func (r *run) syscall(c *wire.Call) (*wire.Result, error) {
	if r.isEnded() {
		select {} // a goroutine left behind by a finished program
	}
	r.mu.Lock()
	r.inPanic = false // the program goes on: a later panic is a new one
	r.mu.Unlock()
	id := r.e.ids.Add(1)
	r.out.event(CallEvent{ID: id, Text: wire.FormatCall(c)})
	res, err := r.e.call(r.ctx, c)
	if !r.track(c, res) {
		select {}
	}
	if err != nil {
		r.out.event(ResultEvent{ID: id, Text: "no answer: " + err.Error(), Failed: true})
		return nil, err
	}
	r.out.event(ResultEvent{ID: id, Text: wire.FormatResult(c, res), Failed: res.Failed()})
	return res, nil
}

// track keeps the set of open descriptors. It reports false when the
// program has ended meanwhile; a descriptor it was just given is closed.
func (r *run) track(c *wire.Call, res *wire.Result) bool {
	opened := res != nil && !res.Failed() && (c.Op == wire.OpSocket || c.Op == wire.OpAccept || c.Op == wire.OpEpollCreate)
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		if opened {
			r.closeQuietly(res.Ret)
		}
		return false
	}
	defer r.mu.Unlock()
	switch {
	case opened:
		r.open[res.Ret] = true
	case c.Op == wire.OpClose && res != nil && res.Errno != "EBADF":
		delete(r.open, c.FD) // Linux frees the descriptor even when close fails
	}
	return true
}

func (r *run) isEnded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// panicking receives each frame yaegi reports as a panic unwinds, innermost
// first. The first frame is reported at once: a panic in a goroutine other
// than main ends the whole Go program right after, with no other chance to
// say where it happened.
func (r *run) panicking(at place) {
	if r.stepper != nil {
		// yaegi names the first statement of the function; the hooks know
		// the line that function last reached.
		if line := r.stepper.PanicLine(at.line); line != at.line {
			at.line, at.column = line, 0
		}
	}
	r.mu.Lock()
	first := !r.inPanic
	if first {
		r.inPanic = true
		r.panicked = &at
	}
	r.mu.Unlock()
	if first {
		r.out.event(DiagnosticEvent{Kind: KindPanic, Line: at.line, Column: at.column, Message: "panic in " + at.function})
	}
}

// panicFilter passes what the program writes to stderr on to the output,
// except yaegi's panic frames, which become diagnostics.
type panicFilter struct {
	w       io.Writer
	onPanic func(place)
}

func (f *panicFilter) Write(p []byte) (int, error) {
	if at, ok := parsePanicLine(p); ok {
		f.onPanic(at)
		return len(p), nil
	}
	return f.w.Write(p)
}

// noFiles is the interpreter's source file system: learner code imports only
// what wasm/exports provides, never source from disk.
type noFiles struct{}

func (noFiles) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// position matches the place yaegi puts before a compile error: `4:2: …`,
// or `_.go:5:3: …` from the parser.
var position = regexp.MustCompile(`^(?:\S*\.go:)?(\d+):(\d+): ((?s).*)$`)

// missingImport matches yaegi's error for an import it has no symbols for.
var missingImport = regexp.MustCompile(`^import ("[^"]*") error: unable to find source`)

// maxDiagnostics bounds how many parse errors are reported at once.
const maxDiagnostics = 10

// diagnose places a compile error in the source.
func diagnose(err error) []DiagnosticEvent {
	var list scanner.ErrorList
	if errors.As(err, &list) {
		var ds []DiagnosticEvent
		for _, e := range list {
			if len(ds) == maxDiagnostics {
				break
			}
			ds = append(ds, DiagnosticEvent{Kind: KindCompile, Line: e.Pos.Line, Column: e.Pos.Column, Message: e.Msg})
		}
		return ds
	}
	m := position.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	msg := m[3]
	if im := missingImport.FindStringSubmatch(msg); im != nil {
		msg = "package " + im[1] + " is not available here; a program may import " + strings.Join(importable(), ", ")
	}
	return []DiagnosticEvent{{Kind: KindCompile, Line: line, Column: col, Message: msg}}
}

// importable lists the packages learner code may import.
func importable() []string {
	return append(slices.Clone(exports.StandardPackages), "net", "syscall")
}
