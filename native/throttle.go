package native

import (
	"sync"
	"time"
)

// throttle is a token bucket that delays rather than refuses: each call takes
// a token, and a call that finds none waits until one has accrued. A learner's
// program that spins on calls (a busy accept loop, a write per byte) is slowed
// to the policy's rate and keeps working; a well-behaved one never notices.
type throttle struct {
	perSecond float64 // tokens accrued a second; 0 means no limit
	burst     float64 // most tokens the bucket holds

	mu     sync.Mutex
	tokens float64   // may go below zero: calls already promised a later turn
	last   time.Time // when tokens was last brought up to date
	slowed int64     // calls that had to wait
}

func newThrottle(perSecond, burst int) *throttle {
	return &throttle{perSecond: float64(perSecond), burst: float64(max(burst, 1)), tokens: float64(max(burst, 1))}
}

// delay takes a token and says how long the call must wait for it.
func (t *throttle) delay(now time.Time) time.Duration {
	if t.perSecond <= 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() {
		t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.perSecond)
	}
	t.last = now
	t.tokens--
	if t.tokens >= 0 {
		return 0
	}
	t.slowed++
	return time.Duration(-t.tokens / t.perSecond * float64(time.Second))
}

// giveBack returns the token of a call that was cancelled while it waited,
// so a cancelled backlog does not slow the calls after it.
func (t *throttle) giveBack() {
	t.mu.Lock()
	t.tokens = min(t.burst, t.tokens+1)
	t.mu.Unlock()
}

func (t *throttle) slowedCalls() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.slowed
}
