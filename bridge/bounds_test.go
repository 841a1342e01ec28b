package bridge

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native/wire"
)

// heapHeld is the heap the process holds from the system: in use, or free
// but not yet given back.
func heapHeld() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapSys - m.HeapReleased
}

// TestDataInFlightIsBounded: a page whose program writes to a peer that
// never reads cannot make the bridge hold more than --max-data-in-flight
// of its data: past it, the bridge reads no more of the page's calls until
// earlier ones finish. The calls wait rather than fail: when the peer reads,
// every write completes.
func TestDataInFlightIsBounded(t *testing.T) {
	const inFlight = 4 << 20
	tb := newTestBridge(t, func(c *config) { c.maxDataInFlight = inFlight })
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := peer.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	_, baseHeap := settleHeap()
	ws := dialSession(t, tb)
	do(t, ws, wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"})
	if r := do(t, ws, wire.Call{ID: 2, Op: wire.OpConnect, FD: 3, Addr: peer.Addr().(*net.TCPAddr).AddrPort()}); r.Failed() {
		t.Fatalf("connect: %+v", r)
	}
	conn := <-accepted
	defer conn.Close()

	// 48 MiB of writes, 256 KiB each, four a frame, which the peer does
	// not read: the kernel's buffers take a few MiB, the rest waits.
	const writes = 192
	var written, results atomic.Int64
	go func() {
		for {
			_, f, err := ws.ReadMessage()
			if err != nil {
				return
			}
			records, _ := wire.DecodeFrame(f)
			for _, rec := range records {
				if rec.Result != nil && rec.Result.ID >= 100 {
					results.Add(1)
					written.Add(int64(rec.Result.Ret))
				}
			}
		}
	}()
	sent := make(chan error, 1)
	go func() {
		data := make([]byte, wire.MaxData)
		for i := 0; i < writes; i += 4 {
			var frame []byte
			for j := range 4 {
				frame, _ = wire.AppendRecord(frame, wire.Record{Call: &wire.Call{ID: uint64(100 + i + j), Op: wire.OpWrite, FD: 3, Data: data}})
			}
			ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	time.Sleep(time.Second) // the page sends all it can; the bridge takes what it may
	held := heapAlive()
	const slack = 16 << 20 // the frames being read and written, the test's own
	if held > baseHeap+inFlight+slack {
		t.Errorf("writes blocked on a peer that does not read: live heap %.1f MiB over the start; want at most --max-data-in-flight (%.0f MiB) and %.0f MiB",
			mib(held-baseHeap), mib(inFlight), mib(slack))
	}
	t.Logf("48 MiB of writes blocked: live heap %.1f MiB over the start, %d of %d writes returned", mib(held-baseHeap), results.Load(), writes)
	if n := results.Load(); n == writes {
		t.Errorf("all %d writes returned while the peer read nothing; want most waiting", n)
	}

	// The peer reads: every write completes, none failed.
	go io.Copy(io.Discard, conn)
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("sending the writes: %v; the log:\n%s", err, tb.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the page could not send its writes within 30s of the peer reading")
	}
	for deadline := time.Now().Add(30 * time.Second); results.Load() < writes; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes returned", results.Load(), writes)
		}
	}
	if got := written.Load(); got != writes*wire.MaxData {
		t.Errorf("the writes wrote %d bytes; want %d: calls over the budget must wait, not fail", got, writes*wire.MaxData)
	}
	tb.waitLog(t, "--max-data-in-flight")

}

// pinWrites has a page of tb connect to a peer that never reads and send
// it n writes of 256 KiB, four a frame; it returns once the bridge has
// taken all it will, with the page's WebSocket, the peer's end and a count
// of the writes answered.
func pinWrites(t *testing.T, tb *testBridge, n int) (*websocket.Conn, net.Conn, *atomic.Int64) {
	t.Helper()
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	ws := dialSession(t, tb)
	do(t, ws, wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"})
	if r := do(t, ws, wire.Call{ID: 2, Op: wire.OpConnect, FD: 3, Addr: peer.Addr().(*net.TCPAddr).AddrPort()}); r.Failed() {
		t.Fatalf("connect: %+v", r)
	}
	conn, err := peer.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var answered atomic.Int64
	go func() {
		for {
			_, f, err := ws.ReadMessage()
			if err != nil {
				return
			}
			records, _ := wire.DecodeFrame(f)
			for _, rec := range records {
				if rec.Result != nil && rec.Result.ID >= 100 {
					answered.Add(1)
				}
			}
		}
	}()
	go func() {
		data := make([]byte, wire.MaxData)
		for i := 0; i < n; i += 4 {
			var frame []byte
			for j := range 4 {
				frame, _ = wire.AppendRecord(frame, wire.Record{Call: &wire.Call{ID: uint64(100 + i + j), Op: wire.OpWrite, FD: 3, Data: data}})
			}
			ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if ws.WriteMessage(websocket.BinaryMessage, frame) != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second) // the page sends all it can; the bridge takes what it may
	return ws, conn, &answered
}

// TestMemoryGoesBackWhenAPageEnds: a page that held tens of MiB in the
// bridge goes; the bridge hands that memory back to the system at once,
// where Go's runtime alone would keep it for minutes.
func TestMemoryGoesBackWhenAPageEnds(t *testing.T) {
	tb := newTestBridge(t, func(c *config) { c.maxDataInFlight = 32 << 20 })
	_, base := settleHeap()
	ws, _, _ := pinWrites(t, tb, 160) // 40 MiB
	held := heapHeld()
	if held < base+24<<20 {
		t.Fatalf("with 40 MiB of writes pinned under a 32 MiB budget the heap holds %.1f MiB (%.1f at the start); want it to have grown by 24 MiB or more", mib(held), mib(base))
	}
	ws.Close()
	const slack = 12 << 20
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		h := heapHeld()
		if h <= base+slack {
			t.Logf("the heap held %.1f MiB with the page, %.1f after it went (%.1f at the start)", mib(held), mib(h), mib(base))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("3s after the page went, the heap holds %.1f MiB of the system's memory (%.1f with the page, %.1f at the start); want at most %.1f",
				mib(h), mib(held), mib(base), mib(base+slack))
		}
	}
}

// settleHeap collects garbage and returns the live heap and what the heap
// holds of the system's memory.
func settleHeap() (alive, held uint64) {
	runtime.GC()
	return heapAlive(), heapHeld()
}

func heapAlive() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestShutdownEndsASessionStillOpening: a page whose WebSocket upgrade
// finishes while the bridge shuts down — after http.Server.Shutdown has let
// go of the hijacked connection, before the session is registered — is
// ended too: serve does not wait for that page to leave.
func TestShutdownEndsASessionStillOpening(t *testing.T) {
	cfg, _ := parseFlags([]string{"--port", "0"}, io.Discard)
	cfg.token = testToken
	b, err := listen(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	upgraded, release := make(chan struct{}), make(chan struct{})
	b.afterUpgrade = func() {
		close(upgraded)
		<-release
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.serve(ctx) }()
	ended := make(chan error, 1) // the page's connection ended
	go func() {
		ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+b.port+"/ws?token="+testToken, http.Header{"Origin": {"http://127.0.0.1:" + b.port}})
		if err != nil {
			ended <- err
			return
		}
		defer ws.Close()
		ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	<-upgraded
	cancel()
	// Let the shutdown run past the point where it ends sessions: its
	// listener closes first.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:"+b.port)
		if err != nil {
			break
		}
		c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return within 5s of shutdown: it waits for a page whose session opened as it shut down")
	}
	select {
	case err := <-ended:
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("the page's connection ended with %v; want close 1001 (going away)", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the page whose session opened as the bridge shut down is still connected 5s after serve returned")
	}
}

// TestShutdownEndsARunningCheck: shutting down ends a lesson check in
// progress at once, rather than waiting for its step to finish.
func TestShutdownEndsARunningCheck(t *testing.T) {
	cfg, _ := parseFlags([]string{"--port", "0"}, io.Discard)
	cfg.token = testToken
	b, err := listen(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.serve(ctx) }()
	tb := &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port}
	_, id := dialSessionID(t, tb)
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		// Lesson 3 waits for a server this session never started
		// (kit.StartWait, 5 s).
		checkStream(t, tb, "03-listening", id, "")
	}()
	for deadline := time.Now().Add(5 * time.Second); !b.sessionByID(id).checking.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the check did not start within 5s")
		}
	}
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return within 10s of shutdown")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a check running; want it to end the check (within 2s), not wait for its step", d.Round(time.Millisecond))
	}
	<-checked
}

// TestBudget: bytes are held until given back; a call that does not fit
// waits for them and never fails; one alone over the whole budget goes
// when nothing else is held; a wait ends with its context.
func TestBudget(t *testing.T) {
	b := newBudget(100)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if waited, err := b.take(ctx, 60); waited || err != nil {
		t.Fatalf("take 60 of 100: waited %v, %v; want at once", waited, err)
	}
	took := make(chan bool, 1)
	go func() {
		waited, err := b.take(ctx, 60)
		took <- waited && err == nil
	}()
	select {
	case <-took:
		t.Fatal("took 60 more of 100 with 60 held; want it to wait")
	case <-time.After(50 * time.Millisecond):
	}
	b.give(60)
	if ok := <-took; !ok {
		t.Fatal("the waiting take did not get its bytes once they were given back")
	}
	b.give(60)
	if waited, err := b.take(ctx, 500); waited || err != nil {
		t.Fatalf("take 500 of 100 with nothing held: waited %v, %v; want at once", waited, err)
	}
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, err := b.take(short, 1); err == nil {
		t.Fatal("take 1 with 500 of 100 held: got the bytes; want to wait until the context ended")
	}
	if b.highWater() != 500 {
		t.Errorf("high water %d; want 500", b.highWater())
	}
}
