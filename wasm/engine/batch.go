package engine

import (
	"sync"
	"time"
)

// Event batching: a server making thousands of calls a second would spend
// its time handing the page one event at a time.
const (
	batchWindow = 16 * time.Millisecond // longest a call, result or output event waits
	batchBytes  = 64 << 10              // a batch this big goes at once
)

// Batch gathers events into one JSON array for the page. Calls, results
// and output wait up to batchWindow for company; any other event (a stop,
// the exit, a diagnostic, a sockets table) goes at once, with the events
// before it, so state changes are never late and order is kept. So is an
// event after a quiet spell: in engine.wasm a program that then spins
// (for {}) never yields to the timer, and would keep it from the page.
type Batch struct {
	send func(json []byte) // one JSON array; must not keep the slice

	mu    sync.Mutex
	buf   []byte // "[e1,e2" while events wait; empty when none does
	timer *time.Timer
	last  time.Time // when a batch was last sent
}

// NewBatch returns a Batch that hands each batch to send.
func NewBatch(send func(json []byte)) *Batch { return &Batch{send: send} }

// Add queues e, and sends the batch if e should not wait.
func (b *Batch) Add(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := len(b.buf) == 0
	if first {
		b.buf = append(b.buf, '[')
	} else {
		b.buf = append(b.buf, ',')
	}
	b.buf = e.AppendJSON(b.buf)
	switch {
	case !Routine(e) || len(b.buf) >= batchBytes:
		b.flushLocked()
	case !first:
		// The timer set by the batch's first event is due. (Reading the
		// clock is a call into JavaScript in engine.wasm: once a batch.)
	case time.Since(b.last) >= batchWindow:
		b.flushLocked()
	default:
		b.timer = time.AfterFunc(batchWindow, b.Flush)
	}
}

// Flush sends the events that wait, if any.
func (b *Batch) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

// Routine reports whether e is one of the events every call and every
// print make (call, result, output), which may wait for company.
func Routine(e Event) bool {
	switch e.(type) {
	case CallEvent, ResultEvent, OutputEvent:
		return true
	}
	return false
}

func (b *Batch) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	b.last = time.Now()
	if len(b.buf) == 0 {
		return
	}
	b.send(append(b.buf, ']'))
	b.buf = b.buf[:0]
}
