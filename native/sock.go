package native

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A sock is one real, non-blocking socket of a session. The os.File owns the
// descriptor and counts its users, so a close never pulls the descriptor
// from under a syscall in progress (nor lets the number be reused by another
// socket while one is).
type sock struct {
	file *os.File
	raw  syscall.RawConn

	// nonblock is the program's O_NONBLOCK (fcntl F_SETFL): a call that
	// would wait returns EAGAIN instead. The real socket is non-blocking
	// either way.
	nonblock atomic.Bool
	// sendsBound: a send from it has a local port (a stream socket, or a
	// datagram socket bound or connected), so sendto need not ask.
	sendsBound atomic.Bool
	// epoll marks an epoll instance (not a socket); tags holds the data the
	// program gave epoll_ctl for each descriptor it watches.
	epoll bool
	tags  map[int]uint64 // guarded by mu

	mu      sync.Mutex
	stopped bool       // no call may wait on it again
	why     unix.Errno // once stopped: what a call that would wait reports
	turns   [2]turns   // the calls waiting for reading (forRead) and for writing (forWrite)
}

// turns are the calls blocked on a socket in one mode. One at a time waits
// in the runtime's poller on the socket's own file (the os.File lets one
// call wait for each mode, and its deadline wakes that call alone); the
// others queue for their turn. A duplicate descriptor per extra waiter
// would cost a real descriptor each, past any cap on sockets; a queue costs
// none, and each queued call can still be cancelled alone.
type turns struct {
	active *waiter   // waits in the poller; nil: none
	queue  []*waiter // wait for active to leave, oldest first
}

// A waiter is one blocked call.
type waiter struct {
	sk   *sock
	mode int           // forRead or forWrite
	turn chan struct{} // closed when the call becomes active, or the socket stops
	left chan struct{} // closed once the active call no longer waits in the poller

	mu        sync.Mutex
	why       unix.Errno // what the woken call reports: ECANCELED, or EBADF when its socket was closed
	dropped   bool       // the call no longer waits: a cancel must not touch sk.file's deadline
	deadlined bool       // a cancel set sk.file's deadline, which the drop clears
}

func newSock(fd int) (*sock, error) {
	f := os.NewFile(uintptr(fd), "socket")
	if f == nil {
		unix.Close(fd)
		return nil, unix.EBADF
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &sock{file: f, raw: raw}, nil
}

// control runs op with the descriptor, which stays open until op returns.
func (sk *sock) control(op func(fd int)) error {
	if err := sk.raw.Control(func(fd uintptr) { op(int(fd)) }); err != nil {
		return unix.EBADF
	}
	return nil
}

// close closes the socket; the calls blocked on it return why.
func (sk *sock) close(why unix.Errno) error {
	sk.stop(why)
	return sk.file.Close()
}

// stop wakes the calls blocked on the socket, which return why, and lets no
// call wait on it again. It returns once none waits in the poller: Session.Close
// stops every socket before closing any, so a blocked read is cancelled
// rather than woken by its peer's close.
func (sk *sock) stop(why unix.Errno) {
	sk.mu.Lock()
	if sk.stopped {
		sk.mu.Unlock()
		return
	}
	sk.stopped, sk.why = true, why
	var active, queued []*waiter
	for mode := range sk.turns {
		if w := sk.turns[mode].active; w != nil {
			active = append(active, w)
		}
		queued = append(queued, sk.turns[mode].queue...)
		sk.turns[mode].queue = nil
	}
	sk.mu.Unlock()
	for _, w := range queued {
		w.setWhy(why)
		close(w.turn) // it finds the socket stopped, and returns why
	}
	for _, w := range active {
		w.cancel(why)
	}
}

// enqueue makes a place for one blocked call: active at once if no other
// call waits in mode, else at the end of the queue.
func (sk *sock) enqueue(mode int) (*waiter, error) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if sk.stopped {
		return nil, sk.why
	}
	w := &waiter{sk: sk, mode: mode, left: make(chan struct{})}
	t := &sk.turns[mode]
	if t.active == nil {
		t.active = w
		w.turn = yourTurn
	} else {
		w.turn = make(chan struct{})
		t.queue = append(t.queue, w)
	}
	return w, nil
}

// yourTurn is the turn of a call that became active at once (the usual
// case: one reader and one writer a socket), closed already; only a queued
// call needs a channel of its own, closed when its turn comes.
var yourTurn = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// leave takes w out of its queue, or, if it is active, hands the poller to
// the next call in the queue. It reports whether w was still queued.
func (sk *sock) leave(w *waiter) (wasQueued bool) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	t := &sk.turns[w.mode]
	for i, q := range t.queue {
		if q == w {
			t.queue = append(t.queue[:i], t.queue[i+1:]...)
			return true
		}
	}
	if t.active == w {
		t.active = nil
		if len(t.queue) > 0 && !sk.stopped {
			t.active = t.queue[0]
			t.queue = t.queue[1:]
			close(t.active.turn)
		}
	}
	return false
}

// drop ends an active call's wait: it clears a deadline a cancel set, so
// the next call can wait on the file, then hands the poller on.
func (sk *sock) drop(w *waiter) {
	w.mu.Lock()
	w.dropped = true
	clear := w.deadlined
	w.mu.Unlock()
	if clear {
		setDeadline(sk.file, w.mode, time.Time{})
	}
	sk.leave(w)
}

func (w *waiter) setWhy(why unix.Errno) {
	w.mu.Lock()
	if w.why == 0 {
		w.why = why
	}
	w.mu.Unlock()
}

// cancel wakes the active waiter's call, which then reports why, and
// returns once the call no longer waits in the poller: when a session stops
// its sockets before closing them, every blocked call has been cancelled
// before a peer's close could wake it. The first reason given wins.
func (w *waiter) cancel(why unix.Errno) {
	w.mu.Lock()
	if w.why == 0 {
		w.why = why
	}
	if !w.dropped {
		w.deadlined = true
		setDeadline(w.sk.file, w.mode, time.Unix(1, 0)) // in the past: wakes the call
	}
	w.mu.Unlock()
	<-w.left
}

// setDeadline sets f's deadline for mode. An error means f is closed, which
// wakes its waiting call too.
func setDeadline(f *os.File, mode int, t time.Time) {
	if mode == forWrite {
		f.SetWriteDeadline(t)
	} else {
		f.SetReadDeadline(t)
	}
}

func (w *waiter) reason() unix.Errno {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.why == 0 {
		return unix.EIO
	}
	return w.why
}

// Readiness a blocked call waits for.
const (
	forRead = iota
	forWrite
)

// wait runs op with the descriptor until op reports done, waiting in the
// runtime poller for the socket to become ready between tries. op runs once
// straight away, so a call that need not block costs no waiter. On a socket
// the program made non-blocking, a call that is not done at once returns
// EAGAIN. A call that finds another waiting in the same mode queues behind
// it (see turns). It returns ECANCELED when ctx ends and EBADF when the
// socket is closed, without running op again.
func (sk *sock) wait(ctx context.Context, mode int, op func(fd int) (done bool)) error {
	return sk.waitUnless(ctx, mode, sk.nonblock.Load(), op)
}

// waitUnless is wait, which returns EAGAIN instead of waiting when once is
// set (a non-blocking socket, or a MSG_DONTWAIT).
func (sk *sock) waitUnless(ctx context.Context, mode int, once bool, op func(fd int) (done bool)) error {
	done := false
	if err := sk.control(func(fd int) { done = op(fd) }); err != nil || done {
		return err
	}
	if once {
		return unix.EAGAIN
	}
	w, err := sk.enqueue(mode)
	if err != nil {
		return err
	}
	select {
	case <-w.turn:
	case <-ctx.Done():
		w.setWhy(unix.ECANCELED)
		if sk.leave(w) {
			return unix.ECANCELED // still queued: nothing else to undo
		}
		<-w.turn // given the turn meanwhile, or the socket stopped: leave handed it on
		close(w.left)
		return w.reason()
	}
	sk.mu.Lock()
	stoppedWhileQueued := sk.stopped && sk.turns[mode].active != w
	sk.mu.Unlock()
	if stoppedWhileQueued {
		return w.reason()
	}
	defer sk.drop(w)
	stop := context.AfterFunc(ctx, func() { w.cancel(unix.ECANCELED) })
	defer stop()
	defer close(w.left) // after the wait, before drop
	try := func(fd uintptr) bool { return op(int(fd)) }
	if mode == forWrite {
		err = sk.raw.Write(try)
	} else {
		err = sk.raw.Read(try)
	}
	if err != nil {
		return w.reason()
	}
	return nil
}
