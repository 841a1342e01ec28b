package engine

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/stepper"
)

// The hand-written encodings of output, call and result events are
// encoding/json's, byte for byte.
func TestHotEventsEncodeAsEncodingJSON(t *testing.T) {
	odd := "a\"b\\c<d>e&f\n\t\r\b\f\x01\u2028é\xff"
	for _, tc := range []struct {
		e    Event
		want any
	}{
		{OutputEvent{Stream: "stdout", Text: "listening on 127.0.0.1:9000\n"}, struct {
			Type   string `json:"type"`
			Stream string `json:"stream"`
			Text   string `json:"text"`
		}{TypeOutput, "stdout", "listening on 127.0.0.1:9000\n"}},
		{OutputEvent{Stream: "stderr", Text: odd}, struct {
			Type   string `json:"type"`
			Stream string `json:"stream"`
			Text   string `json:"text"`
		}{TypeOutput, "stderr", odd}},
		{CallEvent{ID: 1<<64 - 1, Text: `write(4, "hi\n")`}, struct {
			Type string `json:"type"`
			ID   uint64 `json:"id"`
			Text string `json:"text"`
		}{TypeCall, 1<<64 - 1, `write(4, "hi\n")`}},
		{ResultEvent{ID: 7, Text: "= -1 EAGAIN " + odd, Failed: true}, struct {
			Type   string `json:"type"`
			ID     uint64 `json:"id"`
			Text   string `json:"text"`
			Failed bool   `json:"failed"`
		}{TypeResult, 7, "= -1 EAGAIN " + odd, true}},
		{ResultEvent{}, struct {
			Type   string `json:"type"`
			ID     uint64 `json:"id"`
			Text   string `json:"text"`
			Failed bool   `json:"failed"`
		}{Type: TypeResult}},
	} {
		want, err := json.Marshal(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(tc.e)
		if err != nil || string(got) != string(want) {
			t.Errorf("%+v:\n got %s, %v\nwant %s", tc.e, got, err, want)
		}
	}
}

// Every event encodes as the page has always read it, byte for byte: type
// first, then the fields in the order engine.d.ts lists them, [] rather than
// null for an empty list.
func TestEventsEncodeAsThePageReadsThem(t *testing.T) {
	vars := []stepper.Var{{Name: "fd", Value: "3", Changed: true}}
	gs := []stepper.Goroutine{{ID: 1, Line: 4, State: "paused"}}
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{OutputEvent{Stream: "stdout", Text: "<hi>\n"}, `{"type":"output","stream":"stdout","text":"\u003chi\u003e\n"}`},
		{CallEvent{ID: 5, Text: "accept(3)"}, `{"type":"call","id":5,"text":"accept(3)"}`},
		{ResultEvent{ID: 5, Text: "-1 EAGAIN", Failed: true}, `{"type":"result","id":5,"text":"-1 EAGAIN","failed":true}`},
		{DiagnosticEvent{Kind: KindPanic, Line: 3, Column: 4, Message: "panic in main.f"}, `{"type":"diagnostic","kind":"panic","line":3,"column":4,"message":"panic in main.f"}`},
		{ExitEvent{}, `{"type":"exit","error":""}`},
		{ExitEvent{Error: "exit status 3"}, `{"type":"exit","error":"exit status 3"}`},
		{DisconnectedEvent{Message: "gone"}, `{"type":"disconnected","message":"gone"}`},
		{SocketsEvent{}, `{"type":"sockets","sockets":[],"message":""}`},
		{SocketsEvent{Sockets: []wire.SocketInfo{{State: "LISTEN"}}, Message: "m"}, `{"type":"sockets","sockets":[{"state":"LISTEN"}],"message":"m"}`},
		{ClientDataEvent{Client: 3, Data: []byte("ok\n")}, `{"type":"client-data","client":3,"data":"b2sK"}`},
		{ClientEOFEvent{Client: 3, Message: "m"}, `{"type":"client-eof","client":3,"message":"m"}`},
		{ClientClosedEvent{Client: 3, Message: "closed"}, `{"type":"client-closed","client":3,"message":"closed"}`},
		{PausedEvent{Goroutine: 2, Line: 7, Reason: "call", Call: "about to call bind(3)", TraceLength: 9},
			`{"type":"paused","goroutine":2,"line":7,"reason":"call","call":"about to call bind(3)","variables":[],"goroutines":[],"traceLength":9}`},
		{PausedEvent{Goroutine: 2, Line: 7, Reason: "step", Variables: vars, Goroutines: gs},
			`{"type":"paused","goroutine":2,"line":7,"reason":"step","call":"","variables":[{"name":"fd","value":"3","changed":true}],"goroutines":[{"id":1,"line":4,"state":"paused","call":""}],"traceLength":0}`},
		{ResumedEvent{}, `{"type":"resumed"}`},
		{SessionEvent{ID: "5f0c"}, `{"type":"session","id":"5f0c"}`},
		{Answer(9, map[string]int{"pid": 3}, nil), `{"type":"answer","id":9,"value":{"pid":3}}`},
		{Answer(9, nil, nil), `{"type":"answer","id":9,"value":null}`},
		{Answer(9, 1, errors.New("no program is running")), `{"type":"answer","id":9,"value":null,"error":"no program is running"}`},
		{Answer(9, nil, errors.New("")), `{"type":"answer","id":9,"value":null,"error":"failed"}`},
		{Answer(9, []DiagnosticEvent{{Kind: KindCompile, Line: 1, Message: "x"}}, nil),
			`{"type":"answer","id":9,"value":[{"type":"diagnostic","kind":"compile","line":1,"column":0,"message":"x"}]}`},
		{ProcessEvent{Pid: 77, Name: "main.go"}, `{"type":"process","pid":77,"name":"main.go"}`},
		{SkippedEvent{Calls: 4, Bytes: 5}, `{"type":"skipped","calls":4,"bytes":5}`},
	} {
		if got := string(tc.e.AppendJSON([]byte("x"))); got != "x"+tc.want {
			t.Errorf("%T %+v:\n got %s\nwant x%s", tc.e, tc.e, got, tc.want)
		}
		if got, err := json.Marshal(tc.e); err != nil || string(got) != tc.want {
			t.Errorf("json.Marshal(%T): got %s, %v; want %s", tc.e, got, err, tc.want)
		}
	}
}

// A call event, by hand and by encoding/json. In WebAssembly:
// GOOS=js GOARCH=wasm go test -bench Event -run - -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasm/engine
func BenchmarkCallEvent(b *testing.B) {
	e := CallEvent{ID: 12345, Text: `write(5, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl")`}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			e.MarshalJSON()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(struct {
				Type string `json:"type"`
				ID   uint64 `json:"id"`
				Text string `json:"text"`
			}{TypeCall, e.ID, e.Text})
		}
	})
}
