package runner

import (
	"slices"
	"sync"
	"time"

	"github.com/sockstep/sockstep/wasm/engine"
)

// Bounds on the events waiting for the page. A server making tens of
// thousands of calls a second would otherwise hand the page more than it
// can draw, and the queue between them would grow without end; past these
// the oldest calls (with their results) and output are left out, and a
// skipped event says how many, so the page shows the newest ones.
const (
	batchWindow  = 16 * time.Millisecond // longest a call, result or output event waits for company
	floodWindow  = 50 * time.Millisecond // the same while calls are being left out: the page draws the newest ones no faster
	maxCalls     = 128                   // call events waiting at once
	floodCalls   = 32                    // the same while calls are being left out: a render of the page shows no more
	maxOutput    = 64 << 10              // bytes of output waiting at once
	urgentWait   = time.Second           // how long a stop, diagnostic or answer waits to be written
	writeBufSize = 64 << 10
)

// sink gathers the engine's events and writes them to the bridge as JSON
// arrays, one line each. The program never waits for the page: while a
// write is under way or one went out less than batchWindow ago, add only
// queues, and a writer goroutine sends what gathered. After a quiet spell,
// and when the bridge has read everything written so far (so a write cannot
// block), the goroutine that adds an event writes it itself, at once: a
// program that prints and then dies in a way no code of ours survives (the
// runtime out of memory) still has said its last words. An event that must
// not be lost to a crash right after it (a diagnostic, a stop) waits until
// it is written, within urgentWait.
type sink struct {
	write func([]byte) error
	// drained reports whether the bridge has read all that was written:
	// then a write of one batch fits in the socket's buffer at once.
	drained func() bool

	mu       sync.Mutex
	pending  []engine.Event
	spare    []engine.Event      // the last batch's slice, for the next
	calls    int                 // call events in pending
	output   int                 // bytes of output in pending
	dropped  map[uint64]bool     // calls left out whose result is still to come: it is left out too
	skipped  engine.SkippedEvent // what was left out since the last write
	queued   uint64              // events added
	written  uint64              // events written (or given up on)
	writing  bool                // a goroutine is writing a batch
	flooding bool                // calls were left out of the last batch
	last     time.Time           // when the last batch was written
	buf      []byte              // the encoded batch, under writing
	wake     chan struct{}
	done     *sync.Cond // signalled after each write
}

func newSink(write func([]byte) error, drained func() bool) *sink {
	s := &sink{write: write, drained: drained, dropped: map[uint64]bool{}, wake: make(chan struct{}, 1)}
	s.done = sync.NewCond(&s.mu)
	go s.writer()
	return s
}

// add queues e for the page.
func (s *sink) add(e engine.Event) {
	s.mu.Lock()
	if r, ok := e.(engine.ResultEvent); ok && s.dropped[r.ID] {
		delete(s.dropped, r.ID)
		s.mu.Unlock()
		return
	}
	s.pending = append(s.pending, e)
	s.queued++
	switch e := e.(type) {
	case engine.CallEvent:
		s.calls++
	case engine.OutputEvent:
		s.output += len(e.Text)
	}
	if s.calls > s.callBound() || s.output > maxOutput {
		s.trimLocked()
	}
	seq := s.queued
	if !s.writing && (!engine.Routine(e) || time.Since(s.last) >= batchWindow) && s.drained() {
		s.drainLocked() // unlocks
	} else {
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	switch e.(type) {
	case engine.DiagnosticEvent, engine.PausedEvent:
		s.waitWritten(seq)
	}
}

// drainLocked writes everything that waits, as one batch; s.mu is held on
// entry and released on return.
func (s *sink) drainLocked() {
	s.writing = true
	batch := s.pending
	s.pending = s.spare[:0]
	skipped := s.skipped
	s.flooding = skipped.Calls > 0
	s.skipped.Calls, s.skipped.Bytes = 0, 0
	s.calls, s.output = 0, 0
	seq := s.queued
	s.mu.Unlock()

	buf := append(s.buf[:0], '[')
	if skipped.Calls > 0 || skipped.Bytes > 0 {
		buf = append(skipped.AppendJSON(buf), ',')
	}
	for _, e := range batch {
		buf = append(e.AppendJSON(buf), ',')
	}
	if len(buf) > 1 {
		buf[len(buf)-1] = ']'
		s.write(append(buf, '\n'))
	}
	clear(batch)

	s.mu.Lock()
	if cap(buf) <= 4*writeBufSize {
		s.buf = buf // a burst's buffer is not kept
	}
	s.spare = batch[:0]
	s.last = time.Now()
	s.writing = false
	s.written = max(s.written, seq)
	s.done.Broadcast()
	more := len(s.pending) > 0
	s.mu.Unlock()
	if more {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// callBound is how many call events may wait. While calls are being left
// out it is lower: the page draws a flood's newest calls at most 10 times a
// second, a few dozen each time; sending it more only costs the two cores
// the program runs on (the page's main thread took 34-47 µs per echo under
// the 1-client echo with 128 calls a batch).
func (s *sink) callBound() int {
	if s.flooding || s.skipped.Calls > 0 {
		return floodCalls
	}
	return maxCalls
}

// trimLocked leaves out the older half of the waiting calls (and their
// results) or output, whichever is over its bound.
func (s *sink) trimLocked() {
	dropCalls := 0
	if bound := s.callBound(); s.calls > bound {
		dropCalls = s.calls - bound/2
	}
	dropOutput := 0
	if s.output > maxOutput {
		dropOutput = s.output - maxOutput/2
	}
	kept := s.pending[:0]
	for _, e := range s.pending {
		switch e := e.(type) {
		case engine.CallEvent:
			if dropCalls > 0 {
				dropCalls--
				s.calls--
				s.skipped.Calls++
				s.dropped[e.ID] = true
				continue
			}
		case engine.ResultEvent:
			if s.dropped[e.ID] {
				delete(s.dropped, e.ID)
				continue
			}
		case engine.OutputEvent:
			if dropOutput > 0 {
				dropOutput -= len(e.Text)
				s.output -= len(e.Text)
				s.skipped.Bytes += len(e.Text)
				continue
			}
		}
		kept = append(kept, e)
	}
	clear(s.pending[len(kept):])
	s.pending = kept
}

// waitWritten waits until event seq was written, or urgentWait passed.
func (s *sink) waitWritten(seq uint64) {
	timer := time.AfterFunc(urgentWait, func() {
		s.mu.Lock()
		s.written = max(s.written, seq)
		s.done.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	for s.written < seq {
		s.done.Wait()
	}
	s.mu.Unlock()
}

// flush waits until everything added so far is written.
func (s *sink) flush() {
	s.mu.Lock()
	seq := s.queued
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.waitWritten(seq)
}

// writer writes what gathered while a write was under way or too recent:
// at most once per batchWindow while only routine events wait (floodWindow
// while some are being left out), at once otherwise.
func (s *sink) writer() {
	for range s.wake {
		s.mu.Lock()
		if s.writing || len(s.pending) == 0 {
			s.mu.Unlock()
			continue // the one writing wakes us again if more waits
		}
		urgent := slices.ContainsFunc(s.pending, func(e engine.Event) bool { return !engine.Routine(e) })
		window := batchWindow
		if s.skipped.Calls > 0 || s.skipped.Bytes > 0 {
			window = floodWindow
		}
		wait := window - time.Since(s.last)
		s.mu.Unlock()
		if !urgent && wait > 0 {
			time.Sleep(wait)
		}
		s.mu.Lock()
		if s.writing {
			s.mu.Unlock()
			continue
		}
		s.drainLocked()
	}
}
