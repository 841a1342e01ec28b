package native

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// key is what both readers of the table must agree on for one leftover.
func key(e wire.SocketInfo) string {
	show := func(p *int) string {
		if p == nil {
			return "?"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%s %v -> %v queue=%s unsent=%s timer=%v", e.State, e.Local, e.Peer, show(e.Queue), show(e.Unsent), e.Timer != nil)
}

// TestLeftoversAgreeWithProc: the leftovers asked of the kernel over
// netlink, for a few ports, are the ones /proc/net/tcp and tcp6 list on
// those ports — TIME_WAIT, connections not yet accepted, IPv4 and IPv6 —
// and none on other ports.
func TestLeftoversAgreeWithProc(t *testing.T) {
	t.Parallel()
	s := newSession(t, DefaultPolicy())
	var ports []uint16
	lingering := func(l int, addr netip.AddrPort) {
		ports = append(ports, addr.Port())
		c := dial(t, addr)
		fd := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
		ok(t, s, wire.Call{Op: wire.OpClose, FD: fd}) // the server closes first: TIME_WAIT on its port
		c.Close()
		dial(t, addr) // and one left in the accept queue
	}
	lingering(listener(t, s))
	lingering(listener(t, s))
	if l6 := call(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM"}); !l6.Failed() {
		if r := call(t, s, wire.Call{Op: wire.OpBind, FD: l6.Ret, Addr: netip.MustParseAddrPort("[::1]:0")}); !r.Failed() {
			ok(t, s, wire.Call{Op: wire.OpListen, FD: l6.Ret, Value: 4})
			lingering(l6.Ret, ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: l6.Ret}).Addr)
		}
	}
	other, err := net.Listen("tcp", "127.0.0.1:0") // a port nobody asks about
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if c, err := net.Dial("tcp", other.Addr().String()); err == nil {
		defer c.Close()
	}

	want := map[uint16]bool{}
	for _, p := range ports {
		want[p] = true
	}
	var viaNetlink, viaProc []string
	for deadline := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		a, err := leftovers(want)
		if err != nil {
			t.Fatalf("leftovers over netlink: %v", err)
		}
		b, err := leftoversProc(want)
		if err != nil {
			t.Fatalf("leftovers from /proc: %v", err)
		}
		viaNetlink, viaProc = nil, nil
		for _, e := range a {
			viaNetlink = append(viaNetlink, key(e))
		}
		for _, e := range b {
			viaProc = append(viaProc, key(e))
		}
		slices.Sort(viaNetlink)
		slices.Sort(viaProc)
		// FIN_WAIT2 turns TIME_WAIT between the two reads at times: read again.
		if slices.Equal(viaNetlink, viaProc) && !strings.Contains(strings.Join(viaProc, "\n"), "FIN_WAIT") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("netlink and /proc disagree on ports %v:\nnetlink:\n  %s\n/proc:\n  %s", ports, strings.Join(viaNetlink, "\n  "), strings.Join(viaProc, "\n  "))
		}
	}
	if len(viaNetlink) != 2*len(ports) {
		t.Errorf("leftovers on %d ports: got\n  %s\nwant a TIME_WAIT and a queued connection on each", len(ports), strings.Join(viaNetlink, "\n  "))
	}
	if noNetlink.Load() {
		t.Error("netlink was reported unavailable; want it used on Linux")
	}
	t.Logf("both families in one request: %v", !noCompat.Load())
}

// TestPortFilter runs the port filter the kernel runs, on every port of a
// set and beside them: only the ports asked for pass.
func TestPortFilter(t *testing.T) {
	t.Parallel()
	for _, ports := range [][]uint16{{9000}, {9000, 9001, 80}, {1, 65535, 40000, 2}} {
		bc := portFilter(ports)
		for _, p := range []uint16{1, 2, 79, 80, 81, 8999, 9000, 9001, 9002, 39999, 40000, 65534, 65535} {
			want := slices.Contains(ports, p)
			if got := runFilter(t, bc, p); got != want {
				t.Errorf("filter for %v, local port %d: got %v; want %v", ports, p, got, want)
			}
		}
	}
	many := make([]uint16, maxFilterPorts+1)
	for i := range many {
		many[i] = uint16(i + 1)
	}
	if portFilter(many) != nil {
		t.Errorf("a filter for %d ports: want none (the kernel sends every socket, and the reader picks)", len(many))
	}
}

// runFilter is the kernel's inet_diag_bc_run for the ops portFilter makes:
// a socket passes when the program runs exactly to its end.
func runFilter(t *testing.T, bc []byte, port uint16) bool {
	t.Helper()
	at := 0
	for steps := 0; at < len(bc); steps++ {
		if steps > len(bc) {
			t.Fatal("the filter loops")
		}
		code, yes := bc[at], int(bc[at+1])
		no := int(binary.NativeEndian.Uint16(bc[at+2:]))
		var cond bool
		switch code {
		case inetDiagBcJmp:
			cond = false
		case inetDiagBcSGE:
			cond = port >= binary.NativeEndian.Uint16(bc[at+6:])
		case inetDiagBcSLE:
			cond = port <= binary.NativeEndian.Uint16(bc[at+6:])
		default:
			t.Fatalf("op %d at %d: not one portFilter makes", code, at)
		}
		if cond {
			at += yes
		} else {
			at += no
		}
	}
	return at == len(bc)
}

// TestTableReadsAreShared: sessions asking for the table at once share its
// reads, and however often they ask, reads start at most every tableGap.
func TestTableReadsAreShared(t *testing.T) {
	// Not parallel: it counts the process's reads.
	var sessions []*Session
	for range 8 {
		s := newSession(t, DefaultPolicy())
		listener(t, s)
		sessions = append(sessions, s)
	}
	hostTable.mu.Lock()
	before := hostTable.reads
	hostTable.mu.Unlock()
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(func() {
			for range 20 {
				if _, err := s.Leftovers(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	hostTable.mu.Lock()
	reads := hostTable.reads - before
	hostTable.mu.Unlock()
	if most := int(elapsed/tableGap) + 1; reads > most {
		t.Errorf("8 sessions asked for the table 20 times each: %d reads in %v; want at most %d (one every %v)", reads, elapsed, most, tableGap)
	}
	if reads >= 8*20 {
		t.Errorf("%d reads for %d asks: want them shared", reads, 8*20)
	}
	t.Logf("%d asks, %d reads in %v", 8*20, reads, elapsed.Round(time.Millisecond))
}
