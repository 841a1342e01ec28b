//go:build linux

package native

import (
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// crowdHost fills the host's TCP table with n connections in TIME_WAIT on
// ports no session watches, as a load tool leaves behind against a server
// that opens a connection per request (issue 12 saw 3–6K lines). They
// linger for the kernel's 60 s; n is bounded.
func crowdHost(tb testing.TB, n int) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // after the client's close: the client's side waits in TIME_WAIT
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			tb.Fatalf("connection %d of %d: %v", i, n, err)
		}
		c.Close()
	}
	ln.Close()
	wg.Wait()
}

// BenchmarkLeftovers reads one session's leftovers (a listener and a
// TIME_WAIT on its port) on a host whose table holds 5,000 other
// connections: over netlink, as the bridge does, and from /proc, where
// netlink is forbidden. It is what each read of the table costs (at most 20
// a second for the whole bridge, spaced further by their cost).
//
//	go test -run '^$' -bench Leftovers ./native
func BenchmarkLeftovers(b *testing.B) {
	crowdHost(b, crowd())
	s := NewSession(DefaultPolicy())
	defer s.Close()
	l, addr := listener(b, s)
	c := dial(b, addr)
	fd := ok(b, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	ok(b, s, wire.Call{Op: wire.OpClose, FD: fd}) // the server closes first: its side waits in TIME_WAIT
	c.Close()
	b.Run("netlink", func(b *testing.B) { benchLeftovers(b, s, leftovers) })
	b.Run("proc", func(b *testing.B) { benchLeftovers(b, s, leftoversProc) })
}

func benchLeftovers(b *testing.B, s *Session, read func(map[uint16]bool) ([]wire.SocketInfo, error)) {
	ports := map[uint16]bool{}
	for _, p := range s.Ports() {
		ports[p] = true
	}
	for b.Loop() {
		if _, err := read(ports); err != nil {
			b.Fatal(err)
		}
	}
}

// crowd is how many connections BenchmarkLeftovers leaves in TIME_WAIT
// first: $CROWD, or 5,000. (CROWD=0 measures a table others have filled:
// a run of the benchmark at an older version, for a before and after on
// the same table.)
func crowd() int {
	n, err := strconv.Atoi(os.Getenv("CROWD"))
	if err != nil {
		return 5000
	}
	return n
}
