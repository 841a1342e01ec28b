package bridge

import (
	"context"
	"runtime/debug"
	"sync"
	"time"
)

// budget bounds the bytes of data one page's calls hold in the bridge: a
// write's data from the moment its frame is read until the write returns
// (a peer that never reads keeps it waiting), and a read's, reserved at
// its size until it returns and then its bytes until the result is
// written to the page. The page's next call waits while the budget is
// spent — the bridge reads no more of its frames —, so a page that blocks
// writes pins at most the budget, not its pending calls times 256 KiB.
type budget struct {
	max int64

	mu      sync.Mutex
	used    int64
	peak    int64
	waiting int           // calls waiting in take
	wake    chan struct{} // closed and replaced when bytes are given back to a waiting call
}

func newBudget(max int64) *budget {
	return &budget{max: max, wake: make(chan struct{})}
}

// take holds n bytes, waiting until they fit or ctx ends. A call that fits
// nowhere (n over the budget) is let through when nothing else is held. It
// reports whether it had to wait.
func (b *budget) take(ctx context.Context, n int64) (waited bool, err error) {
	if n <= 0 {
		return false, nil
	}
	for {
		b.mu.Lock()
		if b.holdLocked(n) {
			b.mu.Unlock()
			return waited, nil
		}
		wake := b.wake
		b.waiting++
		b.mu.Unlock()
		waited = true
		select {
		case <-wake:
		case <-ctx.Done():
		}
		b.mu.Lock()
		b.waiting--
		b.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return waited, err
		}
	}
}

// tryTake holds n bytes if they fit now.
func (b *budget) tryTake(n int64) bool {
	if n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.holdLocked(n)
}

// holdLocked holds n bytes if they fit, or if nothing else is held.
func (b *budget) holdLocked(n int64) bool {
	if b.used == 0 || b.used+n <= b.max {
		b.used += n
		b.peak = max(b.peak, b.used)
		return true
	}
	return false
}

// give gives back n bytes.
func (b *budget) give(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.waiting > 0 {
		close(b.wake)
		b.wake = make(chan struct{})
	}
	b.mu.Unlock()
}

// highWater is the most the budget held at once.
func (b *budget) highWater() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// memoryBackAfter is how much a session must have held for its end to give
// memory back to the system: a forced collection is not free, and most
// sessions hold little.
const memoryBackAfter = 1 << 20

// giveMemoryBack returns the heap's free memory to the system soon, once
// for sessions that end together. Go's runtime keeps freed memory for
// reuse and returns it over minutes; a bridge whose pages held tens of MiB
// and went should not look as if it still needed them.
func (b *bridge) giveMemoryBack() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.freeing {
		return
	}
	b.freeing = true
	time.AfterFunc(100*time.Millisecond, func() {
		b.mu.Lock()
		b.freeing = false
		b.mu.Unlock()
		debug.FreeOSMemory()
	})
}
