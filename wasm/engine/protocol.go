package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sockstep/sockstep/native/wire"
)

// The page⇄engine protocol. Whichever engine runs the learner's program —
// a runner process behind the bridge (the default) or engine.wasm in the
// page's worker — the page sends it Requests and reads one stream of events
// back, JSON arrays of Event. An answer is an event too (AnswerEvent), so it
// reaches the page after the events its request caused. Mirrored by
// site/src/engine.d.ts (Request, AnswerEvent); TestPageTypesMatch keeps
// the two in step.

// Methods of a Request.
const (
	// MethodRun starts Source; it answers {pid} (a runner's process id, 0
	// in the page) once the program started. The exit event says how it
	// ended.
	MethodRun = "run"
	// MethodStep resumes a paused program: Kind (step, into, out, call,
	// continue), Goroutine (0: the one that stopped).
	MethodStep = "step"
	// MethodPause stops the running program at the next line a goroutine
	// reaches.
	MethodPause = "pause"
	// MethodSetBreakpoints replaces the running program's breakpoints with
	// Lines.
	MethodSetBreakpoints = "setBreakpoints"
	// MethodStop ends the running program: the runner gets SIGTERM, then
	// SIGKILL after a grace period. It answers at once; the exit event
	// follows.
	MethodStop = "stop"
	// MethodClient is one of the client panel's operations: Op (open, send,
	// shutdown, close), Addr for open, Client and Data for the others. open
	// answers {id, local}, send the bytes sent, the others null.
	MethodClient = "client"
	// MethodCheck compiles Source with the same interpreter and exports as
	// a run, without running it, and answers its diagnostics (an array,
	// empty when it compiles). engine.wasm only: the editor asks it while
	// the learner types.
	MethodCheck = "check"
	// MethodFormat answers Source formatted as gofmt does, or an error
	// that places the first syntax error. engine.wasm only.
	MethodFormat = "format"
)

// Request is one thing the page asks of an engine. Only the fields its
// Method uses are set.
type Request struct {
	ID          uint64 `json:"id"`                    // chosen by the page; the answer event carries it back
	Method      string `json:"method"`                // one of the Method* constants
	Source      string `json:"source,omitempty"`      // run, check, format: the program
	Name        string `json:"name,omitempty"`        // run: the file's workspace name (main.go, lessons/04-accepting/main.go), the runner process's name
	Debug       bool   `json:"debug,omitempty"`       // run: stop at the first line main runs
	Breakpoints []int  `json:"breakpoints,omitempty"` // run: 1-based lines to stop at
	Kind        string `json:"kind,omitempty"`        // step: step, into, out, call or continue
	Goroutine   int    `json:"goroutine,omitempty"`   // step: the goroutine to step; 0 for the one that stopped
	Lines       []int  `json:"lines,omitempty"`       // setBreakpoints: 1-based lines
	Op          string `json:"op,omitempty"`          // client: open, send, shutdown or close
	Addr        string `json:"addr,omitempty"`        // client open: where to connect, 127.0.0.1:9000
	Client      uint64 `json:"client,omitempty"`      // client send, shutdown, close: the client's id
	Data        string `json:"data,omitempty"`        // client send: the text to send
}

// MaxRequest bounds one encoded Request: a program of up to MaxSource bytes
// and the rest.
const (
	MaxSource  = 1 << 20
	MaxRequest = MaxSource + 64<<10
)

// ParseRequest decodes and checks one Request. Its errors are sentences
// for the page.
func ParseRequest(data []byte) (Request, error) {
	var r Request
	if len(data) > MaxRequest {
		return r, fmt.Errorf("a request may be at most %d bytes, this one is %d", MaxRequest, len(data))
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("malformed request: %v", err)
	}
	return r, r.Validate()
}

// Validate reports what is wrong with r, in a sentence.
func (r *Request) Validate() error {
	lines := func(name string, ls []int) error {
		for _, l := range ls {
			if l < 1 {
				return fmt.Errorf("%s: %s must be 1-based line numbers, not %d", r.Method, name, l)
			}
		}
		return nil
	}
	switch r.Method {
	case MethodRun, MethodCheck, MethodFormat:
		if r.Source == "" && r.Method != MethodFormat {
			return fmt.Errorf("%s: no source", r.Method)
		}
		if len(r.Source) > MaxSource {
			return fmt.Errorf("%s: a program may be at most %d bytes", r.Method, MaxSource)
		}
		return lines("breakpoints", r.Breakpoints)
	case MethodStep:
		switch r.Kind {
		case "step", "into", "out", "call", "continue":
		default:
			return fmt.Errorf("step: unknown kind %q: use step, into, out, call or continue", r.Kind)
		}
		if r.Goroutine < 0 {
			return fmt.Errorf("step: goroutine must be 0 or a goroutine's number, not %d", r.Goroutine)
		}
	case MethodPause, MethodStop:
	case MethodSetBreakpoints:
		return lines("lines", r.Lines)
	case MethodClient:
		_, err := r.ClientCall()
		return err
	case "":
		return errors.New("a request needs a method")
	default:
		return fmt.Errorf("unknown method %q", r.Method)
	}
	return nil
}

// Answer is the event that settles request id: value on success, or the
// error in words.
func Answer(id uint64, value any, err error) AnswerEvent {
	e := AnswerEvent{ID: id, Value: value}
	if err != nil {
		e.Value, e.Error = nil, err.Error()
		if e.Error == "" {
			e.Error = "failed"
		}
	}
	return e
}

// ClientCall is the wire call of a client request.
func (r *Request) ClientCall() (*wire.Call, error) {
	return ClientCall(r.Op, r.Addr, r.Client, []byte(r.Data))
}

// Control performs a request that steers the running program — step,
// pause, setBreakpoints — for the page's worker and the runner alike.
func (e *Engine) Control(r Request) error {
	switch r.Method {
	case MethodStep:
		return e.Step(r.Kind, r.Goroutine)
	case MethodPause:
		return e.Pause()
	case MethodSetBreakpoints:
		return e.SetBreakpoints(r.Lines)
	}
	return fmt.Errorf("%s does not steer a running program", r.Method)
}
