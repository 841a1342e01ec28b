package native

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// The three moments the sockets panel exists to show, against the real
// kernel, and the accept queue's limit.

// eventually polls the session's table until ok accepts it, failing the test
// with the last table after a bounded wait.
func eventually(t *testing.T, s *Session, what string, ok func([]wire.SocketInfo) bool) []wire.SocketInfo {
	t.Helper()
	var table []wire.SocketInfo
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if table, err = s.Sockets(); err != nil {
			t.Fatalf("Sockets: %v", err)
		}
		if ok(table) {
			return table
		}
	}
	t.Fatalf("%s: not seen within %v; the table:\n%s", what, wait, showTable(table))
	return nil
}

func showTable(table []wire.SocketInfo) string {
	var b strings.Builder
	show := func(p *int) string {
		if p == nil {
			return "?"
		}
		return fmt.Sprint(*p)
	}
	for _, e := range table {
		fmt.Fprintf(&b, "  fd=%d client=%d orphan=%v %s %v -> %v queue=%s backlog=%s unsent=%s\n",
			e.FD, e.Client, e.Orphan, e.State, e.Local, e.Peer, show(e.Queue), show(e.Backlog), show(e.Unsent))
	}
	return b.String()
}

func entry(table []wire.SocketInfo, fd int) (wire.SocketInfo, bool) {
	for _, e := range table {
		if e.FD == fd && fd != 0 {
			return e, true
		}
	}
	return wire.SocketInfo{}, false
}

func is(p *int, want int) bool { return p != nil && *p == want }

func TestSocketsMoments(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l := newSocket4(t, s)
	if table, _ := s.Sockets(); len(table) != 1 || table[0].FD != l || table[0].State != "CLOSE" || table[0].Local.IsValid() {
		t.Fatalf("a new socket: got\n%swant one entry, fd %d, CLOSE, no address", showTable(table), l)
	}
	ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: l, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1})
	ok(t, s, wire.Call{Op: wire.OpBind, FD: l, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	ok(t, s, wire.Call{Op: wire.OpListen, FD: l, Value: 5})
	addr := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: l}).Addr

	// 1. The server does not call accept; two clients connect all the same,
	// and wait in the listener's queue, complete (ESTABLISHED) but owned by
	// no descriptor yet.
	c1, c2 := dial(t, addr), dial(t, addr)
	table := eventually(t, s, "the listener's queue at 2", func(table []wire.SocketInfo) bool {
		e, _ := entry(table, l)
		return is(e.Queue, 2)
	})
	e, _ := entry(table, l)
	if !e.Listening || e.State != "LISTEN" || e.Local != addr || !is(e.Backlog, 5) || e.Peer.IsValid() {
		t.Errorf("the listener: got %+v; want LISTEN on %v with backlog 5 and no peer", e, addr)
	}
	queued := map[netip.AddrPort]bool{}
	for _, e := range table {
		if e.Orphan && e.State == "ESTABLISHED" && e.Local == addr {
			queued[e.Peer] = true
		}
	}
	for _, c := range []net.Conn{c1, c2} {
		if p := c.LocalAddr().(*net.TCPAddr).AddrPort(); !queued[p] {
			t.Errorf("client %v: not listed as a queued connection owned by no descriptor:\n%s", p, showTable(table))
		}
	}

	// 2. The server accepts one and closes it first: its side of the
	// connection goes through FIN_WAIT2 to TIME_WAIT, which no descriptor
	// owns, on the server's port.
	r := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l})
	if r.Addr != c1.LocalAddr().(*net.TCPAddr).AddrPort() {
		t.Fatalf("accept: got peer %v; want the first client %v", r.Addr, c1.LocalAddr())
	}
	table, _ = s.Sockets()
	if e, ok := entry(table, r.Ret); !ok || e.State != "ESTABLISHED" || e.Local != addr || e.Peer != r.Addr || !is(e.Queue, 0) || !is(e.Unsent, 0) {
		t.Errorf("the accepted socket: got %+v, listed %v; want ESTABLISHED %v -> %v with empty queues", e, ok, addr, r.Addr)
	}
	if e, _ := entry(table, l); !is(e.Queue, 1) {
		t.Errorf("the listener after one accept: queue %v; want 1", e.Queue)
	}
	fmt.Fprint(c1, "hello")
	eventually(t, s, "5 bytes waiting to be read", func(table []wire.SocketInfo) bool {
		e, _ := entry(table, r.Ret)
		return is(e.Queue, 5)
	})
	// (Read it: a close with unread data resets the connection instead.)
	ok(t, s, wire.Call{Op: wire.OpRead, FD: r.Ret, Size: 100})
	ok(t, s, wire.Call{Op: wire.OpClose, FD: r.Ret})
	if _, err := c1.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client read data after the server closed; want end of stream")
	}
	c1.Close()
	table = eventually(t, s, "TIME_WAIT on the server's port", func(table []wire.SocketInfo) bool {
		for _, e := range table {
			if e.State == "TIME_WAIT" && e.Local == addr {
				return true
			}
		}
		return false
	})
	for _, e := range table {
		if e.State == "TIME_WAIT" && e.Local == addr {
			if !e.Orphan || e.FD != 0 || e.Peer != c1.LocalAddr().(*net.TCPAddr).AddrPort() {
				t.Errorf("the TIME_WAIT entry: got %+v; want owned by no descriptor, peer %v", e, c1.LocalAddr())
			}
			if e.Timer == nil || *e.Timer <= 0 || *e.Timer > 60_000 {
				t.Errorf("the TIME_WAIT entry's timer: got %v; want the kernel's countdown, at most 60s", e.Timer)
			}
		}
	}
	c2.Close()
	ports := s.Ports()
	if len(ports) != 1 || ports[0] != addr.Port() {
		t.Errorf("Ports: got %v; want [%d]", ports, addr.Port())
	}

	// 3. The page runs again: a new session, told the old one's ports, sees
	// the TIME_WAIT; binding the port fails without SO_REUSEADDR and succeeds
	// with it.
	s.Close()
	again := newSession(t, DefaultPolicy())
	again.Watch(ports...)
	eventually(t, again, "the old TIME_WAIT in the new session", func(table []wire.SocketInfo) bool {
		for _, e := range table {
			if e.Orphan && e.State == "TIME_WAIT" && e.Local == addr {
				return true
			}
		}
		return false
	})
	fd := newSocket4(t, again)
	wantErrno(t, "bind during TIME_WAIT without SO_REUSEADDR", call(t, again, wire.Call{Op: wire.OpBind, FD: fd, Addr: addr}), "EADDRINUSE")
	ok(t, again, wire.Call{Op: wire.OpSetsockopt, FD: fd, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1})
	ok(t, again, wire.Call{Op: wire.OpBind, FD: fd, Addr: addr})
}

// TestAcceptQueueLimit checks what the kernel does with more clients than
// the backlog while the server does not accept: Linux completes backlog+1
// connections and drops the SYNs of the rest, which keep retrying.
func TestAcceptQueueLimit(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l := newSocket4(t, s)
	ok(t, s, wire.Call{Op: wire.OpBind, FD: l, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	ok(t, s, wire.Call{Op: wire.OpListen, FD: l, Value: 1})
	addr := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: l}).Addr

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	const clients = 4
	done := make(chan error, clients)
	for range clients {
		go func() {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr.String())
			if err == nil {
				<-ctx.Done()
				c.Close()
			}
			done <- err
		}()
	}
	eventually(t, s, "a full queue", func(table []wire.SocketInfo) bool {
		e, _ := entry(table, l)
		return is(e.Queue, 2)
	})
	// Watch it for a while longer: it never shows more than the kernel holds.
	for range 10 {
		table, _ := s.Sockets()
		e, _ := entry(table, l)
		if e.Queue == nil || *e.Queue != 2 || !is(e.Backlog, 1) {
			t.Fatalf("listener with backlog 1 and %d clients: queue %v backlog %v; want 2 (backlog+1) and 1\n%s", clients, e.Queue, e.Backlog, showTable(table))
		}
		time.Sleep(30 * time.Millisecond)
	}
	cancel()
	for range clients {
		<-done
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	events := make(chan *wire.Event, 64)
	notify := func(e *wire.Event) { events <- e }
	client := func(c wire.Call) *wire.Result {
		t.Helper()
		c.ID = ids.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		r, err := s.Client(ctx, &c, notify)
		if err != nil {
			t.Fatalf("%s: %v", c.Op, err)
		}
		return r
	}
	next := func(kind string) *wire.Event {
		t.Helper()
		select {
		case e := <-events:
			if e.Kind != kind {
				t.Fatalf("got event %s %q (%s); want %s", e.Kind, e.Data, e.Message, kind)
			}
			return e
		case <-time.After(wait):
			t.Fatalf("no %s event within %v", kind, wait)
			return nil
		}
	}

	open := client(wire.Call{Op: wire.OpClientOpen, Addr: addr})
	if open.Failed() || open.Ret != 1 || !open.Addr.IsValid() {
		t.Fatalf("client-open: got %+v; want client 1 with its local address", open)
	}
	id := uint64(open.Ret)
	conn := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l})
	if conn.Addr != open.Addr {
		t.Errorf("the server's peer: got %v; want the client's address %v", conn.Addr, open.Addr)
	}
	table, _ := s.Sockets()
	var listed bool
	for _, e := range table {
		if e.Client == id {
			listed = e.FD == 0 && e.State == "ESTABLISHED" && e.Local == open.Addr && e.Peer == addr
		}
	}
	if !listed {
		t.Errorf("the client in the table: want client %d ESTABLISHED %v -> %v, no descriptor:\n%s", id, open.Addr, addr, showTable(table))
	}

	// Data both ways; none of it is the learner's, so none is in the trace.
	before := len(s.Trace())
	if r := client(wire.Call{Op: wire.OpClientSend, Client: id, Data: []byte("ping\r\n")}); r.Failed() || r.Ret != 6 {
		t.Fatalf("client-send: got %+v; want 6 bytes sent", r)
	}
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: conn.Ret, Size: 100}); string(r.Data) != "ping\r\n" {
		t.Errorf("the server read %q; want %q", r.Data, "ping\r\n")
	}
	ok(t, s, wire.Call{Op: wire.OpWrite, FD: conn.Ret, Data: []byte("pong\n")})
	if e := next(wire.EventClientData); e.Client != id || string(e.Data) != "pong\n" {
		t.Errorf("client-data: got client %d %q; want client %d %q", e.Client, e.Data, id, "pong\n")
	}
	for _, e := range s.Trace()[before:] {
		if e.Call.Op.IsClient() {
			t.Errorf("the trace holds a client panel call: %s", wire.FormatCall(&e.Call))
		}
	}

	// Half-close: the server reads the end of the stream, and can still answer.
	if r := client(wire.Call{Op: wire.OpClientShutdown, Client: id}); r.Failed() {
		t.Fatalf("client-shutdown: %+v", r)
	}
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: conn.Ret, Size: 100}); r.Ret != 0 {
		t.Errorf("the server's read after the client's shutdown: got %d bytes; want 0, end of stream", r.Ret)
	}
	ok(t, s, wire.Call{Op: wire.OpWrite, FD: conn.Ret, Data: []byte("bye\n")})
	if e := next(wire.EventClientData); string(e.Data) != "bye\n" {
		t.Errorf("client-data after shutdown: got %q; want %q", e.Data, "bye\n")
	}
	ok(t, s, wire.Call{Op: wire.OpClose, FD: conn.Ret})
	next(wire.EventClientEOF)
	if r := client(wire.Call{Op: wire.OpClientClose, Client: id}); r.Failed() {
		t.Fatalf("client-close: %+v", r)
	}
	if e := next(wire.EventClientClosed); e.Client != id || e.Message != "closed" {
		t.Errorf("client-closed: got client %d %q; want client %d \"closed\"", e.Client, e.Message, id)
	}
	wantErrno(t, "client-send after close", client(wire.Call{Op: wire.OpClientSend, Client: id, Data: []byte("x")}), "EBADF")

	// The policy: loopback only, the allowed ports, and a cap of its own.
	for _, tc := range []struct{ addr, rule string }{
		{"192.0.2.1:80", RuleLoopbackOnly},
		{"127.0.0.1:80", RulePorts},
	} {
		r := client(wire.Call{Op: wire.OpClientOpen, Addr: netip.MustParseAddrPort(tc.addr)})
		if r.Refused == nil || r.Refused.Rule != tc.rule {
			t.Errorf("client-open %s: got %+v; want refused by %s", tc.addr, r, tc.rule)
		}
	}
	capped := newSession(t, Policy{MinPort: 1024, MaxPort: 65535, MaxSockets: 64, MaxClients: 1})
	c := wire.Call{ID: 1, Op: wire.OpClientOpen, Addr: addr}
	if r, _ := capped.Client(context.Background(), &c, notify); r.Failed() {
		t.Fatalf("first client under a cap of 1: %+v", r)
	}
	if r, _ := capped.Client(context.Background(), &c, notify); r.Refused == nil || r.Refused.Rule != RuleMaxClients {
		t.Errorf("second client under a cap of 1: got %+v; want refused by %s", r, RuleMaxClients)
	}
	capped.Close()

	// A closed session closes its clients, and says why.
	open = client(wire.Call{Op: wire.OpClientOpen, Addr: addr})
	s.Close()
	for e := next(wire.EventClientClosed); e.Client != uint64(open.Ret); e = next(wire.EventClientClosed) {
	}
}

func TestParseProcTCP(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3 0000000000000000
   2: 0100007F:1F90 0100007F:D432 01 00000000:00000005 00:00000000 00000000  1000        0 0 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:2328 0100007F:D433 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3 0000000000000000
`
	got, err := parseProcTCP(bufio.NewScanner(strings.NewReader(table)), map[uint16]bool{8080: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d entries; want the 2 ownerless ones on port 8080:\n%s", len(got), showTable(got))
	}
	tw, queued := got[0], got[1]
	if !tw.Orphan || tw.State != "TIME_WAIT" || tw.Local.String() != "127.0.0.1:8080" || tw.Peer.String() != "127.0.0.1:54321" || !is(tw.Timer, 30_000) {
		t.Errorf("TIME_WAIT entry: got %+v", tw)
	}
	if queued.State != "ESTABLISHED" || !is(queued.Queue, 5) || queued.Timer != nil {
		t.Errorf("queued entry: got %+v", queued)
	}
}
