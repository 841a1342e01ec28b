package engine

import (
	"encoding/json"
	"strconv"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/stepper"
)

// Event types, as docs/architecture.md and site/src/engine.d.ts list them.
const (
	TypeOutput       = "output"        // Stream, Text
	TypeCall         = "call"          // ID, Text
	TypeResult       = "result"        // ID, Text, Failed
	TypeDiagnostic   = "diagnostic"    // Kind, Line, Column, Message
	TypeExit         = "exit"          // Error
	TypeDisconnected = "disconnected"  // Message
	TypeSockets      = "sockets"       // Sockets, Message
	TypeClientData   = "client-data"   // Client, Data
	TypeClientEOF    = "client-eof"    // Client, Message
	TypeClientClosed = "client-closed" // Client, Message
	TypePaused       = "paused"        // Goroutine, Line, Reason, Text (the call), Variables, Goroutines, TraceLength
	TypeResumed      = "resumed"       // nothing more
	TypeSession      = "session"       // Session
	TypeAnswer       = "answer"        // ID, Value or Error: settles the page's request ID
	TypeProcess      = "process"       // Pid, Text (its name): a runner process started the program
	TypeSkipped      = "skipped"       // Calls, Bytes: left out under a flood, before the events after it
)

// Diagnostic kinds.
const (
	KindCompile = "compile"
	KindPanic   = "panic"
)

// Event is one thing the engine reports to the page. Only the fields of its
// Type are set, and only those are encoded.
type Event struct {
	Type    string
	Stream  string // output: "stdout" or "stderr"
	Text    string // output: what was printed; call: the call; result: what it returned
	ID      uint64 // call, result: matches a result to its call
	Failed  bool   // result: a kernel error or a policy refusal
	Kind    string // diagnostic: KindCompile or KindPanic
	Line    int    // diagnostic: 1-based
	Column  int    // diagnostic: 1-based, 0 when unknown
	Message string // diagnostic, disconnected, sockets (what is unknown), client-eof, client-closed
	Error   string // exit: empty when the program ended normally

	Sockets     []wire.SocketInfo   // sockets: the whole table
	Client      uint64              // client-data, client-eof, client-closed: the client panel's id
	Data        []byte              // client-data: the bytes received (base64 in JSON)
	Goroutine   int                 // paused: the goroutine that stopped
	Reason      string              // paused: breakpoint, step, call or pause
	Variables   []stepper.Var       // paused: in scope at Line
	Goroutines  []stepper.Goroutine // paused: every goroutine
	TraceLength int                 // paused: call events sent before the stop
	Session     string              // session: the bridge's id of this page's session, for its HTTP API
	Value       any                 // answer: the request's result (JSON); nil for none
	Pid         int                 // process: the runner's process id
	Calls       int                 // skipped: call events left out (their results too)
	Bytes       int                 // skipped: bytes of output left out
}

// FromBridge turns an event the bridge pushed into the page's event; ok is
// false for events the page is not told about (hello).
func FromBridge(e *wire.Event) (ev Event, ok bool) {
	switch e.Kind {
	case wire.EventHello:
		// The hello names the session: the page needs the id to ask the
		// bridge to check a lesson against this session.
		return Event{Type: TypeSession, Session: e.Session}, e.Session != ""
	case wire.EventSockets:
		return Event{Type: TypeSockets, Sockets: e.Sockets, Message: e.Message}, true
	case wire.EventClientData:
		return Event{Type: TypeClientData, Client: e.Client, Data: e.Data}, true
	case wire.EventClientEOF:
		return Event{Type: TypeClientEOF, Client: e.Client, Message: e.Message}, true
	case wire.EventClientClosed:
		return Event{Type: TypeClientClosed, Client: e.Client, Message: e.Message}, true
	}
	return Event{}, false
}

// MarshalJSON encodes exactly the fields of e's type, so the page sees the
// shapes the architecture documents.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// AppendJSON appends MarshalJSON's encoding to b.
func (e Event) AppendJSON(b []byte) []byte {
	switch e.Type {
	// The three on every call and every print are written by hand, as
	// encoding/json would: its reflection is slow in WebAssembly.
	case TypeOutput:
		b = append(b, `{"type":"output","stream":`...)
		b = wire.AppendJSONString(b, e.Stream)
		b = append(b, `,"text":`...)
		return append(wire.AppendJSONString(b, e.Text), '}')
	case TypeCall:
		b = append(b, `{"type":"call","id":`...)
		b = strconv.AppendUint(b, e.ID, 10)
		b = append(b, `,"text":`...)
		return append(wire.AppendJSONString(b, e.Text), '}')
	case TypeResult:
		b = append(b, `{"type":"result","id":`...)
		b = strconv.AppendUint(b, e.ID, 10)
		b = append(b, `,"text":`...)
		b = wire.AppendJSONString(b, e.Text)
		b = append(b, `,"failed":`...)
		return append(strconv.AppendBool(b, e.Failed), '}')
	}
	// The rest are rare: encoding/json, which cannot fail on these types.
	enc, err := json.Marshal(e.shape())
	if err != nil {
		panic("engine: encode event: " + err.Error())
	}
	return append(b, enc...)
}

// shape is e as the value encoding/json encodes for the rarer types.
func (e Event) shape() any {
	switch e.Type {
	case TypeDiagnostic:
		return struct {
			Type    string `json:"type"`
			Kind    string `json:"kind"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Message string `json:"message"`
		}{e.Type, e.Kind, e.Line, e.Column, e.Message}
	case TypeExit:
		return struct {
			Type  string `json:"type"`
			Error string `json:"error"`
		}{e.Type, e.Error}
	case TypeSession:
		return struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}{e.Type, e.Session}
	case TypeSockets:
		sockets := e.Sockets
		if sockets == nil {
			sockets = []wire.SocketInfo{} // [] rather than null: no sockets
		}
		return struct {
			Type    string            `json:"type"`
			Sockets []wire.SocketInfo `json:"sockets"`
			Message string            `json:"message"`
		}{e.Type, sockets, e.Message}
	case TypeClientData:
		return struct {
			Type   string `json:"type"`
			Client uint64 `json:"client"`
			Data   []byte `json:"data"`
		}{e.Type, e.Client, e.Data}
	case TypeClientEOF, TypeClientClosed:
		return struct {
			Type    string `json:"type"`
			Client  uint64 `json:"client"`
			Message string `json:"message"`
		}{e.Type, e.Client, e.Message}
	case TypePaused:
		vars, gs := e.Variables, e.Goroutines
		if vars == nil {
			vars = []stepper.Var{}
		}
		if gs == nil {
			gs = []stepper.Goroutine{}
		}
		return struct {
			Type        string              `json:"type"`
			Goroutine   int                 `json:"goroutine"`
			Line        int                 `json:"line"`
			Reason      string              `json:"reason"`
			Call        string              `json:"call"`
			Variables   []stepper.Var       `json:"variables"`
			Goroutines  []stepper.Goroutine `json:"goroutines"`
			TraceLength int                 `json:"traceLength"`
		}{e.Type, e.Goroutine, e.Line, e.Reason, e.Text, vars, gs, e.TraceLength}
	case TypeResumed:
		return struct {
			Type string `json:"type"`
		}{e.Type}
	case TypeAnswer:
		return struct {
			Type  string `json:"type"`
			ID    uint64 `json:"id"`
			Value any    `json:"value"`
			Error string `json:"error,omitempty"`
		}{e.Type, e.ID, e.Value, e.Error}
	case TypeProcess:
		return struct {
			Type string `json:"type"`
			Pid  int    `json:"pid"`
			Name string `json:"name"`
		}{e.Type, e.Pid, e.Text}
	case TypeSkipped:
		return struct {
			Type  string `json:"type"`
			Calls int    `json:"calls"`
			Bytes int    `json:"bytes"`
		}{e.Type, e.Calls, e.Bytes}
	default:
		return struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}{e.Type, e.Message}
	}
}
