package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"sockstep/native/wire"
)

// How a soak session vanishes: every way a page can go away.
const (
	vanishClose    = iota // the page closes its WebSocket properly (a close frame)
	vanishFIN             // the tab or the worker dies: the TCP connection ends without a close frame
	vanishReset           // the connection drops: a TCP reset, no close frame, no FIN
	vanishShutdown        // the bridge shuts down under the page
	vanishWays
)

var vanishNames = [vanishWays]string{"close frame", "FIN without close frame", "TCP reset", "bridge shutdown"}

// TestSoak runs 1,000 sessions against a series of bridges. Each session
// listens, connects to itself, accepts, then leaves calls blocked in accept
// and in read, and vanishes in one of the ways above. Afterwards the
// process's descriptors and goroutines are back to their baseline, and its
// heap is bounded.
//
// The garbage collector is off but for explicit collections while sessions
// are connected: an os.File's finalizer closes its descriptor, so a socket
// the bridge forgot would otherwise be closed by luck of a collection.
func TestSoak(t *testing.T) {
	const (
		rounds     = 20 // one bridge each, shut down at the end of its round
		perRound   = 50 // sessions in one round, all connected at once: three times --max-sessions' default
		concurrent = 25 // sessions being set up at once
	)
	if testing.Short() {
		t.Skip("soak: not in -short")
	}
	baseFDs, baseGoroutines, baseHeap := settle(t)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	t.Logf("baseline: %d descriptors, %d goroutines, heap %.1f MiB", baseFDs, baseGoroutines, mib(baseHeap))

	var peakHeap uint64
	var vanished [vanishWays]int
	start := time.Now()
	for round := range rounds {
		b, stop := soakBridge(t, perRound)
		sessions := make([]*soakSession, perRound)
		var wg sync.WaitGroup
		sem := make(chan struct{}, concurrent)
		errs := make(chan error, perRound)
		for i := range sessions {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				s, err := openSoakSession(b)
				if err != nil {
					errs <- fmt.Errorf("round %d session %d: %w", round, i, err)
					return
				}
				sessions[i] = s
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			stop()
			t.Fatal(err)
		}
		peakHeap = max(peakHeap, heapAlloc()) // nothing of this round is garbage yet, and earlier rounds were checked

		// Vanish: every session but those left to the shutdown, at once.
		for i, s := range sessions {
			way := (i + round) % vanishWays
			vanished[way]++
			s.vanish(way)
		}
		stop() // the bridge shuts down under the sessions still open
		for i, s := range sessions {
			if i%20 == round%20 && !refusedWithin(s.listening, time.Second) {
				t.Errorf("round %d: %s still accepts a second after its session vanished by %s", round, s.listening, vanishNames[(i+round)%vanishWays])
			}
			if s.ws != nil {
				s.ws.Close()
			}
		}
		settleTo(t, fmt.Sprintf("round %d", round), baseFDs, baseGoroutines)
	}
	elapsed := time.Since(start)

	fds, goroutines, heap := settleTo(t, "the soak", baseFDs, baseGoroutines)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("%d sessions in %v (%v), vanished by %v", rounds*perRound, elapsed.Round(time.Millisecond), vanishNames, vanished)
	t.Logf("after: %d descriptors (baseline %d), %d goroutines (baseline %d)", fds, baseFDs, goroutines, baseGoroutines)
	t.Logf("memory: live heap at most %.1f MiB with %d sessions connected; heap after %.1f MiB (baseline %.1f MiB); process Sys %.1f MiB",
		mib(peakHeap), perRound, mib(heap), mib(baseHeap), mib(m.Sys))
	// Two MiB a session, ample: each holds its WebSocket's two 64 KiB
	// buffers, a few sockets and calls, and sockets-table events in flight.
	const heapBound = 2 * perRound << 20
	if peakHeap > heapBound {
		t.Errorf("live heap reached %.1f MiB with %d sessions; want at most %.0f MiB", mib(peakHeap), perRound, mib(heapBound))
	}
	if heap > baseHeap+16<<20 {
		t.Errorf("heap after the soak: %.1f MiB; want within 16 MiB of the baseline %.1f MiB", mib(heap), mib(baseHeap))
	}
}

// soakSession is one page of the soak: its WebSocket and the address its
// program listens on.
type soakSession struct {
	ws        *websocket.Conn
	listening netip.AddrPort
}

// soakBridge starts a bridge for one round; stop shuts it down and waits.
func soakBridge(t *testing.T, sessions int) (*testBridge, func()) {
	t.Helper()
	cfg, err := parseFlags([]string{"--port", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.token = testToken
	cfg.maxSessions = sessions
	b, err := listen(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stop := serveInBackground(t, b)
	return &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port}, stop
}

// openSoakSession connects a page, and has its program listen, connect to
// itself and accept; then leaves an accept and two reads blocked, and reads
// what the bridge sends until the connection ends.
func openSoakSession(tb *testBridge) (*soakSession, error) {
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := dialer.Dial("ws://127.0.0.1:"+tb.port+"/ws?token="+testToken, http.Header{"Origin": {tb.base}})
	if err != nil {
		return nil, err
	}
	s := &soakSession{ws: ws}
	fail := func(err error) (*soakSession, error) { ws.Close(); return nil, err }
	if _, err := soakRecv(ws, func(rec wire.Record) bool { return rec.Event != nil && rec.Event.Kind == wire.EventHello }); err != nil {
		return fail(err)
	}
	loopback := netip.MustParseAddrPort("127.0.0.1:0")
	steps := []wire.Call{
		{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 2, Op: wire.OpBind, FD: 3, Addr: loopback},
		{ID: 3, Op: wire.OpListen, FD: 3, Value: 8},
		{ID: 4, Op: wire.OpGetsockname, FD: 3},
		{ID: 5, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 6, Op: wire.OpConnect, FD: 4}, // to the address getsockname gives
		{ID: 7, Op: wire.OpAccept, FD: 3},
	}
	for _, c := range steps {
		if c.Op == wire.OpConnect {
			c.Addr = s.listening
		}
		r, err := soakDo(ws, c)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", wire.FormatCall(&c), err))
		}
		if c.Op == wire.OpGetsockname {
			s.listening = r.Addr
		}
	}
	// Blocked: an accept on the listener, a read on each end of the connection.
	var frame []byte
	for _, c := range []wire.Call{{ID: 8, Op: wire.OpAccept, FD: 3}, {ID: 9, Op: wire.OpRead, FD: 4, Size: 512}, {ID: 10, Op: wire.OpRead, FD: 5, Size: 512}} {
		frame, _ = wire.AppendRecord(frame, wire.Record{Call: &c})
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		return fail(err)
	}
	// Read on, as a page does, until the connection goes: the bridge keeps
	// sending its sockets table.
	ws.SetReadDeadline(time.Time{})
	go func() {
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	return s, nil
}

func soakDo(ws *websocket.Conn, c wire.Call) (*wire.Result, error) {
	frame, err := wire.EncodeFrame(wire.Record{Call: &c})
	if err != nil {
		return nil, err
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		return nil, err
	}
	rec, err := soakRecv(ws, func(rec wire.Record) bool {
		return (rec.Result != nil && rec.Result.ID == c.ID) || rec.Problem != nil
	})
	if err != nil {
		return nil, err
	}
	if rec.Result == nil || rec.Result.Failed() {
		return nil, fmt.Errorf("got %+v; want a successful result", rec)
	}
	return rec.Result, nil
}

// soakRecv reads records until one is wanted, passing over the events the
// bridge sends unasked (the sockets table).
func soakRecv(ws *websocket.Conn, wanted func(wire.Record) bool) (wire.Record, error) {
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			return wire.Record{}, err
		}
		records, err := wire.DecodeFrame(frame)
		if err != nil {
			return wire.Record{}, err
		}
		for _, rec := range records {
			if wanted(rec) {
				return rec, nil
			}
		}
	}
}

// vanish makes the page go away; for vanishShutdown it stays until the
// bridge goes.
func (s *soakSession) vanish(way int) {
	conn := s.ws.NetConn()
	switch way {
	case vanishClose:
		s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
		s.ws.Close()
	case vanishFIN:
		conn.Close()
	case vanishReset:
		conn.(*net.TCPConn).SetLinger(0) // close sends RST, not FIN
		conn.Close()
	case vanishShutdown:
		return
	}
	s.ws = nil
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// settle waits for the process to be quiet and returns its counts.
func settle(t *testing.T) (fds, goroutines int, heap uint64) {
	t.Helper()
	http.DefaultClient.CloseIdleConnections() // keep-alives of earlier tests
	prev := -1
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		g := runtime.NumGoroutine()
		if g == prev {
			break
		}
		prev = g
	}
	return openFDs(t), runtime.NumGoroutine(), heapAlloc()
}

// settleTo polls, within a bound, until descriptors and goroutines are back
// to the baseline (a few goroutines of slack for the runtime's own), and
// fails the test otherwise.
func settleTo(t *testing.T, when string, baseFDs, baseGoroutines int) (fds, goroutines int, heap uint64) {
	t.Helper()
	const slack = 3
	deadline := time.Now().Add(10 * time.Second)
	for {
		http.DefaultClient.CloseIdleConnections()
		fds, goroutines = openFDs(t), runtime.NumGoroutine()
		if fds <= baseFDs && goroutines <= baseGoroutines+slack {
			return fds, goroutines, heapAlloc()
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("10s after %s: %d descriptors (baseline %d), %d goroutines (baseline %d); goroutines:\n%s", when, fds, baseFDs, goroutines, baseGoroutines, buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
