package wire

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
)

// The hand-written Call encoder writes exactly encoding/json's bytes.
func TestCallHeaderIsEncodingJSONs(t *testing.T) {
	for _, c := range []*Call{
		{ID: 1, Op: OpWrite, FD: 4, Data: []byte("x")},
		{ID: 1<<64 - 1, Op: OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM", Proto: 6},
		{ID: 3, Op: OpBind, FD: 3, Addr: netip.MustParseAddrPort("127.0.0.1:9000")},
		{ID: 4, Op: OpConnect, FD: 3, Addr: netip.MustParseAddrPort("[::1%lo]:80")},
		{ID: 5, Op: OpSetsockopt, FD: -1, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: -7},
		{ID: 6, Op: OpRead, FD: 4, Size: 32 << 10},
		{ID: 7, Op: OpShutdown, FD: 4, How: "SHUT_WR"},
		{ID: 8, Op: OpLookupPort, Net: "tcp", Name: "a\"b\\c<d>e&f\n\t\r\b\f\x01\x1f\u2028\u2029é\xff\xc3"},
		{ID: 9, Op: OpClientSend, Client: 12},
		{ID: 10, Op: OpClose, FD: 5, AtExit: true},
		{ID: 12, Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_ADD", Target: 4, Value: 0x80000001, Tag: 4 | 7<<32},
		{ID: 13, Op: OpSendto, FD: 3, Data: []byte("x"), Value: 0x40, Addr: netip.MustParseAddrPort("127.0.0.1:9017")},
		{ID: 11, Op: "odd op ✓"},
		{},
	} {
		want, err := json.Marshal(Record{Call: c})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCallRecord(nil, c); !bytes.Equal(got, want) {
			t.Errorf("call %+v:\n got %s\nwant %s", c, got, want)
		}
	}
}

// The fast Call decoder takes what appendCallRecord (and encoding/json)
// writes for calls of plain names, and reads it as encoding/json does.
func TestCallHeaderFastPath(t *testing.T) {
	for _, tc := range []struct {
		call *Call
		fast bool
	}{
		{&Call{ID: 1, Op: OpWrite, FD: 4}, true},
		{&Call{ID: 2, Op: OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM", Proto: 6}, true},
		{&Call{ID: 3, Op: OpBind, FD: 3, Addr: netip.MustParseAddrPort("127.0.0.1:9000")}, true},
		{&Call{ID: 4, Op: OpConnect, FD: 3, Addr: netip.MustParseAddrPort("[::1%lo]:80")}, true},
		{&Call{ID: 5, Op: OpSetsockopt, FD: -1, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: -7}, true},
		{&Call{ID: 6, Op: OpRead, FD: 4, Size: 32 << 10}, true},
		{&Call{ID: 7, Op: OpShutdown, FD: 4, How: "SHUT_WR"}, true},
		{&Call{ID: 8, Op: OpLookupPort, Net: "tcp", Name: "http"}, true},
		{&Call{ID: 9, Op: OpClientSend, Client: 12}, true},
		{&Call{ID: 10, Op: OpClose, FD: 5, AtExit: true}, true},
		{&Call{ID: 13, Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_MOD", Target: 4, Value: 5, Tag: 4}, true},
		{&Call{ID: 14, Op: OpEpollWait, FD: 5, Size: 64, Value: -1}, true},
		{&Call{ID: 15, Op: OpEpollCtl, Tag: 1<<64 - 1}, false}, // more digits than the fast path reads
		{&Call{}, true},
		{&Call{ID: 1<<64 - 1, Op: OpRead}, false},             // more digits than the fast path reads
		{&Call{ID: 11, Op: OpLookupPort, Name: "a<b"}, false}, // escaped by encoding/json
		{&Call{ID: 12, Op: "odd op ✓"}, false},
	} {
		header := appendCallRecord(nil, tc.call)
		got, ok := decodeCallFast(header)
		if ok != tc.fast {
			t.Errorf("%s: fast path %v; want %v", header, ok, tc.fast)
		}
		if ok && !reflect.DeepEqual(got, tc.call) {
			t.Errorf("%s: got %+v; want %+v", header, got, tc.call)
		}
	}
}

// FuzzCallHeader checks that whatever the fast decoder accepts,
// encoding/json reads the same way.
func FuzzCallHeader(f *testing.F) {
	for _, h := range []string{
		`{"call":{"id":1,"op":"read","fd":4,"size":32768}}`,
		`{"call":{"id":2,"op":"bind","fd":3,"addr":"127.0.0.1:9000"}}`,
		`{"call":{"id":3,"op":"setsockopt","fd":-1,"level":"SOL_SOCKET","option":"SO_REUSEADDR","value":-7}}`,
		`{"call":{"id":4,"op":"close","fd":5,"atExit":true,"atExit":false}}`,
		`{"call":{"id":5,"op":"lookupport","network":"tcp","service":"http","client":9,"proto":-0}}`,
		`{"call":{"id":6,"op":"shutdown","how":"SHUT_WR","family":"","type":"x","addr":""}}`,
		`{"call":{"id":7,"op":"epoll_ctl","fd":5,"option":"EPOLL_CTL_ADD","value":1,"target":4,"tag":4,"target":3}}`,
	} {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		got, ok := decodeCallFast(h)
		if !ok {
			return
		}
		var rec Record
		if err := json.Unmarshal(h, &rec); err != nil {
			t.Fatalf("fast path took %s, which encoding/json refuses: %v", h, err)
		}
		if want := (Record{Call: got}); !reflect.DeepEqual(rec, want) {
			t.Fatalf("%s: fast %+v; encoding/json %+v", h, got, rec.Call)
		}
	})
}

// The fast Result decoder takes what encoding/json writes for the common
// results, and reads it as encoding/json does.
func TestResultHeaderFastPath(t *testing.T) {
	for _, tc := range []struct {
		res  *Result
		fast bool
	}{
		{&Result{ID: 1, Ret: 6}, true},
		{&Result{ID: 2, Ret: -1, Errno: "EAGAIN"}, true},
		{&Result{ID: 3, Ret: 4, Addr: netip.MustParseAddrPort("127.0.0.1:53122")}, true},
		{&Result{ID: 4, Addr: netip.MustParseAddrPort("[::1]:9000")}, true},
		{&Result{ID: 999999999999999999}, true},
		{&Result{ID: 1<<64 - 1}, false}, // more digits than the fast path reads
		{&Result{ID: 5, Refused: &Refusal{Rule: "ports", Message: "no"}}, false},
		{&Result{ID: 6, Errno: "E<>"}, false}, // escaped by encoding/json
	} {
		header, err := json.Marshal(Record{Result: tc.res})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeResultFast(header)
		if ok != tc.fast {
			t.Errorf("%s: fast path %v; want %v", header, ok, tc.fast)
		}
		if ok && !reflect.DeepEqual(got, tc.res) {
			t.Errorf("%s: got %+v; want %+v", header, got, tc.res)
		}
	}
}

// FuzzResultHeader checks that whatever the fast decoder accepts,
// encoding/json reads the same way.
func FuzzResultHeader(f *testing.F) {
	for _, h := range []string{
		`{"result":{"id":1,"ret":6}}`,
		`{"result":{"id":2,"ret":-1,"errno":"EAGAIN"}}`,
		`{"result":{"id":3,"ret":4,"addr":"127.0.0.1:5"}}`,
		`{"result":{"id":01,"ret":4}}`,
		`{"result":{"id":1,"id":2,"ret":-0}}`,
	} {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		got, ok := decodeResultFast(h)
		if !ok {
			return
		}
		var rec Record
		if err := json.Unmarshal(h, &rec); err != nil {
			t.Fatalf("fast path took %s, which encoding/json refuses: %v", h, err)
		}
		if want := (Record{Result: got}); !reflect.DeepEqual(rec, want) {
			t.Fatalf("%s: fast %+v; encoding/json %+v", h, got, rec.Result)
		}
	})
}

// The per-call headers, by hand and by encoding/json. In WebAssembly:
// GOOS=js GOARCH=wasm go test -bench Header -run - -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./native/wire
func BenchmarkCallHeader(b *testing.B) {
	c := &Call{ID: 12345, Op: OpRead, FD: 5, Size: 32 << 10}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			appendCallRecord(make([]byte, 0, 128), c)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(Record{Call: c})
		}
	})
}

func BenchmarkCallHeaderDecode(b *testing.B) {
	h := []byte(`{"call":{"id":12345,"op":"read","fd":5,"size":32768}}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			decodeCallFast(h)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var rec Record
			json.Unmarshal(h, &rec)
		}
	})
}

func BenchmarkResultHeader(b *testing.B) {
	h := []byte(`{"result":{"id":12345,"ret":64}}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			decodeResultFast(h)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var rec Record
			json.Unmarshal(h, &rec)
		}
	})
}
