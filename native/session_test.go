package native

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

func TestBindInUse(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	_, addr := listener(t, s)
	fd := newSocket4(t, s)
	r := call(t, s, wire.Call{Op: wire.OpBind, FD: fd, Addr: addr})
	wantErrno(t, "second bind of "+addr.String(), r, "EADDRINUSE")
}

func TestSocketOptions(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	tests := []struct {
		level, option string
		set           int
		atLeast       int // what getsockopt must read back at least; flags read back exactly
	}{
		{"SOL_SOCKET", "SO_REUSEADDR", 1, 1},
		{"SOL_SOCKET", "SO_REUSEPORT", 1, 1},
		{"SOL_SOCKET", "SO_KEEPALIVE", 1, 1},
		{"IPPROTO_TCP", "TCP_NODELAY", 1, 1},
		{"SOL_SOCKET", "SO_REUSEADDR", 0, 0},
		{"SOL_SOCKET", "SO_RCVBUF", 1 << 16, 1 << 16},
		{"SOL_SOCKET", "SO_SNDBUF", 1 << 16, 1 << 16},
	}
	fd := newSocket4(t, s)
	if r := ok(t, s, wire.Call{Op: wire.OpGetsockopt, FD: fd, Level: "SOL_SOCKET", Option: "SO_REUSEADDR"}); r.Ret != 0 {
		t.Errorf("SO_REUSEADDR on a new socket: got %d; want 0", r.Ret)
	}
	for _, tt := range tests {
		ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: fd, Level: tt.level, Option: tt.option, Value: tt.set})
		got := ok(t, s, wire.Call{Op: wire.OpGetsockopt, FD: fd, Level: tt.level, Option: tt.option}).Ret
		isFlag := tt.option != "SO_RCVBUF" && tt.option != "SO_SNDBUF"
		if (isFlag && got != tt.atLeast) || got < tt.atLeast {
			t.Errorf("%s after setting %d: got %d; want %d", tt.option, tt.set, got, tt.atLeast)
		}
	}
}

// TestReuseAddr is the lesson's reason for SO_REUSEADDR: with it, a restarted
// server binds its port while the old connection sits in TIME_WAIT.
func TestReuseAddr(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	// Linux lets a bind share the port with a TIME_WAIT connection only when
	// both the old socket and the new one set SO_REUSEADDR: a server sets it
	// every time it starts.
	l := newSocket4(t, s)
	ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: l, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1})
	ok(t, s, wire.Call{Op: wire.OpBind, FD: l, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	ok(t, s, wire.Call{Op: wire.OpListen, FD: l, Value: 5})
	addr := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: l}).Addr
	c := dial(t, addr)
	conn := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	ok(t, s, wire.Call{Op: wire.OpClose, FD: conn}) // the server closes first: its side enters TIME_WAIT
	ok(t, s, wire.Call{Op: wire.OpClose, FD: l})
	c.Read(make([]byte, 1))
	c.Close()

	again := newSocket4(t, s)
	wantErrno(t, "bind without SO_REUSEADDR during TIME_WAIT", call(t, s, wire.Call{Op: wire.OpBind, FD: again, Addr: addr}), "EADDRINUSE")
	ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: again, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1})
	if r := ok(t, s, wire.Call{Op: wire.OpGetsockopt, FD: again, Level: "SOL_SOCKET", Option: "SO_REUSEADDR"}); r.Ret != 1 {
		t.Errorf("SO_REUSEADDR read back: got %d; want 1", r.Ret)
	}
	ok(t, s, wire.Call{Op: wire.OpBind, FD: again, Addr: addr})
}

func TestAcceptQueued(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	c := dial(t, addr)
	r := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l})
	want := c.LocalAddr().(*net.TCPAddr).AddrPort()
	if r.Addr != want {
		t.Errorf("accept peer: got %v; want %v", r.Addr, want)
	}
	if r.Ret != l+1 {
		t.Errorf("accept descriptor: got %d; want %d, the lowest free", r.Ret, l+1)
	}
	if peer := ok(t, s, wire.Call{Op: wire.OpGetpeername, FD: r.Ret}).Addr; peer != want {
		t.Errorf("getpeername: got %v; want %v", peer, want)
	}
}

func TestReadAfterPeerCloses(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	c := dial(t, addr)
	conn := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	c.Write([]byte("hello\n"))
	c.Close()
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: conn, Size: 1024}); string(r.Data) != "hello\n" || r.Ret != 6 {
		t.Errorf("read: got %d %q; want 6 \"hello\\n\"", r.Ret, r.Data)
	}
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: conn, Size: 1024}); r.Ret != 0 || len(r.Data) != 0 {
		t.Errorf("read after the peer closed: got %d %q; want 0", r.Ret, r.Data)
	}
}

// TestReadIntoTheCallersBuffer: a caller in the session's process (a
// runner) gets its bytes read straight into its own buffer, and the trace
// keeps a copy of them, not the buffer.
func TestReadIntoTheCallersBuffer(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	c := dial(t, addr)
	conn := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	c.Write([]byte("hello\n"))
	buf := make([]byte, 64)
	r := ok(t, s, wire.Call{Op: wire.OpRead, FD: conn, Size: len(buf), Into: buf})
	if r.Ret != 6 || string(buf[:6]) != "hello\n" || &r.Data[0] != &buf[0] {
		t.Fatalf("read into the caller's buffer: got %d %q (the buffer holds %q); want 6 bytes in place", r.Ret, r.Data, buf[:6])
	}
	copy(buf, "XXXXXX")
	tr := s.Trace()
	last := tr[len(tr)-1]
	if string(last.Result.Data) != "hello\n" || last.Call.Into != nil {
		t.Errorf("the trace's read: %q, Into kept: %v; want its own copy of hello, and no hold on the buffer", last.Result.Data, last.Call.Into != nil)
	}
}

func TestBlockedCallsReturn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		op     wire.Op
		cancel func(t *testing.T, s *Session, cancel context.CancelFunc, fd int)
		want   []string // errnos the blocked call may return
	}{
		{"accept, session closes", wire.OpAccept, func(_ *testing.T, s *Session, _ context.CancelFunc, _ int) { s.Close() }, []string{"ECANCELED"}},
		{"accept, ctx cancelled", wire.OpAccept, func(_ *testing.T, _ *Session, cancel context.CancelFunc, _ int) { cancel() }, []string{"ECANCELED"}},
		{"read, session closes", wire.OpRead, func(_ *testing.T, s *Session, _ context.CancelFunc, _ int) { s.Close() }, []string{"ECANCELED"}},
		{"read, ctx cancelled", wire.OpRead, func(_ *testing.T, _ *Session, cancel context.CancelFunc, _ int) { cancel() }, []string{"ECANCELED"}},
		{"accept, its descriptor closed", wire.OpAccept, closeFD, []string{"EBADF", "ECANCELED"}},
		{"read, its descriptor closed", wire.OpRead, closeFD, []string{"EBADF", "ECANCELED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSession(t, DefaultPolicy())
			fd, _ := listener(t, s)
			if tt.op == wire.OpRead {
				_, fd = pair(t, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			done := async(t, ctx, s, wire.Call{Op: tt.op, FD: fd, Size: 10})
			blocked(t, tt.name, done)
			start := time.Now()
			tt.cancel(t, s, cancel, fd)
			r := within(t, tt.name, done, prompt)
			if !contains(tt.want, r.Errno) || r.Refused != nil {
				t.Errorf("%s: got %q; want one of %v", tt.name, r.Errno, tt.want)
			}
			if d := time.Since(start); d > prompt {
				t.Errorf("%s: returned after %v; want within %v", tt.name, d, prompt)
			}
		})
	}
}

// closeFD closes fd in s, and checks close itself is prompt and succeeds.
func closeFD(t *testing.T, s *Session, _ context.CancelFunc, fd int) {
	t.Helper()
	start := time.Now()
	ok(t, s, wire.Call{Op: wire.OpClose, FD: fd})
	if d := time.Since(start); d > prompt {
		t.Errorf("close(%d) while a call blocks on it: took %v; want within %v", fd, d, prompt)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestCancelOneWaiter checks that cancelling one blocked call leaves another
// blocked on the same socket waiting, and that one still gets its result.
func TestCancelOneWaiter(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	ctx1, cancel1 := context.WithTimeout(context.Background(), wait)
	defer cancel1()
	first := async(t, ctx1, s, wire.Call{Op: wire.OpAccept, FD: l})
	second := async(t, context.Background(), s, wire.Call{Op: wire.OpAccept, FD: l})
	blocked(t, "first accept", first)
	cancel1()
	if r := within(t, "cancelled accept", first, prompt); r.Errno != "ECANCELED" {
		t.Errorf("cancelled accept: got %+v; want ECANCELED", r)
	}
	blocked(t, "second accept", second)
	c := dial(t, addr)
	if r := within(t, "second accept", second, wait); r.Failed() || r.Addr != c.LocalAddr().(*net.TCPAddr).AddrPort() {
		t.Errorf("second accept: got %+v; want the client %v", r, c.LocalAddr())
	}
}

func TestConcurrentAccepts(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	const n = 8
	var results []<-chan *wire.Result
	for range n {
		results = append(results, async(t, context.Background(), s, wire.Call{Op: wire.OpAccept, FD: l}))
	}
	for range n {
		dial(t, addr)
	}
	seen := map[int]bool{}
	for i, done := range results {
		r := within(t, "accept", done, wait)
		if r.Failed() || seen[r.Ret] {
			t.Errorf("accept %d: got %+v; want a new descriptor", i, r)
		}
		seen[r.Ret] = true
	}
}

func TestSessionsAreSeparate(t *testing.T) {
	t.Parallel()
	a := newSession(t, DefaultPolicy())
	b := newSession(t, DefaultPolicy())
	la, addrA := listener(t, a)
	lb, _ := listener(t, b)
	if la != 3 || lb != 3 {
		t.Fatalf("first descriptors: got %d and %d; want 3 and 3", la, lb)
	}
	extra := newSocket4(t, a) // 4 in a, never opened in b
	for _, c := range []wire.Call{
		{Op: wire.OpGetsockname, FD: extra},
		{Op: wire.OpClose, FD: extra},
	} {
		wantErrno(t, "session b: "+wire.FormatCall(&c), call(t, b, c), "EBADF")
	}
	ok(t, b, wire.Call{Op: wire.OpClose, FD: 3})
	if got := ok(t, a, wire.Call{Op: wire.OpGetsockname, FD: 3}).Addr; got != addrA {
		t.Errorf("session a's 3 after b closed its 3: got %v; want %v", got, addrA)
	}
	dial(t, addrA)
	ok(t, a, wire.Call{Op: wire.OpAccept, FD: 3})
}

func TestBadDescriptors(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, _ := listener(t, s)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var realOfL int
	s.fds[l].control(func(fd int) { realOfL = fd })
	fds := map[string]int{
		"stdin": 0, "stdout": 1, "stderr": 2, "never opened": 42,
		"a real descriptor of the test process": int(f.Fd()),
		"the real descriptor behind 3":          realOfL,
	}
	for what, fd := range fds {
		if fd == l {
			continue // the real descriptor happens to have the virtual number; nothing to show
		}
		for _, c := range []wire.Call{
			{Op: wire.OpRead, FD: fd, Size: 1},
			{Op: wire.OpWrite, FD: fd, Data: []byte("x")},
			{Op: wire.OpAccept, FD: fd},
			{Op: wire.OpListen, FD: fd},
			{Op: wire.OpBind, FD: fd, Addr: netip.MustParseAddrPort("127.0.0.1:0")},
			{Op: wire.OpConnect, FD: fd, Addr: netip.MustParseAddrPort("127.0.0.1:9")},
			{Op: wire.OpSetsockopt, FD: fd, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1},
			{Op: wire.OpGetsockname, FD: fd},
			{Op: wire.OpShutdown, FD: fd, How: "SHUT_RDWR"},
			{Op: wire.OpClose, FD: fd},
		} {
			r := call(t, s, c)
			if c.Op == wire.OpConnect {
				// the policy refuses port 9 before the descriptor is looked at
				if r.Errno != "EBADF" && r.Refused == nil {
					t.Errorf("%s, %s: got %+v; want EBADF or a refusal", what, wire.FormatCall(&c), r)
				}
				continue
			}
			wantErrno(t, what+", "+wire.FormatCall(&c), r, "EBADF")
		}
	}
	if _, err := f.Stat(); err != nil {
		t.Errorf("the test process's own file after the session's calls: got %v; want it open", err)
	}
	ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: l})
}

func TestPolicyRefuses(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	tests := []struct {
		name string
		op   wire.Op
		addr string
		flag string
	}{
		{"bind any IPv4 address", wire.OpBind, "0.0.0.0:9000", "--allow-external"},
		{"bind any IPv6 address", wire.OpBind, "[::]:9000", "--allow-external"},
		{"bind a non-loopback address", wire.OpBind, "192.0.2.1:9000", "--allow-external"},
		{"connect to a non-loopback address", wire.OpConnect, "10.1.2.3:9000", "--allow-external"},
		{"connect to any address", wire.OpConnect, "0.0.0.0:9000", "--allow-external"},
		{"bind port 80", wire.OpBind, "127.0.0.1:80", "--ports"},
		{"connect to port 80", wire.OpConnect, "127.0.0.1:80", "--ports"},
		{"connect to port 0", wire.OpConnect, "127.0.0.1:0", "--ports"},
	}
	for _, tt := range tests {
		fd := newSocket4(t, s)
		if netip.MustParseAddrPort(tt.addr).Addr().Is6() {
			ok(t, s, wire.Call{Op: wire.OpClose, FD: fd})
			fd = ok(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM"}).Ret
		}
		r := call(t, s, wire.Call{Op: tt.op, FD: fd, Addr: netip.MustParseAddrPort(tt.addr)})
		wantRefusal(t, tt.name, r, tt.flag)
		ok(t, s, wire.Call{Op: wire.OpClose, FD: fd})
	}
	if r := call(t, s, wire.Call{Op: wire.OpBind, FD: newSocket4(t, s), Addr: netip.MustParseAddrPort("0.0.0.0:9000")}); r.Refused != nil &&
		r.Refused.Message != "binding 0.0.0.0 would expose your server to other machines; use 127.0.0.1" {
		t.Errorf("bind 0.0.0.0 message: got %q; want the plain explanation", r.Refused.Message)
	}

	// listen on a socket never bound: the kernel would bind it to every
	// address, so the policy refuses, and the socket stays unbound.
	for _, family := range []string{"AF_INET", "AF_INET6"} {
		fd := ok(t, s, wire.Call{Op: wire.OpSocket, Family: family, Type: "SOCK_STREAM"}).Ret
		wantRefusal(t, "listen unbound "+family, call(t, s, wire.Call{Op: wire.OpListen, FD: fd, Value: 5}), "--allow-external")
		if local := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: fd}).Addr; local.Port() != 0 {
			t.Errorf("listen unbound %s: the refused socket got bound to %s", family, local)
		}
		ok(t, s, wire.Call{Op: wire.OpClose, FD: fd})
	}

	// With the rule lifted the kernel answers, and its answer is an errno.
	open := newSession(t, Policy{AllowExternal: true, MinPort: 1024, MaxPort: 65535, MaxSockets: 64})
	fd := newSocket4(t, open)
	wantErrno(t, "bind a foreign address when allowed", call(t, open, wire.Call{Op: wire.OpBind, FD: fd, Addr: netip.MustParseAddrPort("192.0.2.1:9000")}), "EADDRNOTAVAIL")
	ok(t, open, wire.Call{Op: wire.OpListen, FD: newSocket4(t, open), Value: 5}) // unbound, and allowed
}

func wantRefusal(t *testing.T, what string, r *wire.Result, flag string) {
	t.Helper()
	if r.Refused == nil || r.Errno != "" {
		t.Errorf("%s: got errno %q refused %v; want a refusal", what, r.Errno, r.Refused)
		return
	}
	if r.Refused.Flag != flag || r.Refused.Message == "" || r.Refused.Rule == "" {
		t.Errorf("%s: got %+v; want a rule, a message and flag %s", what, r.Refused, flag)
	}
}

func TestSocketCap(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	for i := range DefaultPolicy().MaxSockets {
		if fd := newSocket4(t, s); fd != 3+i {
			t.Fatalf("socket %d: got %d; want %d", i+1, fd, 3+i)
		}
	}
	r := call(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"})
	wantRefusal(t, "the 65th socket", r, "--max-sockets")
	ok(t, s, wire.Call{Op: wire.OpClose, FD: 10})
	if fd := newSocket4(t, s); fd != 10 {
		t.Errorf("socket after closing 10: got %d; want 10, the lowest free", fd)
	}
}

// TestAcceptCap checks that an accept refused for the socket cap leaves the
// client queued in the kernel, to be accepted once a socket is closed.
func TestAcceptCap(t *testing.T) {
	t.Parallel()
	s := newSession(t, Policy{MinPort: 1024, MaxPort: 65535, MaxSockets: 2})
	l, addr := listener(t, s)
	other := newSocket4(t, s)
	c := dial(t, addr)
	wantRefusal(t, "accept at the cap", call(t, s, wire.Call{Op: wire.OpAccept, FD: l}), "--max-sockets")
	ok(t, s, wire.Call{Op: wire.OpClose, FD: other})
	r := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l})
	if want := c.LocalAddr().(*net.TCPAddr).AddrPort(); r.Addr != want {
		t.Errorf("accept after a socket was closed: got peer %v; want the queued client %v", r.Addr, want)
	}
}

func TestConnectAndTalk(t *testing.T) {
	t.Parallel()
	for _, family := range []string{"AF_INET", "AF_INET6"} {
		s := newSession(t, DefaultPolicy())
		l := ok(t, s, wire.Call{Op: wire.OpSocket, Family: family, Type: "SOCK_STREAM", Proto: 6}).Ret
		any := "127.0.0.1:0"
		if family == "AF_INET6" {
			any = "[::1]:0"
		}
		ok(t, s, wire.Call{Op: wire.OpBind, FD: l, Addr: netip.MustParseAddrPort(any)})
		ok(t, s, wire.Call{Op: wire.OpListen, FD: l, Value: 5})
		addr := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: l}).Addr
		client := ok(t, s, wire.Call{Op: wire.OpSocket, Family: family, Type: "SOCK_STREAM"}).Ret
		ok(t, s, wire.Call{Op: wire.OpConnect, FD: client, Addr: addr})
		accepted := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l})
		server := accepted.Ret

		clientName := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: client}).Addr
		if accepted.Addr != clientName {
			t.Errorf("%s accept peer: got %v; want the client's name %v", family, accepted.Addr, clientName)
		}
		if got := ok(t, s, wire.Call{Op: wire.OpGetpeername, FD: client}).Addr; got != addr {
			t.Errorf("%s client's peer: got %v; want %v", family, got, addr)
		}
		if got := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: server}).Addr; got != addr {
			t.Errorf("%s server side's name: got %v; want %v", family, got, addr)
		}
		for _, dir := range []struct{ from, to int }{{client, server}, {server, client}} {
			msg := []byte("ping from " + family)
			if r := ok(t, s, wire.Call{Op: wire.OpWrite, FD: dir.from, Data: msg}); r.Ret != len(msg) {
				t.Errorf("%s write: got %d; want %d", family, r.Ret, len(msg))
			}
			if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: dir.to, Size: 100}); !bytes.Equal(r.Data, msg) {
				t.Errorf("%s read: got %q; want %q", family, r.Data, msg)
			}
		}
	}
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	ok(t, s, wire.Call{Op: wire.OpClose, FD: l}) // nothing listens there now
	fd := newSocket4(t, s)
	wantErrno(t, "connect to a closed port", call(t, s, wire.Call{Op: wire.OpConnect, FD: fd, Addr: addr}), "ECONNREFUSED")
}

func TestShutdownWrite(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	client, server := pair(t, s)
	ok(t, s, wire.Call{Op: wire.OpWrite, FD: client, Data: []byte("last")})
	ok(t, s, wire.Call{Op: wire.OpShutdown, FD: client, How: "SHUT_WR"})
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: server, Size: 100}); string(r.Data) != "last" {
		t.Errorf("read before the shutdown: got %q; want \"last\"", r.Data)
	}
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: server, Size: 100}); r.Ret != 0 {
		t.Errorf("read after the peer's SHUT_WR: got %d; want 0", r.Ret)
	}
	// The other direction still works.
	ok(t, s, wire.Call{Op: wire.OpWrite, FD: server, Data: []byte("reply")})
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: client, Size: 100}); string(r.Data) != "reply" {
		t.Errorf("read on the half-closed side: got %q; want \"reply\"", r.Data)
	}
	wantErrno(t, "write after SHUT_WR", call(t, s, wire.Call{Op: wire.OpWrite, FD: client, Data: []byte("x")}), "EPIPE")
}

func TestWriteWaitsForSlowReader(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	c := dial(t, addr)
	conn := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: conn, Level: "SOL_SOCKET", Option: "SO_SNDBUF", Value: 4096})
	ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: conn, Level: "IPPROTO_TCP", Option: "TCP_NODELAY", Value: 1})
	c.(*net.TCPConn).SetReadBuffer(32 << 10) // far less than 200 KiB, whatever the kernel's default; a few KiB makes TCP crawl on its persist timer

	data := make([]byte, 200<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var got bytes.Buffer
	var wg sync.WaitGroup
	const nap = 100 * time.Millisecond
	wg.Go(func() {
		c.SetReadDeadline(time.Now().Add(wait))
		time.Sleep(nap) // the buffers, a few KiB each, fill and the write must wait
		buf := make([]byte, 8<<10)
		for got.Len() < len(data) {
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				return
			}
		}
	})
	start := time.Now()
	r := ok(t, s, wire.Call{Op: wire.OpWrite, FD: conn, Data: data})
	took := time.Since(start)
	wg.Wait()
	if took < nap/2 {
		t.Errorf("write of 200 KiB to a reader that waits %v: took %v; want it to wait for the reader", nap, took)
	}
	if r.Ret != len(data) {
		t.Errorf("write of 200 KiB: got %d; want %d", r.Ret, len(data))
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Errorf("the reader got %d bytes; want the %d written, in order", got.Len(), len(data))
	}
}

func TestReadLimit(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	client, server := pair(t, s)
	ok(t, s, wire.Call{Op: wire.OpWrite, FD: client, Data: []byte("hello, world")})
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: server, Size: 5}); string(r.Data) != "hello" {
		t.Errorf("read of 5: got %q; want \"hello\"", r.Data)
	}
	if r := ok(t, s, wire.Call{Op: wire.OpRead, FD: server, Size: 100}); string(r.Data) != ", world" {
		t.Errorf("read of the rest: got %q; want \", world\"", r.Data)
	}
}

func TestLookupPort(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	if r := ok(t, s, wire.Call{Op: wire.OpLookupPort, Net: "tcp", Name: "http"}); r.Ret != 80 {
		t.Errorf("lookupport http: got %d; want 80", r.Ret)
	}
	wantErrno(t, "lookupport of an unknown service", call(t, s, wire.Call{Op: wire.OpLookupPort, Net: "tcp", Name: "no-such-service-here"}), "ENOENT")
}

func TestMalformedCalls(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	for _, c := range []*wire.Call{
		nil,
		{Op: "fork"},
		{Op: wire.OpSocket, Family: "AF_UNIX", Type: "SOCK_STREAM"},
		{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_RAW"},
		{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM", Proto: 1},
		{Op: wire.OpRead, FD: 3, Size: wire.MaxData + 1},
		{Op: wire.OpEpollWait, FD: 3},
		{Op: wire.OpEpollCtl, FD: 3, Option: "EPOLL_CTL_ADD", Target: 4, Value: 1 << 20},
		{Op: wire.OpWrite, FD: 3, Data: make([]byte, wire.MaxData+1)},
	} {
		if r, err := s.Do(context.Background(), c); err == nil {
			t.Errorf("%+v: got %+v and no error; want an error", c, r)
		}
	}
	if n := len(s.Trace()); n != 0 {
		t.Errorf("trace after malformed calls only: got %d entries; want 0", n)
	}
}

func TestCallsAfterClose(t *testing.T) {
	t.Parallel()
	s := NewSession(DefaultPolicy())
	listener(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: got %v; want nil", err)
	}
	for _, c := range []wire.Call{
		{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{Op: wire.OpAccept, FD: 3},
	} {
		wantErrno(t, "after close, "+wire.FormatCall(&c), call(t, s, c), "ECANCELED")
	}
}

func TestTrace(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	client, server := pair(t, s)
	w := ok(t, s, wire.Call{Op: wire.OpWrite, FD: client, Data: []byte("hello\n")})
	ok(t, s, wire.Call{Op: wire.OpRead, FD: server, Size: 1024})
	entries := s.Trace()
	last := entries[len(entries)-1]
	if got, want := wire.FormatLine(&last.Call, &last.Result), fmt.Sprintf(`read(%d, 1024) = 6 "hello\n"`, server); got != want {
		t.Errorf("last trace line: got %s; want %s", got, want)
	}
	if prev := entries[len(entries)-2]; prev.Result.ID != w.ID || string(prev.Call.Data) != "hello\n" {
		t.Errorf("trace entry of the write: got %+v; want id %d with its data", prev, w.ID)
	}
	if last.End.Before(last.Start) {
		t.Errorf("trace times: got start %v end %v; want start before end", last.Start, last.End)
	}
	for range TraceLen + 10 {
		call(t, s, wire.Call{Op: wire.OpGetsockname, FD: 99})
	}
	entries = s.Trace()
	if len(entries) != TraceLen {
		t.Errorf("trace length after many calls: got %d; want %d", len(entries), TraceLen)
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Call.ID <= entries[i-1].Call.ID {
			t.Fatalf("trace order at %d: got id %d after %d; want oldest first", i, entries[i].Call.ID, entries[i-1].Call.ID)
		}
	}
	big := ok(t, s, wire.Call{Op: wire.OpWrite, FD: client, Data: make([]byte, 3*TraceData)})
	entries = s.Trace()
	if e := entries[len(entries)-1]; len(e.Call.Data) != TraceData || e.Result.Ret != big.Ret {
		t.Errorf("trace of a big write: got %d bytes kept, ret %d; want %d kept, ret %d", len(e.Call.Data), e.Result.Ret, TraceData, big.Ret)
	}
}

// TestNoLeak shows that a session leaves no descriptor open behind it: not
// its sockets, not the accepted ones, not the duplicates blocked calls wait on.
func TestNoLeak(t *testing.T) {
	// Not parallel: it counts the whole process's descriptors.
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd here")
	}
	count := func() int {
		t.Helper()
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	use := func() {
		s := NewSession(DefaultPolicy())
		l, addr := listener(t, s)
		client, server := pair(t, s)
		ok(t, s, wire.Call{Op: wire.OpWrite, FD: client, Data: []byte("x")})
		ok(t, s, wire.Call{Op: wire.OpRead, FD: server, Size: 10})
		c := dial(t, addr)
		defer c.Close() // now, not at the end of the test: the leak check counts after use
		ok(t, s, wire.Call{Op: wire.OpAccept, FD: l})
		ok(t, s, wire.Call{Op: wire.OpClose, FD: client})
		blockedAccept := async(t, context.Background(), s, wire.Call{Op: wire.OpAccept, FD: l})
		blockedRead := async(t, context.Background(), s, wire.Call{Op: wire.OpRead, FD: server, Size: 10})
		blocked(t, "accept", blockedAccept)
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		within(t, "accept", blockedAccept, prompt)
		within(t, "read", blockedRead, prompt)
	}
	use() // the runtime's poller opens its own descriptors on first use
	before := count()
	use()
	if after := count(); after != before {
		t.Errorf("open descriptors after a session closed: got %d; want %d, as before it", after, before)
	}
}

// TestConcurrentChaos has many goroutines make, use and close the same
// descriptors at once, then closes the session under them: every call must
// return, and nothing may crash or race.
func TestConcurrentChaos(t *testing.T) {
	t.Parallel()
	s := NewSession(Policy{MinPort: 1024, MaxPort: 65535, MaxSockets: 8})
	_, addr := listener(t, s)
	lo0 := netip.MustParseAddrPort("127.0.0.1:0")
	calls := []wire.Call{
		{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{Op: wire.OpBind, Addr: lo0},
		{Op: wire.OpListen, Value: 4},
		{Op: wire.OpAccept},
		{Op: wire.OpConnect, Addr: addr},
		{Op: wire.OpRead, Size: 64},
		{Op: wire.OpWrite, Data: []byte("chaos")},
		{Op: wire.OpShutdown, How: "SHUT_RDWR"},
		{Op: wire.OpGetpeername},
		{Op: wire.OpClose},
	}
	var wg sync.WaitGroup
	stop := time.Now().Add(300 * time.Millisecond)
	for g := range 16 {
		wg.Go(func() {
			for i := g; time.Now().Before(stop); i++ {
				c := calls[(i*7+g)%len(calls)]
				c.FD = 3 + (i*g)%8
				c.ID = ids.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				r, err := s.Do(ctx, &c)
				cancel()
				if err != nil || r.ID != c.ID {
					t.Errorf("%s: got %+v, %v; want a result with id %d", wire.FormatCall(&c), r, err, c.ID)
					return
				}
			}
		})
	}
	time.Sleep(150 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(prompt):
		t.Fatalf("close under load: still running after %v", prompt)
	}
	wg.Wait()
}

func TestNilContext(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	// A caller could pass nil; the session must not crash.
	//lint:ignore SA1012 the nil context is what this test passes on purpose
	r, err := s.Do(nil, &wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"})
	if err != nil || r.Failed() || r.Ret != 3 {
		t.Errorf("socket with a nil context: got %+v, %v; want 3", r, err)
	}
}
