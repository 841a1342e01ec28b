package native

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// foreignListener is a program outside the session listening with
// SO_REUSEPORT, as a server may.
func foreignListener(t *testing.T, addr string) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return err
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func reusePort(t *testing.T, s *Session) int {
	t.Helper()
	fd := newSocket4(t, s)
	ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: fd, Level: "SOL_SOCKET", Option: "SO_REUSEPORT", Value: 1})
	return fd
}

func wantPortRefusal(t *testing.T, what string, r *wire.Result) {
	t.Helper()
	if r.Refused == nil || r.Refused.Rule != RuleSharedPort || !strings.Contains(r.Refused.Message, "SO_REUSEPORT") {
		t.Errorf("%s: got %s; want a refusal by %s that names SO_REUSEPORT", what, wire.FormatResult(&wire.Call{Op: wire.OpBind}, r), RuleSharedPort)
	}
}

// TestReusePortTakesNoOneElsesConnections: with SO_REUSEPORT a socket may
// share a port another socket listens on, and the kernel then hands it
// some of that socket's connections. A session may share a port only with
// its own sockets: binding, or listening on, a port a program outside the
// session listens on is refused, naming the option.
func TestReusePortTakesNoOneElsesConnections(t *testing.T) {
	t.Parallel()
	other := foreignListener(t, "127.0.0.1:0")
	addr := other.Addr().(*net.TCPAddr).AddrPort()

	s := newSession(t, DefaultPolicy())
	fd := reusePort(t, s)
	r := call(t, s, wire.Call{Op: wire.OpBind, FD: fd, Addr: addr})
	wantPortRefusal(t, "bind on a port another program listens on", r)
	if !r.Failed() {
		// Show what the refusal prevents: the session takes some of the
		// other program's clients.
		ok(t, s, wire.Call{Op: wire.OpListen, FD: fd, Value: 64})
		taken := 0
		for range 40 {
			dial(t, addr)
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), prompt/4)
			r := callCtx(t, ctx, s, wire.Call{Op: wire.OpAccept, FD: fd})
			cancel()
			if r.Failed() {
				break
			}
			taken++
		}
		t.Errorf("the session took %d of 40 connections meant for another program", taken)
	}
	// Its wildcard address overlaps too.
	wantPortRefusal(t, "bind on 127.0.0.1 under another program's 0.0.0.0", call(t, s, wire.Call{Op: wire.OpBind, FD: reusePort(t, s), Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(foreignListener(t, "0.0.0.0:0").Addr().(*net.TCPAddr).Port))}))

	// Listening is checked too: the other program may have come after the bind.
	late := reusePort(t, s)
	ok(t, s, wire.Call{Op: wire.OpBind, FD: late, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	port := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: late}).Addr
	foreignListener(t, port.String())
	wantPortRefusal(t, "listen on a port another program came to listen on", call(t, s, wire.Call{Op: wire.OpListen, FD: late, Value: 4}))

	// Another session is another program.
	s2 := newSession(t, DefaultPolicy())
	l2 := reusePort(t, s2)
	ok(t, s2, wire.Call{Op: wire.OpBind, FD: l2, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	ok(t, s2, wire.Call{Op: wire.OpListen, FD: l2, Value: 4})
	addr2 := ok(t, s2, wire.Call{Op: wire.OpGetsockname, FD: l2}).Addr
	wantPortRefusal(t, "bind on a port another session listens on", call(t, s, wire.Call{Op: wire.OpBind, FD: reusePort(t, s), Addr: addr2}))

	// Its own sockets may share a port, as a native program's may.
	s3 := newSession(t, DefaultPolicy())
	a, b := reusePort(t, s3), reusePort(t, s3)
	ok(t, s3, wire.Call{Op: wire.OpBind, FD: a, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	ok(t, s3, wire.Call{Op: wire.OpListen, FD: a, Value: 4})
	shared := ok(t, s3, wire.Call{Op: wire.OpGetsockname, FD: a}).Addr
	ok(t, s3, wire.Call{Op: wire.OpBind, FD: b, Addr: shared})
	ok(t, s3, wire.Call{Op: wire.OpListen, FD: b, Value: 4})

	// Without SO_REUSEPORT the kernel says no, as it always did.
	wantErrno(t, "bind without SO_REUSEPORT on a port in use", call(t, s, wire.Call{Op: wire.OpBind, FD: newSocket4(t, s), Addr: addr}), "EADDRINUSE")
}
