package native

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd here: %v", err)
	}
	return len(entries)
}

// TestBlockedCallsTakeNoDescriptors: however many calls block on one
// socket, the session holds one real descriptor per socket, no more (a
// duplicate per extra waiter let one session hold hundreds past its socket
// cap). Each blocked call can still be cancelled alone, and the others
// still get their results.
func TestBlockedCallsTakeNoDescriptors(t *testing.T) {
	// Not parallel: it counts the whole process's descriptors.
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	client, server := pair(t, s)
	const n = 100
	before := openFDs(t)
	type blockedCall struct {
		done   <-chan *wire.Result
		cancel context.CancelFunc
	}
	var accepts, reads []blockedCall
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		accepts = append(accepts, blockedCall{async(t, ctx, s, wire.Call{Op: wire.OpAccept, FD: l}), cancel})
		ctx, cancel = context.WithTimeout(context.Background(), wait)
		defer cancel()
		reads = append(reads, blockedCall{async(t, ctx, s, wire.Call{Op: wire.OpRead, FD: server, Size: 16}), cancel})
	}
	blocked(t, "the first accept", accepts[0].done)
	time.Sleep(100 * time.Millisecond) // the others reach their wait
	if after := openFDs(t); after > before {
		t.Errorf("%d accepts and %d reads blocked on two sockets: %d more descriptors open; want none", n, n, after-before)
	}

	// Cancel every other call: each returns alone, the rest stay blocked.
	for i := 0; i < n; i += 2 {
		accepts[i].cancel()
		reads[i].cancel()
		if r := within(t, "a cancelled accept", accepts[i].done, prompt); r.Errno != "ECANCELED" {
			t.Errorf("cancelled accept %d: got %+v; want ECANCELED", i, r)
		}
		if r := within(t, "a cancelled read", reads[i].done, prompt); r.Errno != "ECANCELED" {
			t.Errorf("cancelled read %d: got %+v; want ECANCELED", i, r)
		}
	}
	blocked(t, "accept 1", accepts[1].done)
	blocked(t, "read 1", reads[1].done)

	// A client and a byte: one accept and one read get them.
	dial(t, addr)
	ok(t, s, wire.Call{Op: wire.OpWrite, FD: client, Data: []byte("x")})
	returned := map[<-chan *wire.Result]bool{}
	var gotAccept, gotRead bool
	deadline := time.Now().Add(wait)
	for !gotAccept || !gotRead {
		if time.Now().After(deadline) {
			t.Fatalf("after a client connected and a byte was written: accept returned %v, read returned %v; want both", gotAccept, gotRead)
		}
		for i := 1; i < n; i += 2 {
			select {
			case r := <-accepts[i].done:
				if r.Failed() || gotAccept {
					t.Fatalf("accept %d: got %+v; want one accept to get the client", i, r)
				}
				returned[accepts[i].done], gotAccept = true, true
			case r := <-reads[i].done:
				if r.Failed() || string(r.Data) != "x" || gotRead {
					t.Fatalf("read %d: got %+v; want one read to get \"x\"", i, r)
				}
				returned[reads[i].done], gotRead = true, true
			default:
			}
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Closing the session ends every call still blocked.
	s.Close()
	for i := 1; i < n; i += 2 {
		for _, c := range []blockedCall{accepts[i], reads[i]} {
			if !returned[c.done] {
				if r := within(t, "a call blocked when the session closed", c.done, prompt); r.Errno != "ECANCELED" {
					t.Errorf("a call blocked when the session closed: got %+v; want ECANCELED", r)
				}
			}
		}
	}
}
