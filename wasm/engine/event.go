package engine

import (
	"encoding/json"
	"strconv"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/stepper"
)

// Event types: the "type" of each event in JSON, as docs/architecture.md
// and site/src/engine.d.ts list them.
const (
	TypeOutput       = "output"
	TypeCall         = "call"
	TypeResult       = "result"
	TypeDiagnostic   = "diagnostic"
	TypeExit         = "exit"
	TypeDisconnected = "disconnected"
	TypeSockets      = "sockets"
	TypeClientData   = "client-data"
	TypeClientEOF    = "client-eof"
	TypeClientClosed = "client-closed"
	TypePaused       = "paused"
	TypeResumed      = "resumed"
	TypeSession      = "session"
	TypeAnswer       = "answer"
	TypeProcess      = "process"
	TypeSkipped      = "skipped"
)

// Diagnostic kinds.
const (
	KindCompile = "compile"
	KindPanic   = "panic"
)

// Event is one thing the engine reports to the page: one of the *Event
// types below, each the Go twin of the site/src/engine.d.ts interface of
// the same name (TestPageTypesMatch holds them together). Its JSON is
// {"type": Type(), then its fields, named by their json tags}.
type Event interface {
	Type() string
	// AppendJSON appends the event's JSON to b.
	AppendJSON(b []byte) []byte
}

// OutputEvent is what the program printed.
type OutputEvent struct {
	Stream string `json:"stream"` // "stdout" or "stderr"
	Text   string `json:"text"`
}

// CallEvent is a socket call the program made, which waits for its result.
type CallEvent struct {
	ID   uint64 `json:"id"`   // matches the ResultEvent that completes it
	Text string `json:"text"` // the call, strace-like: accept(3)
}

// ResultEvent is what call ID returned.
type ResultEvent struct {
	ID     uint64 `json:"id"`
	Text   string `json:"text"`   // 4 (peer 127.0.0.1:53122), -1 EADDRINUSE: …
	Failed bool   `json:"failed"` // a kernel error or a policy refusal
}

// DiagnosticEvent is an error at a place in the learner's source.
type DiagnosticEvent struct {
	Kind    string `json:"kind"`   // KindCompile or KindPanic
	Line    int    `json:"line"`   // 1-based
	Column  int    `json:"column"` // 1-based, 0 when unknown
	Message string `json:"message"`
}

// ExitEvent says the program ended.
type ExitEvent struct {
	Error string `json:"error"` // empty when the program ended normally
}

// DisconnectedEvent says the in-page runner lost the bridge.
type DisconnectedEvent struct {
	Message string `json:"message"`
}

// SocketsEvent is the session's whole sockets table, after a change.
type SocketsEvent struct {
	Sockets []wire.SocketInfo `json:"sockets"` // [] rather than null when there are none
	Message string            `json:"message"` // what the host could not tell; empty when all is known
}

// ClientDataEvent is bytes one of the client panel's clients received.
type ClientDataEvent struct {
	Client uint64 `json:"client"` // the client panel's id
	Data   []byte `json:"data"`   // base64 in JSON
}

// ClientEOFEvent says the server closed its side of a client's connection.
type ClientEOFEvent struct {
	Client  uint64 `json:"client"`
	Message string `json:"message"`
}

// ClientClosedEvent says a client is gone, and why.
type ClientClosedEvent struct {
	Client  uint64 `json:"client"`
	Message string `json:"message"`
}

// PausedEvent says the program stopped: every goroutine parks at its next
// line.
type PausedEvent struct {
	Goroutine   int                 `json:"goroutine"`   // the goroutine that stopped
	Line        int                 `json:"line"`        // 1-based
	Reason      string              `json:"reason"`      // breakpoint, step, call or pause
	Call        string              `json:"call"`        // reason call: the call about to be made; else empty
	Variables   []stepper.Var       `json:"variables"`   // in scope at Line
	Goroutines  []stepper.Goroutine `json:"goroutines"`  // every goroutine
	TraceLength int                 `json:"traceLength"` // call events sent before the stop
}

// ResumedEvent says a paused program runs again.
type ResumedEvent struct{}

// SessionEvent names the bridge's session of this page, for its HTTP API.
type SessionEvent struct {
	ID string `json:"id"`
}

// AnswerEvent settles the page's request ID: Value on success, or Error.
type AnswerEvent struct {
	ID    uint64 `json:"id"`
	Value any    `json:"value"`           // the request's result; nil for none
	Error string `json:"error,omitempty"` // why the request failed, in words
}

// ProcessEvent says a runner process started the program.
type ProcessEvent struct {
	Pid  int    `json:"pid"`
	Name string `json:"name"` // as ps and ss -tlnp show it
}

// SkippedEvent counts what was left out under a flood, before the events
// after it.
type SkippedEvent struct {
	Calls int `json:"calls"` // call events left out (their results too)
	Bytes int `json:"bytes"` // bytes of output left out
}

func (OutputEvent) Type() string       { return TypeOutput }
func (CallEvent) Type() string         { return TypeCall }
func (ResultEvent) Type() string       { return TypeResult }
func (DiagnosticEvent) Type() string   { return TypeDiagnostic }
func (ExitEvent) Type() string         { return TypeExit }
func (DisconnectedEvent) Type() string { return TypeDisconnected }
func (SocketsEvent) Type() string      { return TypeSockets }
func (ClientDataEvent) Type() string   { return TypeClientData }
func (ClientEOFEvent) Type() string    { return TypeClientEOF }
func (ClientClosedEvent) Type() string { return TypeClientClosed }
func (PausedEvent) Type() string       { return TypePaused }
func (ResumedEvent) Type() string      { return TypeResumed }
func (SessionEvent) Type() string      { return TypeSession }
func (AnswerEvent) Type() string       { return TypeAnswer }
func (ProcessEvent) Type() string      { return TypeProcess }
func (SkippedEvent) Type() string      { return TypeSkipped }

// The three on every call and every print are written by hand, as
// encoding/json would: its reflection is slow in WebAssembly.

func (e OutputEvent) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"output","stream":`...)
	b = wire.AppendJSONString(b, e.Stream)
	b = append(b, `,"text":`...)
	return append(wire.AppendJSONString(b, e.Text), '}')
}

func (e CallEvent) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"call","id":`...)
	b = strconv.AppendUint(b, e.ID, 10)
	b = append(b, `,"text":`...)
	return append(wire.AppendJSONString(b, e.Text), '}')
}

func (e ResultEvent) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"result","id":`...)
	b = strconv.AppendUint(b, e.ID, 10)
	b = append(b, `,"text":`...)
	b = wire.AppendJSONString(b, e.Text)
	b = append(b, `,"failed":`...)
	return append(strconv.AppendBool(b, e.Failed), '}')
}

// The rest are rare: encoding/json, of the event as a type of the same
// fields without methods (which would recurse).

func (e DiagnosticEvent) AppendJSON(b []byte) []byte {
	type fields DiagnosticEvent
	return appendTyped(b, TypeDiagnostic, fields(e))
}

func (e ExitEvent) AppendJSON(b []byte) []byte {
	type fields ExitEvent
	return appendTyped(b, TypeExit, fields(e))
}

func (e DisconnectedEvent) AppendJSON(b []byte) []byte {
	type fields DisconnectedEvent
	return appendTyped(b, TypeDisconnected, fields(e))
}

func (e SocketsEvent) AppendJSON(b []byte) []byte {
	type fields SocketsEvent
	if e.Sockets == nil {
		e.Sockets = []wire.SocketInfo{}
	}
	return appendTyped(b, TypeSockets, fields(e))
}

func (e ClientDataEvent) AppendJSON(b []byte) []byte {
	type fields ClientDataEvent
	return appendTyped(b, TypeClientData, fields(e))
}

func (e ClientEOFEvent) AppendJSON(b []byte) []byte {
	type fields ClientEOFEvent
	return appendTyped(b, TypeClientEOF, fields(e))
}

func (e ClientClosedEvent) AppendJSON(b []byte) []byte {
	type fields ClientClosedEvent
	return appendTyped(b, TypeClientClosed, fields(e))
}

func (e PausedEvent) AppendJSON(b []byte) []byte {
	type fields PausedEvent
	if e.Variables == nil {
		e.Variables = []stepper.Var{}
	}
	if e.Goroutines == nil {
		e.Goroutines = []stepper.Goroutine{}
	}
	return appendTyped(b, TypePaused, fields(e))
}

func (e ResumedEvent) AppendJSON(b []byte) []byte {
	return appendTyped(b, TypeResumed, struct{}{})
}

func (e SessionEvent) AppendJSON(b []byte) []byte {
	type fields SessionEvent
	return appendTyped(b, TypeSession, fields(e))
}

func (e AnswerEvent) AppendJSON(b []byte) []byte {
	type fields AnswerEvent
	return appendTyped(b, TypeAnswer, fields(e))
}

func (e ProcessEvent) AppendJSON(b []byte) []byte {
	type fields ProcessEvent
	return appendTyped(b, TypeProcess, fields(e))
}

func (e SkippedEvent) AppendJSON(b []byte) []byte {
	type fields SkippedEvent
	return appendTyped(b, TypeSkipped, fields(e))
}

// appendTyped appends {"type":typ, then the fields of fields}, a struct
// encoding/json cannot fail on.
func appendTyped(b []byte, typ string, fields any) []byte {
	enc, err := json.Marshal(fields)
	if err != nil {
		panic("engine: encode " + typ + " event: " + err.Error())
	}
	b = append(b, `{"type":`...)
	b = wire.AppendJSONString(b, typ)
	if len(enc) > len("{}") {
		b = append(append(b, ','), enc[1:]...)
	} else {
		b = append(b, '}')
	}
	return b
}

// MarshalJSON encodes an event as the page reads it: a DiagnosticEvent
// among check's answers, any event in a test.

func (e OutputEvent) MarshalJSON() ([]byte, error)       { return e.AppendJSON(nil), nil }
func (e CallEvent) MarshalJSON() ([]byte, error)         { return e.AppendJSON(nil), nil }
func (e ResultEvent) MarshalJSON() ([]byte, error)       { return e.AppendJSON(nil), nil }
func (e DiagnosticEvent) MarshalJSON() ([]byte, error)   { return e.AppendJSON(nil), nil }
func (e ExitEvent) MarshalJSON() ([]byte, error)         { return e.AppendJSON(nil), nil }
func (e DisconnectedEvent) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }
func (e SocketsEvent) MarshalJSON() ([]byte, error)      { return e.AppendJSON(nil), nil }
func (e ClientDataEvent) MarshalJSON() ([]byte, error)   { return e.AppendJSON(nil), nil }
func (e ClientEOFEvent) MarshalJSON() ([]byte, error)    { return e.AppendJSON(nil), nil }
func (e ClientClosedEvent) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }
func (e PausedEvent) MarshalJSON() ([]byte, error)       { return e.AppendJSON(nil), nil }
func (e ResumedEvent) MarshalJSON() ([]byte, error)      { return e.AppendJSON(nil), nil }
func (e SessionEvent) MarshalJSON() ([]byte, error)      { return e.AppendJSON(nil), nil }
func (e AnswerEvent) MarshalJSON() ([]byte, error)       { return e.AppendJSON(nil), nil }
func (e ProcessEvent) MarshalJSON() ([]byte, error)      { return e.AppendJSON(nil), nil }
func (e SkippedEvent) MarshalJSON() ([]byte, error)      { return e.AppendJSON(nil), nil }

// FromBridge turns an event the bridge pushed into the page's event; ok is
// false for events the page is not told about (hello).
func FromBridge(e *wire.Event) (ev Event, ok bool) {
	switch e.Kind {
	case wire.EventHello:
		// The hello names the session: the page needs the id to ask the
		// bridge to check a lesson against this session.
		return SessionEvent{ID: e.Session}, e.Session != ""
	case wire.EventSockets:
		return SocketsEvent{Sockets: e.Sockets, Message: e.Message}, true
	case wire.EventClientData:
		return ClientDataEvent{Client: e.Client, Data: e.Data}, true
	case wire.EventClientEOF:
		return ClientEOFEvent{Client: e.Client, Message: e.Message}, true
	case wire.EventClientClosed:
		return ClientClosedEvent{Client: e.Client, Message: e.Message}, true
	}
	return nil, false
}
