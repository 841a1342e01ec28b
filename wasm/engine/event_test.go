package engine

import (
	"encoding/json"
	"testing"
)

// The hand-written encodings of output, call and result events are
// encoding/json's, byte for byte.
func TestHotEventsEncodeAsEncodingJSON(t *testing.T) {
	odd := "a\"b\\c<d>e&f\n\t\r\b\f\x01\u2028é\xff"
	for _, tc := range []struct {
		e    Event
		want any
	}{
		{Event{Type: TypeOutput, Stream: "stdout", Text: "listening on 127.0.0.1:9000\n"}, struct {
			Type   string `json:"type"`
			Stream string `json:"stream"`
			Text   string `json:"text"`
		}{TypeOutput, "stdout", "listening on 127.0.0.1:9000\n"}},
		{Event{Type: TypeOutput, Stream: "stderr", Text: odd}, struct {
			Type   string `json:"type"`
			Stream string `json:"stream"`
			Text   string `json:"text"`
		}{TypeOutput, "stderr", odd}},
		{Event{Type: TypeCall, ID: 1<<64 - 1, Text: `write(4, "hi\n")`}, struct {
			Type string `json:"type"`
			ID   uint64 `json:"id"`
			Text string `json:"text"`
		}{TypeCall, 1<<64 - 1, `write(4, "hi\n")`}},
		{Event{Type: TypeResult, ID: 7, Text: "= -1 EAGAIN " + odd, Failed: true}, struct {
			Type   string `json:"type"`
			ID     uint64 `json:"id"`
			Text   string `json:"text"`
			Failed bool   `json:"failed"`
		}{TypeResult, 7, "= -1 EAGAIN " + odd, true}},
		{Event{Type: TypeResult}, struct {
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
		got, err := tc.e.MarshalJSON()
		if err != nil || string(got) != string(want) {
			t.Errorf("%+v:\n got %s, %v\nwant %s", tc.e, got, err, want)
		}
	}
}

// A call event, by hand and by encoding/json. In WebAssembly:
// GOOS=js GOARCH=wasm go test -bench Event -run - -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasm/engine
func BenchmarkCallEvent(b *testing.B) {
	e := Event{Type: TypeCall, ID: 12345, Text: `write(5, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl")`}
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
			}{e.Type, e.ID, e.Text})
		}
	})
}
