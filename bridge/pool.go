package bridge

import (
	"sync"
	"sync/atomic"
)

// maxIdleWorkers bounds the goroutines of one pool that ran a call and wait
// for the next.
const maxIdleWorkers = 64

// pool runs a session's calls, each on a goroutine of its own, at most
// limit at once. A worker that finished a call waits for the next and
// keeps its grown stack, where a fresh goroutine per call grew (copied) its
// stack on every call; no worker ever runs two calls at once, so a blocked
// call (an accept) holds up no other.
type pool struct {
	done   <-chan struct{} // closed when the session ends: waiting workers quit
	slots  chan struct{}   // one token per call in flight
	idle   chan func()     // unbuffered: a call handed to a worker waiting for one
	idlers atomic.Int32    // workers waiting on idle, or about to
	calls  sync.WaitGroup
}

func newPool(limit int, done <-chan struct{}) *pool {
	return &pool{done: done, slots: make(chan struct{}, limit), idle: make(chan func())}
}

// tryGo runs call on a worker, an idle one if one waits, else a new one;
// it reports false, and runs nothing, while limit calls are in flight.
func (p *pool) tryGo(call func()) bool {
	select {
	case p.slots <- struct{}{}:
	default:
		return false
	}
	p.calls.Add(1)
	select {
	case p.idle <- call:
	default:
		go p.work(call)
	}
	return true
}

// work runs call, then the calls tryGo hands it, until the session ends.
// Past maxIdleWorkers waiting at once, a worker ends instead of waiting.
func (p *pool) work(call func()) {
	for {
		call()
		<-p.slots
		p.calls.Done()
		if p.idlers.Add(1) > maxIdleWorkers {
			p.idlers.Add(-1)
			return
		}
		select {
		case call = <-p.idle:
			p.idlers.Add(-1)
		case <-p.done:
			return
		}
	}
}

// busy is the number of calls in flight.
func (p *pool) busy() int { return len(p.slots) }

// limit is the most calls in flight at once.
func (p *pool) limit() int { return cap(p.slots) }

// wait waits until no call is in flight.
func (p *pool) wait() { p.calls.Wait() }
