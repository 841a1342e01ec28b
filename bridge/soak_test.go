package bridge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
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

// TestSoakBounds attacks one bridge on every side issue 12 found open, at
// once, for a few seconds: requests without the token whose paths would
// forge log lines and fill the log; pages flooding it with records it
// refuses, calls its policy refuses and calls over --max-pending-calls;
// writes to a peer that never reads (pinning data); hundreds of calls
// blocked on one socket (descriptors); SO_REUSEPORT on a port another
// program listens on; and, throughout, the sockets table of every page
// read from the host's. While it runs, the bridge's descriptors and heap
// stay within their bounds and the table is read at most every 50 ms; after
// it, descriptors, goroutines and the heap are back where they started,
// and the log holds a bounded number of lines, none forged.
func TestSoakBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: not in -short")
	}
	const (
		pages    = 8
		inFlight = 2 << 20 // --max-data-in-flight
	)
	baseFDs, baseGoroutines, baseHeap := settle(t)
	t.Logf("baseline: %d descriptors, %d goroutines, heap %.1f MiB", baseFDs, baseGoroutines, mib(baseHeap))

	peer, closePeer := neverReads(t)
	foreign, foreignAccepted, closeForeign := reusePortListener(t)

	cfg, err := parseFlags([]string{"--port", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.token = testToken
	cfg.maxDataInFlight = inFlight
	logs := &logBuffer{}
	b, err := listen(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	stop := serveInBackground(t, b)
	tb := &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port, log: logs}
	reads0 := native.TableReads()
	start := time.Now()

	var wg sync.WaitGroup
	// 1, 2: requests without the token, paths that would forge a line and
	// fill the log.
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				rawGetQuiet(tb, fmt.Sprintf("/%d-%d%%0Asockstep:%%20forged%%1B[2J%s", g, i, strings.Repeat("x", 64<<10)))
			}
		})
	}
	soaks := make([]*boundsPage, pages)
	errs := make(chan error, pages)
	for i := range soaks {
		wg.Go(func() {
			p, err := openBoundsPage(tb, peer, foreign)
			if err != nil {
				errs <- fmt.Errorf("page %d: %w", i, err)
				return
			}
			soaks[i] = p
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		stop()
		t.Fatal(err)
	}

	// While it all runs, for two seconds, with requests without the token
	// still coming: descriptors and heap within their bounds.
	flooding := make(chan struct{})
	var flood sync.WaitGroup
	flood.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-flooding:
				return
			default:
			}
			rawGetQuiet(tb, fmt.Sprintf("/again-%d%%0Asockstep:%%20forged%%1B[2J", i))
			time.Sleep(time.Millisecond)
		}
	})
	var fds int
	var heap uint64
	for range 8 {
		time.Sleep(250 * time.Millisecond)
		fds, heap = max(fds, openFDs(t)), max(heap, heapAlloc())
	}
	close(flooding)
	flood.Wait()
	// Per page: a WebSocket (both ends here), five sockets, the peer's end.
	if most := baseFDs + pages*(2+5+1) + 16; fds > most {
		t.Errorf("with %d calls blocked on each of two sockets in %d pages: %d descriptors open; want at most %d", blockedCalls, pages, fds, most)
	}
	// Per page: its data in flight, and a few MiB of frames, buffers and calls.
	if most := baseHeap + pages*(inFlight+3<<20); heap > most {
		t.Errorf("with writes pinned in %d pages: live heap %.1f MiB; want at most %.1f MiB", pages, mib(heap), mib(most))
	}
	for _, p := range soaks {
		if p.refused == nil || p.refused.Rule != native.RuleSharedPort {
			t.Errorf("SO_REUSEPORT bind on another program's port: got %+v; want a refusal by %s", p.refused, native.RuleSharedPort)
		}
	}
	for i := range 10 {
		c, err := net.Dial("tcp", foreign.Addr().String())
		if err != nil {
			t.Fatalf("client %d of the other program: %v", i, err)
		}
		c.Close()
	}

	// Every page vanishes, then the bridge shuts down.
	for _, p := range soaks {
		p.ws.Close()
	}
	stop()
	elapsed := time.Since(start)
	reads := native.TableReads() - reads0
	if most := int(elapsed/(50*time.Millisecond)) + 1; reads > most {
		t.Errorf("the host's table was read %d times in %v; want at most %d (one every 50 ms, however many pages)", reads, elapsed.Round(time.Millisecond), most)
	}
	for deadline := time.Now().Add(5 * time.Second); foreignAccepted.Load() < 10; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the other program accepted %d of its 10 clients; want all", foreignAccepted.Load())
			break
		}
	}

	closePeer()
	closeForeign()
	fds, goroutines, heapAfter := settleTo(t, "the bounds soak", baseFDs, baseGoroutines)
	if heapAfter > baseHeap+16<<20 {
		t.Errorf("heap after the soak: %.1f MiB; want within 16 MiB of the baseline %.1f MiB", mib(heapAfter), mib(baseHeap))
	}
	lines := strings.Count(logs.String(), "\n")
	// Each kind of line: logBurst at once, then one a second (a summary);
	// about a dozen kinds are in play.
	if most := 12 * (logBurst + int(elapsed/time.Second) + 2); lines > most {
		t.Errorf("the log has %d lines after %v; want at most %d:\n%s", lines, elapsed.Round(time.Millisecond), most, logs)
	}
	if strings.Contains(logs.String(), "\x1b") || strings.Contains(logs.String(), "\nsockstep: forged") {
		t.Errorf("the log holds a forged line or an escape sequence:\n%q", logs)
	}
	if testing.Verbose() {
		t.Logf("the log:\n%s", logs)
	}
	t.Logf("%v: table read %d times; %d log lines (%d bytes); after: %d descriptors, %d goroutines, heap %.1f MiB; during: live heap %.1f MiB",
		elapsed.Round(time.Millisecond), reads, lines, len(logs.String()), fds, goroutines, mib(heapAfter), mib(heap))
}

// blockedCalls is how many accepts, and reads, each page of TestSoakBounds
// leaves blocked on one socket each.
const blockedCalls = 100

// boundsPage is one page of TestSoakBounds.
type boundsPage struct {
	ws      *websocket.Conn
	refused *wire.Refusal // its SO_REUSEPORT bind on the other program's port
}

// openBoundsPage opens a page and has it: bind with SO_REUSEPORT to the
// other program's port; block accepts and reads; pin writes to peer; and
// flood the bridge with bad records, refused calls and calls over the
// pending cap. It reads what the bridge sends, as a page does, until the
// connection ends.
func openBoundsPage(tb *testBridge, peer, foreign net.Listener) (*boundsPage, error) {
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := dialer.Dial("ws://127.0.0.1:"+tb.port+"/ws?token="+testToken, http.Header{"Origin": {tb.base}})
	if err != nil {
		return nil, err
	}
	p := &boundsPage{ws: ws}
	fail := func(err error) (*boundsPage, error) { ws.Close(); return nil, err }
	if _, err := soakRecv(ws, func(rec wire.Record) bool { return rec.Event != nil && rec.Event.Kind == wire.EventHello }); err != nil {
		return fail(err)
	}
	// 3: a listener (port from getsockname), 4: a client of it, 5: the
	// accepted end, 6: connected to peer, 7: SO_REUSEPORT.
	var listening netip.AddrPort
	steps := []wire.Call{
		{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 2, Op: wire.OpBind, FD: 3, Addr: netip.MustParseAddrPort("127.0.0.1:0")},
		{ID: 3, Op: wire.OpListen, FD: 3, Value: 8},
		{ID: 4, Op: wire.OpGetsockname, FD: 3},
		{ID: 5, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 6, Op: wire.OpConnect, FD: 4},
		{ID: 7, Op: wire.OpAccept, FD: 3},
		{ID: 8, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 9, Op: wire.OpConnect, FD: 6, Addr: peer.Addr().(*net.TCPAddr).AddrPort()},
		{ID: 10, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 11, Op: wire.OpSetsockopt, FD: 7, Level: "SOL_SOCKET", Option: "SO_REUSEPORT", Value: 1},
	}
	for _, c := range steps {
		if c.Op == wire.OpConnect && c.FD == 4 {
			c.Addr = listening
		}
		r, err := soakDo(ws, c)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", wire.FormatCall(&c), err))
		}
		if c.Op == wire.OpGetsockname {
			listening = r.Addr
		}
	}
	bind := wire.Call{ID: 12, Op: wire.OpBind, FD: 7, Addr: foreign.Addr().(*net.TCPAddr).AddrPort()}
	frame, _ := wire.EncodeFrame(wire.Record{Call: &bind})
	ws.WriteMessage(websocket.BinaryMessage, frame)
	rec, err := soakRecv(ws, func(rec wire.Record) bool { return rec.Result != nil && rec.Result.ID == 12 })
	if err != nil {
		return fail(err)
	}
	p.refused = rec.Result.Refused

	// From here on the page reads on, as a page does, and only sends.
	ws.SetReadDeadline(time.Time{})
	go func() {
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	send := func(calls ...wire.Call) error {
		var f []byte
		for _, c := range calls {
			f, _ = wire.AppendRecord(f, wire.Record{Call: &c})
		}
		ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return ws.WriteMessage(websocket.BinaryMessage, f)
	}
	id := uint64(100)
	calls := func(n int, c wire.Call) []wire.Call {
		out := make([]wire.Call, n)
		for i := range out {
			id++
			c.ID = id
			out[i] = c
		}
		return out
	}
	// 2: records the bridge refuses, calls the policy refuses.
	result, _ := wire.EncodeFrame(wire.Record{Result: &wire.Result{ID: 1}})
	bad := bytes.Repeat(result, 100)
	for range 10 {
		ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteMessage(websocket.BinaryMessage, bad); err != nil {
			return fail(err)
		}
		if err := send(calls(100, wire.Call{Op: wire.OpBind, FD: 4, Addr: netip.MustParseAddrPort("0.0.0.0:9999")})...); err != nil {
			return fail(err)
		}
	}
	// 5: calls blocked on one socket each; then 2: calls over the pending
	// cap (256), which these hold mostly.
	if err := send(append(calls(blockedCalls, wire.Call{Op: wire.OpAccept, FD: 3}), calls(blockedCalls, wire.Call{Op: wire.OpRead, FD: 5, Size: 64})...)...); err != nil {
		return fail(err)
	}
	for range 10 {
		if err := send(calls(100, wire.Call{Op: wire.OpRead, FD: 5, Size: 64})...); err != nil {
			return fail(err)
		}
	}
	// 3: 32 writes of 256 KiB to a peer that never reads: 8 MiB, four times
	// the budget, well past what the kernel's buffers take. The page's
	// frames wait then: sent from a goroutine.
	go func() {
		data := make([]byte, wire.MaxData)
		for range 8 {
			if send(calls(4, wire.Call{Op: wire.OpWrite, FD: 6, Data: data})...) != nil {
				return
			}
		}
	}()
	return p, nil
}

// rawGetQuiet sends a GET of target without the token and reads the answer,
// ignoring errors: a flood.
func rawGetQuiet(tb *testBridge, target string) {
	conn, err := net.Dial("tcp", "127.0.0.1:"+tb.port)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n", target, tb.port)
	io.Copy(io.Discard, conn)
}

// neverReads listens, accepts and never reads: a peer whose writers block.
// end closes it and the connections it accepted.
func neverReads(t *testing.T) (ln net.Listener, end func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var once sync.Once
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	end = func() {
		once.Do(func() {
			ln.Close()
			<-done
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		})
	}
	t.Cleanup(end)
	return ln, end
}

// reusePortListener is another program listening with SO_REUSEPORT; it
// counts the clients it accepts. end closes it.
func reusePortListener(t *testing.T) (net.Listener, *atomic.Int64, func()) {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1) })
		return err
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	var once sync.Once
	end := func() { once.Do(func() { ln.Close(); <-done }) }
	t.Cleanup(end)
	return ln, &accepted, end
}
