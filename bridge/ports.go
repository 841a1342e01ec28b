package bridge

import (
	"slices"
	"sync"
	"time"
)

const (
	// portMemory is how long the bridge remembers the ports of a page's
	// session after it ends. Stop ends the session, and the next Run is a
	// new one; the TIME_WAIT the old run left (60 s on Linux) should still
	// show in the new one's sockets panel.
	portMemory = 3 * time.Minute
	// maxRememberedPorts bounds that memory; the oldest are forgotten first.
	maxRememberedPorts = 1024
)

// recentPorts remembers the local ports of ended sessions for a while. It
// belongs to the bridge, not to a session, because the kernel's leftovers
// outlive the session that made them.
type recentPorts struct {
	mu   sync.Mutex
	seen map[uint16]time.Time // port → when its session ended
}

// add remembers ports as used at now.
func (r *recentPorts) add(ports []uint16, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = make(map[uint16]time.Time)
	}
	for _, p := range ports {
		r.seen[p] = now
	}
	r.prune(now)
	for len(r.seen) > maxRememberedPorts {
		oldest, at := uint16(0), now
		for p, t := range r.seen {
			if !t.After(at) {
				oldest, at = p, t
			}
		}
		delete(r.seen, oldest)
	}
}

// list returns, in order, the ports remembered at now.
func (r *recentPorts) list(now time.Time) []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now)
	out := make([]uint16, 0, len(r.seen))
	for p := range r.seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (r *recentPorts) prune(now time.Time) {
	for p, t := range r.seen {
		if now.Sub(t) > portMemory {
			delete(r.seen, p)
		}
	}
}
