package engine

import "encoding/json"

// Event types, as docs/architecture.md and site/src/engine.d.ts list them.
const (
	TypeOutput       = "output"       // Stream, Text
	TypeCall         = "call"         // ID, Text
	TypeResult       = "result"       // ID, Text, Failed
	TypeDiagnostic   = "diagnostic"   // Kind, Line, Column, Message
	TypeExit         = "exit"         // Error
	TypeDisconnected = "disconnected" // Message
	TypeSession      = "session"      // Session
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
	Message string // diagnostic, disconnected
	Error   string // exit: empty when the program ended normally
	Session string // session: the bridge's id of this page's session, for its HTTP API
}

// MarshalJSON encodes exactly the fields of e's type, so the page sees the
// shapes the architecture documents.
func (e Event) MarshalJSON() ([]byte, error) {
	switch e.Type {
	case TypeOutput:
		return json.Marshal(struct {
			Type   string `json:"type"`
			Stream string `json:"stream"`
			Text   string `json:"text"`
		}{e.Type, e.Stream, e.Text})
	case TypeCall:
		return json.Marshal(struct {
			Type string `json:"type"`
			ID   uint64 `json:"id"`
			Text string `json:"text"`
		}{e.Type, e.ID, e.Text})
	case TypeResult:
		return json.Marshal(struct {
			Type   string `json:"type"`
			ID     uint64 `json:"id"`
			Text   string `json:"text"`
			Failed bool   `json:"failed"`
		}{e.Type, e.ID, e.Text, e.Failed})
	case TypeDiagnostic:
		return json.Marshal(struct {
			Type    string `json:"type"`
			Kind    string `json:"kind"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Message string `json:"message"`
		}{e.Type, e.Kind, e.Line, e.Column, e.Message})
	case TypeExit:
		return json.Marshal(struct {
			Type  string `json:"type"`
			Error string `json:"error"`
		}{e.Type, e.Error})
	case TypeSession:
		return json.Marshal(struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}{e.Type, e.Session})
	default:
		return json.Marshal(struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}{e.Type, e.Message})
	}
}
