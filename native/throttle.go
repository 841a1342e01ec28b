package native

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"
)

// newLimiter is the policy's calls-per-second cap as a token bucket that
// delays rather than refuses: a learner's program that spins on calls (a
// busy accept loop, a write per byte) is slowed to the policy's rate and
// keeps working; a well-behaved one never notices. nil: no cap.
func newLimiter(perSecond, burst int) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
}

// wait delays a call over the policy's calls-per-second cap. A call whose
// context or session ends while it waits gives its token back, so a
// cancelled backlog does not slow the calls after it.
func (s *Session) wait(ctx context.Context) error {
	if s.limit == nil {
		return nil
	}
	now := time.Now()
	r := s.limit.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	s.slowed.Add(1)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
	case <-s.done.Done():
	}
	r.CancelAt(time.Now())
	return unix.ECANCELED
}
