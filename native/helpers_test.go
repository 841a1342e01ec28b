package native

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// wait bounds every call a test makes: a hung call fails the test instead
// of hanging it.
const wait = 10 * time.Second

// prompt is how soon a cancelled or closed call must return.
const prompt = 2 * time.Second

var ids atomic.Uint64

func newSession(t testing.TB, p Policy) *Session {
	t.Helper()
	s := NewSession(p)
	t.Cleanup(func() { s.Close() })
	return s
}

// call performs c with a bounded context and fails the test on a malformed
// call.
func call(t testing.TB, s *Session, c wire.Call) *wire.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return callCtx(t, ctx, s, c)
}

func callCtx(t testing.TB, ctx context.Context, s *Session, c wire.Call) *wire.Result {
	t.Helper()
	c.ID = ids.Add(1)
	r, err := s.Do(ctx, &c)
	if err != nil {
		t.Fatalf("%s: got error %v; want a result", wire.FormatCall(&c), err)
	}
	if r.ID != c.ID {
		t.Fatalf("%s: got result id %d; want %d", wire.FormatCall(&c), r.ID, c.ID)
	}
	return r
}

// ok performs c and fails the test unless it succeeds.
func ok(t testing.TB, s *Session, c wire.Call) *wire.Result {
	t.Helper()
	r := call(t, s, c)
	if r.Failed() {
		t.Fatalf("%s: got %s; want success", wire.FormatCall(&c), wire.FormatResult(&c, r))
	}
	return r
}

// wantErrno fails the test unless r is the kernel error want.
func wantErrno(t testing.TB, what string, r *wire.Result, want string) {
	t.Helper()
	if r.Refused != nil || r.Errno != want {
		t.Errorf("%s: got errno %q refused %v; want errno %s", what, r.Errno, r.Refused, want)
	}
}

func newSocket4(t testing.TB, s *Session) int {
	t.Helper()
	return ok(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}).Ret
}

// listener makes a listening socket on a port the kernel picks.
func listener(t testing.TB, s *Session) (int, netip.AddrPort) {
	t.Helper()
	fd := newSocket4(t, s)
	ok(t, s, wire.Call{Op: wire.OpBind, FD: fd, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	ok(t, s, wire.Call{Op: wire.OpListen, FD: fd, Value: 16})
	addr := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: fd}).Addr
	if addr.Port() == 0 {
		t.Fatalf("getsockname(%d): got port 0; want the port the kernel picked", fd)
	}
	return fd, addr
}

// dial connects a real client to addr.
func dial(t testing.TB, addr netip.AddrPort) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), wait)
	if err != nil {
		t.Fatalf("connect to %v: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pair makes a connected pair of sockets in s: client and server side.
func pair(t testing.TB, s *Session) (client, server int) {
	t.Helper()
	l, addr := listener(t, s)
	client = newSocket4(t, s)
	ok(t, s, wire.Call{Op: wire.OpConnect, FD: client, Addr: addr})
	server = ok(t, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	ok(t, s, wire.Call{Op: wire.OpClose, FD: l})
	return client, server
}

// async runs c in a goroutine; the channel gets its result.
func async(t testing.TB, ctx context.Context, s *Session, c wire.Call) <-chan *wire.Result {
	t.Helper()
	done := make(chan *wire.Result, 1)
	c.ID = ids.Add(1)
	go func() {
		r, err := s.Do(ctx, &c)
		if err != nil {
			r = &wire.Result{ID: c.ID, Errno: "malformed: " + err.Error()}
		}
		done <- r
	}()
	return done
}

// within waits for a result from done, failing the test after d.
func within(t testing.TB, what string, done <-chan *wire.Result, d time.Duration) *wire.Result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %v; want it to return", what, d)
		return nil
	}
}

// blocked checks that the call behind done has not returned yet.
func blocked(t testing.TB, what string, done <-chan *wire.Result) {
	t.Helper()
	select {
	case r := <-done:
		t.Fatalf("%s: returned %+v; want it blocked", what, r)
	case <-time.After(50 * time.Millisecond):
	}
}
