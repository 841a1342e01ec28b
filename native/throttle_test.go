package native

import (
	"context"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// TestCallsOverTheCapAreSlowedNotRefused: a burst of calls beyond the cap
// all succeed, and take at least as long as the cap allows (a lower bound,
// which a slow machine only makes easier to meet).
func TestCallsOverTheCapAreSlowedNotRefused(t *testing.T) {
	p := DefaultPolicy()
	p.CallsPerSecond, p.CallBurst = 100, 5
	s := newSession(t, p)
	fd := newSocket4(t, s)
	const calls = 30
	start := time.Now()
	for range calls {
		ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: fd})
	}
	elapsed := time.Since(start)
	// 1 + 30 calls with a burst of 5 at 100 a second: at least 26 waited 10ms each.
	if least := 250 * time.Millisecond; elapsed < least {
		t.Errorf("%d calls at 100 a second, burst 5: took %v; want at least %v", calls+1, elapsed, least)
	}
}

// TestCancelledWaitGivesItsTokenBack: calls cancelled while they wait over
// the cap do not slow the calls after them.
func TestCancelledWaitGivesItsTokenBack(t *testing.T) {
	p := DefaultPolicy()
	p.CallsPerSecond, p.CallBurst = 10, 1
	s := newSession(t, p)
	fd := newSocket4(t, s) // takes the only token
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		if r := callCtx(t, ctx, s, wire.Call{Op: wire.OpGetsockname, FD: fd}); r.Errno != "ECANCELED" {
			t.Fatalf("a call cancelled while it waits: %+v; want ECANCELED", r)
		}
		cancel()
	}
	// Five cancelled waits owe nothing: at most the socket's token is
	// missing from the bucket, not six.
	if tokens := s.limit.Tokens(); tokens < -1 {
		t.Errorf("after five cancelled waits the bucket holds %.2f tokens; want -1 or more", tokens)
	}
	if s.Slowed() != 5 {
		t.Errorf("slowed calls: %d; want 5", s.Slowed())
	}
}

func TestThrottledCallIsCancellable(t *testing.T) {
	p := DefaultPolicy()
	p.CallsPerSecond, p.CallBurst = 1, 1
	s := NewSession(p)
	fd := newSocket4(t, s) // takes the only token; the next call waits a second
	ctx, cancel := context.WithCancel(context.Background())
	waiting := async(t, ctx, s, wire.Call{Op: wire.OpGetsockname, FD: fd})
	blocked(t, "a call over the cap", waiting)
	cancel()
	wantErrno(t, "a throttled call whose context ends", within(t, "a cancelled throttled call", waiting, prompt), "ECANCELED")

	waiting = async(t, context.Background(), s, wire.Call{Op: wire.OpGetsockname, FD: fd})
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	wantErrno(t, "a throttled call when its session closes", within(t, "a throttled call on close", waiting, prompt), "ECANCELED")
	select {
	case <-closed:
	case <-time.After(prompt):
		t.Fatal("Close did not return while a call was throttled")
	}
}

func TestNoCapMeansNoDelay(t *testing.T) {
	if newLimiter(0, 1) != nil {
		t.Fatal("no cap: got a limiter")
	}
}
