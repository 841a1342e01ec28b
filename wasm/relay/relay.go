// Package relay matches the bridge's results to the worker's calls by id, over
// any transport that moves whole frames (the browser's WebSocket, or a pipe in
// tests). Many goroutines may wait at once, as in a server with a goroutine per
// client; calls that become ready together leave in one frame.
package relay

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/sockstep/sockstep/native/wire"
)

// ErrClosed is the cause given to calls when the relay was closed without one.
var ErrClosed = errors.New("relay closed")

// Relay sends calls as frames and hands each result to the goroutine that
// waits for it.
type Relay struct {
	send      func(frame []byte) error
	gather    func()
	onEvent   func(*wire.Event)
	onProblem func(*wire.Problem)
	onClose   func(error)

	done chan struct{} // closed by Close

	sending sync.Mutex // one frame at a time
	frame   []byte     // the frame being built, under sending

	mu        sync.Mutex
	nextID    uint64
	pending   map[uint64]chan reply
	queue     []*wire.Call
	gathering bool  // a call waits for others to join its frame, and will send the queue
	err       error // set by Close: why every call fails
}

type reply struct {
	res *wire.Result
	err error
}

// replies recycles the channel each call waits on: a server making
// thousands of calls a second need not make one each time.
var replies = sync.Pool{New: func() any { return make(chan reply, 1) }}

// An Option configures a Relay.
type Option func(*Relay)

// WithEvents passes every Event record to f. f runs on the transport's
// callback and must not block.
func WithEvents(f func(*wire.Event)) Option { return func(r *Relay) { r.onEvent = f } }

// WithProblems passes to f the Problems that concern no pending call, and
// frames from the bridge that could not be decoded. f must not block.
func WithProblems(f func(*wire.Problem)) Option { return func(r *Relay) { r.onProblem = f } }

// WithGather replaces how a call lets others gather before it sends their
// frame: by default it lets every goroutine that is ready run first. f
// returns when the frame should go; the browser's waits for the calls that
// the results already queued in the worker will make (see Dial).
func WithGather(f func()) Option { return func(r *Relay) { r.gather = f } }

// WithClose calls f once, with the cause, when the relay closes.
func WithClose(f func(error)) Option { return func(r *Relay) { r.onClose = f } }

// New returns a relay that sends frames with send, one at a time, from the
// goroutines that call, until Close. The frame is only lent to send: it is
// reused once send returns.
func New(send func(frame []byte) error, opts ...Option) *Relay {
	r := &Relay{
		send:    send,
		gather:  runtime.Gosched,
		done:    make(chan struct{}),
		pending: make(map[uint64]chan reply),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Call sends c, after giving it a fresh ID, and waits for its result. The
// error is non-nil only when no result will come: a *wire.Problem the bridge
// sent about this call, the relay's close cause, or ctx's error. c and its
// Data must not change until Call returns.
func (r *Relay) Call(ctx context.Context, c *wire.Call) (*wire.Result, error) {
	ch := replies.Get().(chan reply)
	r.mu.Lock()
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return nil, err
	}
	r.nextID++
	c.ID = r.nextID
	r.pending[c.ID] = ch
	r.queue = append(r.queue, c)
	// A call made while others wait for their results gathers: the results
	// about to arrive bring more calls, which join its frame. A call made
	// while one gathers leaves in that one's frame; a call made while none
	// waits leaves at once. The calling goroutine sends: a hop to a sender
	// goroutine cost a bare relay in a Chromium worker about a tenth of its
	// CPU per call.
	sends, gathers := !r.gathering, !r.gathering && len(r.pending) > 1
	r.gathering = r.gathering || gathers
	r.mu.Unlock()
	if gathers {
		r.gather()
	}
	if sends {
		r.sendQueue()
	}

	select {
	case rep := <-ch:
		replies.Put(ch) // drained, and no one else holds it
		return rep.res, rep.err
	case <-ctx.Done():
		r.abandon(c)
		return nil, ctx.Err() // ch may yet get a reply: not recycled
	}
}

// abandon forgets a call whose caller stopped waiting: it leaves the queue
// if it has not been sent (c belongs to its caller again once Call
// returns), and an answer to it, if it was sent, is dropped (Deliver).
func (r *Relay) abandon(c *wire.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, c.ID)
	for i, q := range r.queue {
		if q == c {
			r.queue = append(r.queue[:i], r.queue[i+1:]...)
			break
		}
	}
}

// sendQueue sends every queued call, in as few frames as the size limit
// allows. Calls queued while a frame goes out join the next one. When a send
// fails the relay closes, and with it every call.
func (r *Relay) sendQueue() {
	r.sending.Lock()
	defer r.sending.Unlock()
	r.mu.Lock()
	calls := r.queue
	r.queue = nil
	r.gathering = false // calls queued from now on send themselves
	r.mu.Unlock()

	frame := r.frame[:0]
	defer func() { r.frame = frame }() // kept for the next frame
	for _, c := range calls {
		before := len(frame)
		var err error
		frame, err = wire.AppendRecord(frame, wire.Record{Call: c})
		if err != nil {
			frame = frame[:before]
			r.finish(c.ID, reply{err: err})
			continue
		}
		if before > 0 && len(frame) > wire.MaxFrame {
			// Too big with the others: they go first, this one starts the next frame.
			rec := append([]byte(nil), frame[before:]...)
			if !r.flush(frame[:before]) {
				return
			}
			frame = append(frame[:0], rec...)
		}
	}
	if len(frame) > 0 {
		r.flush(frame)
	}
}

func (r *Relay) flush(frame []byte) bool {
	if err := r.send(frame); err != nil {
		r.Close(fmt.Errorf("send to the bridge: %w", err))
		return false
	}
	return true
}

// finish hands rep to the call with id, if it still waits.
func (r *Relay) finish(id uint64, rep reply) bool {
	r.mu.Lock()
	ch, ok := r.pending[id]
	delete(r.pending, id)
	r.mu.Unlock()
	if ok {
		ch <- rep // buffered, and only one reply per id: never blocks
	}
	return ok
}

// Deliver handles one frame from the bridge. It never blocks, so a transport
// may call it from its receive callback. The results' Data alias frame, which
// the caller must not reuse.
func (r *Relay) Deliver(frame []byte) {
	records, err := wire.DecodeFrame(frame)
	for _, rec := range records {
		switch {
		case rec.Result != nil:
			if !r.finish(rec.Result.ID, reply{res: rec.Result}) && !r.issued(rec.Result.ID) {
				r.problem(&wire.Problem{ID: rec.Result.ID, Message: fmt.Sprintf("result for call %d, which was never made", rec.Result.ID)})
			}
		case rec.Problem != nil:
			if rec.Problem.ID == 0 || !r.finish(rec.Problem.ID, reply{err: rec.Problem}) && !r.issued(rec.Problem.ID) {
				r.problem(rec.Problem)
			}
		case rec.Event != nil:
			if r.onEvent != nil {
				r.onEvent(rec.Event)
			}
		case rec.Call != nil:
			r.problem(&wire.Problem{ID: rec.Call.ID, Message: "the bridge sent a call; only results are expected"})
		}
	}
	if err != nil {
		r.problem(&wire.Problem{Message: "undecodable frame from the bridge: " + err.Error()})
	}
}

// issued reports whether id was given to a call: an answer to one that no
// one waits for any more (its caller gave up) is dropped without a word.
func (r *Relay) issued(id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return id != 0 && id <= r.nextID
}

func (r *Relay) problem(p *wire.Problem) {
	if r.onProblem != nil {
		r.onProblem(p)
	}
}

// Close fails every pending and future call with cause (ErrClosed if nil).
// Only the first Close counts.
func (r *Relay) Close(cause error) {
	if cause == nil {
		cause = ErrClosed
	}
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return
	}
	r.err = cause
	pending := r.pending
	r.pending = nil
	r.queue = nil
	r.mu.Unlock()
	close(r.done)
	for _, ch := range pending {
		ch <- reply{err: cause}
	}
	if r.onClose != nil {
		r.onClose(cause)
	}
}

// Done is closed when the relay closes.
func (r *Relay) Done() <-chan struct{} { return r.done }
