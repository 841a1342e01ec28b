package bridge

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native/wire"
)

// await reads records until want accepts one, failing the test after a
// bounded wait; the records before it are dropped.
func await(t *testing.T, ws *websocket.Conn, what string, want func(wire.Record) bool) wire.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	ws.SetReadDeadline(deadline)
	var last *wire.Event
	for time.Now().Before(deadline) {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v (last sockets event: %+v)", what, err, last)
		}
		records, err := wire.DecodeFrame(frame)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		for _, rec := range records {
			if rec.Event != nil && rec.Event.Kind == wire.EventSockets {
				last = rec.Event
			}
			if want(rec) {
				return rec
			}
		}
	}
	t.Fatalf("no %s within 10s", what)
	return wire.Record{}
}

// send sends one call as a frame of its own, as the page does.
func send(t *testing.T, ws *websocket.Conn, c wire.Call) {
	t.Helper()
	frame, err := wire.EncodeFrame(wire.Record{Call: &c})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
}

func result(id uint64) func(wire.Record) bool {
	return func(rec wire.Record) bool { return rec.Result != nil && rec.Result.ID == id }
}

func event(kind string) func(wire.Record) bool {
	return func(rec wire.Record) bool { return rec.Event != nil && rec.Event.Kind == kind }
}

// table waits for a sockets event with an entry that match accepts.
func table(t *testing.T, ws *websocket.Conn, what string, match func(wire.SocketInfo) bool) {
	t.Helper()
	await(t, ws, what, func(rec wire.Record) bool {
		if rec.Event == nil || rec.Event.Kind != wire.EventSockets {
			return false
		}
		for _, e := range rec.Event.Sockets {
			if match(e) {
				return true
			}
		}
		return false
	})
}

// TestSocketsAndClients drives a session as the page does: the sockets table
// arrives unasked as it changes, the client panel talks to the learner's
// server, and the TIME_WAIT a run leaves shows in the next session.
func TestSocketsAndClients(t *testing.T) {
	tb := newTestBridge(t, nil)
	ws := dialSession(t, tb)
	addr := listenOnFreePort(t, ws)
	table(t, ws, "the listener", func(e wire.SocketInfo) bool {
		return e.FD == 3 && e.State == "LISTEN" && e.Local == addr
	})

	send(t, ws, wire.Call{ID: 10, Op: wire.OpClientOpen, Addr: addr})
	open := await(t, ws, "client-open's result", result(10)).Result
	if open.Failed() || open.Ret != 1 {
		t.Fatalf("client-open: %+v", open)
	}
	// Nobody accepts yet: the kernel queues the client, and the table shows it.
	table(t, ws, "the client in the accept queue", func(e wire.SocketInfo) bool {
		return e.FD == 3 && e.Queue != nil && *e.Queue == 1
	})
	send(t, ws, wire.Call{ID: 11, Op: wire.OpAccept, FD: 3})
	if r := await(t, ws, "accept", result(11)).Result; r.Ret != 4 || r.Addr != open.Addr {
		t.Fatalf("accept: got %+v; want 4 with the client's address %v", r, open.Addr)
	}
	send(t, ws, wire.Call{ID: 12, Op: wire.OpClientSend, Client: 1, Data: []byte("hi\r\n")})
	await(t, ws, "client-send", result(12))
	send(t, ws, wire.Call{ID: 13, Op: wire.OpRead, FD: 4, Size: 100})
	if r := await(t, ws, "read", result(13)).Result; string(r.Data) != "hi\r\n" {
		t.Fatalf("the server read %q; want %q", r.Data, "hi\r\n")
	}
	send(t, ws, wire.Call{ID: 14, Op: wire.OpWrite, FD: 4, Data: []byte("yo\n")})
	if e := await(t, ws, "client-data", event(wire.EventClientData)).Event; e.Client != 1 || string(e.Data) != "yo\n" {
		t.Fatalf("client-data: got client %d %q; want client 1 %q", e.Client, e.Data, "yo\n")
	}
	// The server closes first; the client sees the end of the stream, closes
	// too, and the server's side waits in TIME_WAIT, owned by no descriptor.
	send(t, ws, wire.Call{ID: 15, Op: wire.OpClose, FD: 4})
	await(t, ws, "client-eof", event(wire.EventClientEOF))
	send(t, ws, wire.Call{ID: 16, Op: wire.OpClientClose, Client: 1})
	if e := await(t, ws, "client-closed", event(wire.EventClientClosed)).Event; e.Client != 1 || e.Message != "closed" {
		t.Fatalf("client-closed: %+v", e)
	}
	timeWait := func(e wire.SocketInfo) bool {
		return e.Orphan && e.FD == 0 && e.State == "TIME_WAIT" && e.Local == addr
	}
	table(t, ws, "TIME_WAIT on the server's port", timeWait)

	// Stop, then Run: a new session still shows it, from the bridge's memory.
	ws.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tb.mu.Lock()
		n := len(tb.sessions)
		tb.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first session did not end within 5s")
		}
	}
	table(t, dialSession(t, tb), "the previous session's TIME_WAIT", timeWait)
}

func TestClientRefusedByPolicy(t *testing.T) {
	tb := newTestBridge(t, nil)
	ws := dialSession(t, tb)
	r := do(t, ws, wire.Call{ID: 1, Op: wire.OpClientOpen, Addr: mustAddrPort(t, "192.0.2.1:9000")})
	if r.Refused == nil || r.Refused.Flag != "--allow-external" {
		t.Errorf("client-open to another machine: got %+v; want a refusal naming --allow-external", r)
	}
	if r := do(t, ws, wire.Call{ID: 2, Op: wire.OpClientSend, Client: 7, Data: []byte("x")}); r.Errno != "EBADF" {
		t.Errorf("client-send to no client: got %+v; want EBADF", r)
	}
}

func TestRecentPorts(t *testing.T) {
	var r recentPorts
	t0 := time.Unix(1000, 0)
	r.add([]uint16{9000, 8080}, t0)
	r.add([]uint16{9001}, t0.Add(time.Minute))
	for _, tc := range []struct {
		at   time.Duration
		want []uint16
	}{
		{0, []uint16{8080, 9000, 9001}},
		{portMemory, []uint16{8080, 9000, 9001}},
		{portMemory + time.Second, []uint16{9001}},
		{portMemory + time.Minute + time.Second, []uint16{}},
	} {
		if got := r.list(t0.Add(tc.at)); len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("at +%v: got %v; want %v", tc.at, got, tc.want)
		}
	}
	many := make([]uint16, maxRememberedPorts+10)
	for i := range many {
		many[i] = uint16(i + 1)
	}
	r.add(many, t0)
	if got := len(r.list(t0)); got != maxRememberedPorts {
		t.Errorf("after %d ports: remembers %d; want at most %d", len(many), got, maxRememberedPorts)
	}
}
