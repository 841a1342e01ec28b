package stepper

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/traefik/yaegi/interp"

	"github.com/sockstep/sockstep/native/wire"
)

// Kinds of step, as the page names them.
const (
	KindStep     = "step"     // to the next line of this function or an outer one
	KindInto     = "into"     // to the next line, in a function this line calls if it calls one
	KindOut      = "out"      // to the next line of the calling function
	KindCall     = "call"     // to the next socket call of any goroutine, before it is sent
	KindContinue = "continue" // to the next breakpoint
)

// Reasons a program stops.
const (
	ReasonBreakpoint = "breakpoint"
	ReasonStep       = "step"
	ReasonCall       = "call"
	ReasonPause      = "pause"
)

// Goroutine states.
const (
	StateRunning = "running"
	StatePaused  = "paused"
	StateBlocked = "blocked"
)

// Var is one variable in scope at a stop.
type Var struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Changed bool   `json:"changed"` // differs from this goroutine's previous stop
}

// Goroutine is one goroutine of the program at a stop.
type Goroutine struct {
	ID    int    `json:"id"`    // 1 is main, then in the order they started
	Line  int    `json:"line"`  // the last line it passed, 0 when not known yet
	State string `json:"state"` // running, paused or blocked
	Call  string `json:"call"`  // blocked: the call it waits in, `accept(3)`
}

// Stop is what the page shows when the program stops.
type Stop struct {
	Goroutine  int         // the goroutine that stopped
	Line       int         // where
	Reason     string      // ReasonBreakpoint, ReasonStep, ReasonCall, ReasonPause
	Call       string      // ReasonCall: `about to call bind(3, 127.0.0.1:9000)`
	Variables  []Var       // in scope at Line
	Goroutines []Goroutine // every goroutine, by ID
	TraceLen   int         // socket calls sent before this stop
}

// Options configure a Stepper.
type Options struct {
	Breakpoints []int      // lines to stop at
	StopAtStart bool       // stop at the first line main runs
	OnStop      func(Stop) // called, from the stopping goroutine, when the program stops
	OnResume    func()     // called when a stopped program runs again
}

// ErrNotPaused is returned by Step when the program is not stopped.
var ErrNotPaused = errors.New("the program is not paused")

// Stepper decides, at each hook of an instrumented program, whether the
// goroutine stops there. While nobody steps (no step pending, no pause asked
// for) only breakpoint lines call it: the program's switches for the other
// lines are off.
type Stepper struct {
	prog *Program
	opts Options

	active atomic.Bool            // a step or a pause is pending, or the program is stopped
	bps    atomic.Pointer[[]bool] // by line
	calls  atomic.Int64           // socket calls sent so far
	// The program's own variables, which Attach hands over: by function, the
	// last line a hook passed there. The program writes them and PanicLine
	// reads them without synchronization (yaegi reads and writes interpreted
	// variables with plain loads and stores); a word is never torn.
	last atomic.Pointer[[]*int]

	mu     sync.Mutex
	cond   *sync.Cond
	byGoid map[int64]*goroutine
	byID   map[int]*goroutine
	// The program's switches, by index in prog.Lines: on, Hook is called at
	// that line. Written here, read by the program as last is.
	switches []*bool
	// Calls under way that were sent while no debugger was attached.
	unattached map[*wire.Call]struct{}
	nextID     int
	stopped    bool // everyone parks at their next hook
	pauseReq   bool
	step       *stepRequest
	epoch      int // counts resumes: a parked goroutine waits for the next
	current    int // the goroutine of the current stop
	ended      bool
}

type stepRequest struct {
	kind  string
	g     int
	depth int
}

// goroutine is what the stepper knows of one interpreted goroutine.
type goroutine struct {
	id    int
	goid  int64
	line  int
	state string
	call  string
	depth int
	// What its pending Stop does: park, record, or stop for reason.
	pending string
	names   string // the variables' names and values at its last recorded hook
	vals    []any
	prev    map[string]string // values at its previous stop
}

// New returns a stepper for prog.
func New(prog *Program, opts Options) *Stepper {
	s := Ahead()
	s.Begin(prog, opts)
	return s
}

// Ahead returns a stepper whose program is not known yet: its Exports can
// go into an interpreter made ahead of the program (a runner waiting for
// one), and Begin gives it the program before the program is compiled.
func Ahead() *Stepper {
	s := &Stepper{
		byGoid: map[int64]*goroutine{},
		byID:   map[int]*goroutine{},

		unattached: map[*wire.Call]struct{}{},
	}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Begin gives a stepper made Ahead its program and options; it is called
// once, before the program runs.
func (s *Stepper) Begin(prog *Program, opts Options) {
	s.prog, s.opts = prog, opts
	s.SetBreakpoints(opts.Breakpoints)
	if opts.StopAtStart {
		s.mu.Lock()
		s.pauseReq = true
		s.mu.Unlock()
		s.active.Store(true)
	}
}

// Exports is the hook package the instrumented source imports.
func (s *Stepper) Exports() interp.Exports {
	return interp.Exports{HookPackage + "/stepper": {
		"Hook":   reflect.ValueOf(s.Hook),
		"Attach": reflect.ValueOf(s.Attach),
		"Go":     reflect.ValueOf(s.Go),
		"Done":   reflect.ValueOf(s.Done),
	}}
}

// Attach is called by the instrumented program as it initializes, with its
// switches, one for each of prog.Lines in order, and its last lines, one for
// each function. Pointers of the wrong number are ignored: the program then
// runs without stopping.
func (s *Stepper) Attach(switches []*bool, last []*int) struct{} {
	if len(switches) != len(s.prog.Lines) || len(last) != s.prog.funcs {
		return struct{}{}
	}
	s.last.Store(&last)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.switches = switches
	s.switchLocked()
	return struct{}{}
}

// switchLocked sets the program's switches: every line's is on while a step
// or a pause is pending or the program is stopped (every goroutine must
// look in), only breakpoint lines' otherwise.
func (s *Stepper) switchLocked() {
	all := s.active.Load() && !s.ended
	for i, sw := range s.switches {
		*sw = all || (!s.ended && s.breakpoint(s.prog.Lines[i]))
	}
}

// SetBreakpoints replaces the breakpoints. Lines without a statement are
// kept: they take effect on no line, as in any debugger.
func (s *Stepper) SetBreakpoints(lines []int) {
	size := 0
	for _, l := range lines {
		size = max(size, l+1)
	}
	bp := make([]bool, size)
	for _, l := range lines {
		if l > 0 {
			bp[l] = true
		}
	}
	s.bps.Store(&bp)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.switchLocked()
}

func (s *Stepper) breakpoint(line int) bool {
	bp := *s.bps.Load()
	return line > 0 && line < len(bp) && bp[line]
}

// Hook is the hook before the statement on line, called while the line's
// switch is on, with the names of the variables in scope (space-separated)
// and their values. It blocks while the program is stopped.
func (s *Stepper) Hook(line int, names string, vals ...any) {
	if id := s.at(line); id != 0 {
		s.stop(id, names, vals...)
	}
}

// at decides what the goroutine does at line. It returns 0 to go on, or the
// goroutine's ID when stop must be called.
func (s *Stepper) at(line int) int {
	if !s.active.Load() && !s.breakpoint(line) {
		return 0
	}
	goid, depth := currentGoroutine(), stackDepth()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0
	}
	g := s.goroutineLocked(goid)
	g.line, g.depth, g.state, g.call = line, depth, StateRunning, ""
	switch {
	case s.stopped:
		g.pending = "park"
	case s.pauseReq:
		g.pending = ReasonPause
	case s.breakpoint(line):
		g.pending = ReasonBreakpoint
	case s.step != nil && s.step.g == g.id && s.stepDone(depth):
		g.pending = ReasonStep
	case s.step != nil && s.step.kind == KindCall:
		g.pending = "record"
	default:
		return 0
	}
	return g.id
}

func (s *Stepper) stepDone(depth int) bool {
	switch s.step.kind {
	case KindInto:
		return true
	case KindStep:
		return depth <= s.step.depth
	case KindOut:
		return depth < s.step.depth
	}
	return false
}

// stop does what at decided for goroutine id.
func (s *Stepper) stop(id int, names string, vals ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.byID[id]
	if g == nil || s.ended {
		return
	}
	g.names, g.vals = names, vals
	pending := g.pending
	g.pending = ""
	switch pending {
	case "record":
		return
	case "park":
	default:
		s.stopLocked(g, pending, "")
	}
	s.waitLocked(g)
}

// stopLocked stops the whole program at g's position, and tells the page.
func (s *Stepper) stopLocked(g *goroutine, reason, call string) {
	s.stopped, s.pauseReq, s.step = true, false, nil
	s.active.Store(true)
	s.switchLocked()
	s.current = g.id
	g.state = StatePaused
	vars := s.variablesLocked(g)
	s.attributeLocked()
	if s.opts.OnStop != nil {
		s.opts.OnStop(Stop{
			Goroutine:  g.id,
			Line:       g.line,
			Reason:     reason,
			Call:       call,
			Variables:  vars,
			Goroutines: s.goroutinesLocked(),
			TraceLen:   int(s.calls.Load()),
		})
	}
}

// waitLocked parks g until the program runs again.
func (s *Stepper) waitLocked(g *goroutine) {
	g.state = StatePaused
	for epoch := s.epoch; s.epoch == epoch && !s.ended; {
		s.cond.Wait()
	}
	g.state = StateRunning
}

func (s *Stepper) variablesLocked(g *goroutine) []Var {
	var names []string
	if g.names != "" {
		names = strings.Split(g.names, " ")
	}
	vars := make([]Var, 0, len(names))
	now := make(map[string]string, len(names))
	for i, n := range names {
		if i >= len(g.vals) {
			break
		}
		v := Render(g.vals[i])
		now[n] = v
		old, seen := g.prev[n]
		vars = append(vars, Var{Name: n, Value: v, Changed: g.prev != nil && (!seen || old != v)})
	}
	g.prev = now
	return vars
}

func (s *Stepper) goroutinesLocked() []Goroutine {
	out := make([]Goroutine, 0, len(s.byID))
	for _, g := range s.byID {
		out = append(out, Goroutine{ID: g.id, Line: g.line, State: g.state, Call: g.call})
	}
	slices.SortFunc(out, func(a, b Goroutine) int { return a.ID - b.ID })
	return out
}

// Step resumes a stopped program until goroutine id (0: the one that
// stopped) has made the step of kind; other goroutines run meanwhile, and
// any of them stops it at a breakpoint.
func (s *Stepper) Step(kind string, id int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || !s.stopped {
		return ErrNotPaused
	}
	if id == 0 {
		id = s.current
	}
	g := s.byID[id]
	switch kind {
	case KindStep, KindInto, KindOut:
		if g == nil {
			return fmt.Errorf("no goroutine %d", id)
		}
		if g.line == 0 {
			return fmt.Errorf("goroutine %d has not reached a line yet", id)
		}
		s.step = &stepRequest{kind: kind, g: id, depth: g.depth}
	case KindCall:
		s.step = &stepRequest{kind: kind}
	case KindContinue:
		s.step = nil
	default:
		return fmt.Errorf("unknown step %q: want step, into, out, call or continue", kind)
	}
	s.stopped = false
	s.active.Store(s.step != nil)
	s.switchLocked()
	s.epoch++
	s.cond.Broadcast()
	if s.opts.OnResume != nil {
		s.opts.OnResume()
	}
	return nil
}

// Pause stops the program at the next line any goroutine reaches, or
// before the next socket call.
func (s *Stepper) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.ended {
		return
	}
	s.pauseReq = true
	s.active.Store(true)
	s.switchLocked()
}

// End releases every parked goroutine and stops stopping: the program has
// ended.
func (s *Stepper) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	s.active.Store(false)
	s.bps.Store(&[]bool{})
	s.switchLocked()
	s.cond.Broadcast()
}

// Go registers the calling goroutine, which the instrumented `go` statement
// just started (or the engine's main), and returns its ID.
func (s *Stepper) Go() int {
	goid := currentGoroutine()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.goroutineLocked(goid).id
}

// Done forgets goroutine id, which has returned.
func (s *Stepper) Done(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.byID[id]; g != nil {
		delete(s.byID, id)
		delete(s.byGoid, g.goid)
	}
}

func (s *Stepper) goroutineLocked(goid int64) *goroutine {
	g := s.byGoid[goid]
	if g == nil {
		s.nextID++
		g = &goroutine{id: s.nextID, goid: goid, state: StateRunning}
		s.byGoid[goid] = g
		s.byID[g.id] = g
	}
	return g
}

// WrapCalls wraps the program's socket calls: the seam where Next call stops
// before a call is sent, and where a goroutine is seen blocked in one.
//
// Naming the calling goroutine costs a stack trace, a sixth of the worker's
// time under load, so a call does it only while a debugger is attached (a
// debug run, a breakpoint, a pause or step pending, a stop). A call begun
// before that is kept in a cheap set and attributed at the next stop.
func (s *Stepper) WrapCalls(next func(*wire.Call) (*wire.Result, error)) func(*wire.Call) (*wire.Result, error) {
	return func(c *wire.Call) (*wire.Result, error) {
		if !s.attached() {
			return s.callUnattached(next, c)
		}
		goid := currentGoroutine()
		text := wire.FormatCall(c)
		s.mu.Lock()
		g := s.goroutineLocked(goid)
		if !s.ended {
			switch {
			case s.stopped:
				s.waitLocked(g) // the world stopped while it ran toward this call
			case s.pauseReq || (s.step != nil && s.step.kind == KindCall):
				s.stopLocked(g, ReasonCall, "about to call "+text)
				s.waitLocked(g)
			}
		}
		g.state, g.call = StateBlocked, text
		s.calls.Add(1)
		s.mu.Unlock()

		res, err := next(c)

		s.mu.Lock()
		if g.call == text {
			g.state, g.call = StateRunning, ""
		}
		s.mu.Unlock()
		return res, err
	}
}

// attached reports whether someone may stop the program: the run is a
// debug run, a breakpoint is set, or a pause, a step or a stop is under way.
func (s *Stepper) attached() bool {
	return s.opts.StopAtStart || s.active.Load() || len(*s.bps.Load()) > 0
}

// callUnattached sends c without naming the goroutine. While it waits, c is
// in s.unattached, where a stop finds it (see attributeLocked).
func (s *Stepper) callUnattached(next func(*wire.Call) (*wire.Result, error), c *wire.Call) (*wire.Result, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.unattached[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.unattached, c)
		s.mu.Unlock()
	}()
	return next(c)
}

// attributeLocked marks the goroutines waiting in a call sent while no
// debugger was attached as blocked. Which goroutine waits is read from one
// trace of every goroutine, which a stop can afford; which call it waits in
// is named when only one such call is under way.
func (s *Stepper) attributeLocked() {
	if len(s.unattached) == 0 {
		return
	}
	waiting := waitingInUnattachedCall()
	text := "a call sent before the debugger attached"
	if len(s.unattached) == 1 {
		for c := range s.unattached {
			text = wire.FormatCall(c)
		}
	}
	for goid := range waiting {
		if g := s.byGoid[goid]; g != nil && g.state == StateRunning {
			g.state, g.call = StateBlocked, text
		}
	}
}

// PanicLine is where the function whose first statement is on line
// panicked: the last line a hook passed in that function. yaegi places a
// panic at its function's first statement.
func (s *Stepper) PanicLine(line int) int {
	if last := s.last.Load(); last != nil {
		if fn := s.prog.FuncOf(line); fn > 0 && fn <= len(*last) {
			if l := *(*last)[fn-1]; l > 0 {
				return l
			}
		}
	}
	return line
}

// currentGoroutine is the Go runtime's number of the calling goroutine:
// interpreted goroutines are real ones. It costs a stack trace, so hooks
// call it only when someone steps.
func currentGoroutine() int64 {
	var buf [64]byte
	return goroutineNumber(buf[:runtime.Stack(buf[:], false)])
}

// goroutineNumber reads N from a trace that begins `goroutine N [`.
func goroutineNumber(b []byte) int64 {
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}

// waitingInUnattachedCall is the set of goroutines, by the Go runtime's
// number, whose stacks are in callUnattached: waiting for the host.
func waitingInUnattachedCall() map[int64]bool {
	buf := make([]byte, 1<<16)
	for len(buf) < 64<<20 {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	waiting := map[int64]bool{}
	for _, trace := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(trace, []byte("stepper.(*Stepper).callUnattached(")) {
			waiting[goroutineNumber(trace)] = true
		}
	}
	return waiting
}

// stackDepth is the caller's depth in Go frames. yaegi runs every
// statement of one interpreted call at the same native depth and nests a
// call's frames deeper, so depths order interpreted frames.
func stackDepth() int {
	var pcs [4096]uintptr
	return runtime.Callers(0, pcs[:])
}
