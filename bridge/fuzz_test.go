package bridge

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native/wire"
)

// FuzzSessionFrames sends whatever bytes as one message of a real session,
// then a call of its own: the session must answer that call (the bridge
// neither crashed nor stalled), unless the message was over the size limit,
// which ends that session alone. Either way, the next page gets a session.
func FuzzSessionFrames(f *testing.F) {
	seed := func(records ...wire.Record) []byte {
		frame, err := wire.EncodeFrame(records...)
		if err != nil {
			f.Fatal(err)
		}
		return frame
	}
	f.Add(seed(wire.Record{Call: &wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}}))
	f.Add(seed(wire.Record{Call: &wire.Call{ID: 1, Op: wire.OpAccept, FD: 3}}, wire.Record{Call: &wire.Call{ID: 2, Op: wire.OpClose, FD: 3}}))
	f.Add(seed(wire.Record{Result: &wire.Result{ID: 1}}, wire.Record{Event: &wire.Event{Kind: "hello"}}))
	f.Add(seed(wire.Record{Call: &wire.Call{ID: 1, Op: wire.OpWrite, FD: 0, Data: []byte("x")}}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff})

	tb := fuzzBridge(f)
	f.Fuzz(func(t *testing.T, message []byte) {
		ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+tb.port+"/ws?token="+testToken, http.Header{"Origin": {tb.base}})
		if err != nil {
			t.Fatalf("the bridge gives no session: %v", err)
		}
		defer ws.Close()
		if err := ws.WriteMessage(websocket.BinaryMessage, message); err != nil {
			t.Fatal(err)
		}
		const probe = 1 << 62
		frame, _ := wire.EncodeFrame(wire.Record{Call: &wire.Call{ID: probe, Op: wire.OpLookupPort, Net: "tcp", Name: "80"}})
		if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, got, err := ws.ReadMessage()
			if err != nil {
				if len(message) > wire.MaxFrame && websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
					return
				}
				t.Fatalf("after a message of %d bytes: %v; want the probe's answer", len(message), err)
			}
			records, err := wire.DecodeFrame(got)
			if err != nil {
				t.Fatalf("the bridge sent a frame it cannot decode: %v", err)
			}
			for _, rec := range records {
				if rec.Result != nil && rec.Result.ID == probe {
					if rec.Result.Ret != 80 {
						t.Fatalf("probe: got %+v; want port 80", rec.Result)
					}
					return
				}
			}
		}
	})
}

// fuzzBridge is one bridge for every input of a fuzz run, with room for
// the sessions of the inputs still closing.
func fuzzBridge(f *testing.F) *testBridge {
	cfg, err := parseFlags([]string{"--port", "0", "--max-sessions", "1000", "--max-calls-per-second", "0"}, io.Discard)
	if err != nil {
		f.Fatal(err)
	}
	cfg.token = testToken
	b, err := listen(cfg, io.Discard)
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.serve(ctx) }()
	f.Cleanup(func() { cancel(); <-done })
	return &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port}
}
