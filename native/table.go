package native

import (
	"fmt"
	"sync"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// The leftovers of every session come from one reader of the host's TCP
// table per process. Reading it costs the kernel a walk of its whole
// connection hash — a millisecond or two on an idle host, more for each
// thousand connections a load tool leaves in TIME_WAIT — whatever the ports
// asked for, so one read for the ports of every session serves them all,
// and reads are spaced by their own cost: the table never takes more than
// about 1/tableCostShare of one core, however many sessions want it.
const (
	// tableGap is the least time between the starts of two reads: at most
	// 20 a second for the whole process.
	tableGap = 50 * time.Millisecond
	// tableCostShare spaces reads by their cost: a read that took d is
	// followed by none for tableCostShare×d (5% of a core).
	tableCostShare = 20
	// tableMaxGap bounds that spacing, so the table still moves when a
	// read is very slow.
	tableMaxGap = 2 * time.Second
)

var hostTable = &tableReader{sessions: make(map[*Session]struct{})}

// tableReader reads the host's table for the sessions of this process.
type tableReader struct {
	mu       sync.Mutex
	sessions map[*Session]struct{} // open sessions: the ports of all of them are read
	last     *tableRead            // the latest finished read
	reading  *tableRead            // the read in progress
	next     time.Time             // the earliest start of the next read
	reads    int                   // reads made, for tests
}

// tableRead is one read of the table, for ports.
type tableRead struct {
	start time.Time
	ports map[uint16]bool
	left  []wire.SocketInfo // the leftovers on ports
	err   error
	done  chan struct{} // closed when the read is finished
}

func (r *tableReader) add(s *Session) {
	r.mu.Lock()
	r.sessions[s] = struct{}{}
	r.mu.Unlock()
}

func (r *tableReader) remove(s *Session) {
	r.mu.Lock()
	delete(r.sessions, s)
	r.mu.Unlock()
}

// leftovers returns the leftovers on ports from a read that started at or
// after since, waiting for one (in progress, or the next one the spacing
// allows) if need be. It gives up, returning nothing, when done ends.
func (r *tableReader) leftovers(ports map[uint16]bool, since time.Time, done <-chan struct{}) ([]wire.SocketInfo, time.Time, error) {
	if len(ports) == 0 {
		return nil, time.Now(), nil
	}
	for {
		r.mu.Lock()
		if rd := r.last; rd != nil && !rd.start.Before(since) && covers(rd.ports, ports) {
			r.mu.Unlock()
			return pick(rd, ports)
		}
		if rd := r.reading; rd != nil {
			r.mu.Unlock()
			select {
			case <-rd.done:
				continue
			case <-done:
				return nil, time.Time{}, nil
			}
		}
		if wait := time.Until(r.next); wait > 0 {
			r.mu.Unlock()
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
				continue
			case <-done:
				timer.Stop()
				return nil, time.Time{}, nil
			}
		}
		rd := &tableRead{start: time.Now(), ports: r.allPorts(ports), done: make(chan struct{})}
		r.reading = rd
		r.reads++
		r.mu.Unlock()

		rd.left, rd.err = leftovers(rd.ports)
		cost := time.Since(rd.start)

		r.mu.Lock()
		r.reading, r.last = nil, rd
		r.next = rd.start.Add(min(tableMaxGap, max(tableGap, tableCostShare*cost)))
		r.mu.Unlock()
		close(rd.done)
	}
}

// allPorts is every port any open session watches, and ports. r.mu is held.
func (r *tableReader) allPorts(ports map[uint16]bool) map[uint16]bool {
	all := make(map[uint16]bool, len(ports))
	for p := range ports {
		all[p] = true
	}
	for s := range r.sessions {
		s.mu.Lock()
		for p := range s.ports {
			all[p] = true
		}
		s.mu.Unlock()
	}
	return all
}

func covers(read, want map[uint16]bool) bool {
	for p := range want {
		if !read[p] {
			return false
		}
	}
	return true
}

// pick is the part of a read on ports.
func pick(rd *tableRead, ports map[uint16]bool) ([]wire.SocketInfo, time.Time, error) {
	var out []wire.SocketInfo
	for _, e := range rd.left {
		if ports[e.Local.Port()] {
			out = append(out, e)
		}
	}
	err := rd.err
	if err != nil {
		err = fmt.Errorf("leftover sockets unknown: %w", err)
	}
	return out, rd.start, err
}

// TableReads is how many times this process has read the host's TCP table:
// the bridge's soak checks that however many sessions want it, the reads
// stay spaced.
func TableReads() int {
	hostTable.mu.Lock()
	defer hostTable.mu.Unlock()
	return hostTable.reads
}
