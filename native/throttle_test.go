package native

import (
	"context"
	"testing"
	"time"

	"sockstep/native/wire"
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

// TestThrottleDelays checks the bucket's arithmetic on a clock of its own:
// a burst passes, then each call waits one more interval, and time refills.
func TestThrottleDelays(t *testing.T) {
	th := newThrottle(100, 5)
	now := time.Unix(1000, 0)
	for i := range 30 {
		want := time.Duration(max(0, i-4)) * 10 * time.Millisecond
		if got := th.delay(now); got != want {
			t.Fatalf("call %d at one instant: delay %v; want %v", i+1, got, want)
		}
	}
	if n := th.slowedCalls(); n != 25 {
		t.Errorf("slowed calls: got %d; want 25", n)
	}
	// 25 calls are owed 250ms; a second later the bucket is full again.
	if got := th.delay(now.Add(time.Second)); got != 0 {
		t.Errorf("a second later: delay %v; want none", got)
	}
	th.giveBack()
	for range 5 {
		if got := th.delay(now.Add(time.Second)); got != 0 {
			t.Errorf("a full bucket: delay %v; want none", got)
		}
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
	th := newThrottle(0, 1)
	for range 1000 {
		if d := th.delay(time.Now()); d != 0 {
			t.Fatalf("no cap: got a delay of %v", d)
		}
	}
}
