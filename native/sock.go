package native

import (
	"context"
	"os"
	"sync"
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

	mu      sync.Mutex
	closed  bool
	why     unix.Errno // once closed: what a call that would wait reports
	waiters map[*waiter]struct{}
	own     [2]bool // a waiter waits on file itself, for reading (forRead) or writing (forWrite)
}

// A waiter is one blocked call. The first call to wait on a socket for
// reading (or for writing) waits on the socket's own file, and is woken
// alone by a deadline in the past: the os.File lets one call at a time wait
// for each, and its deadline wakes every call waiting on it. That costs no
// syscall, where a duplicate costs four (dup, register, unregister, close). A call that
// finds that place taken waits on its own duplicate of the descriptor, so
// cancelling it (closing the duplicate) wakes that call alone: a second
// call on the socket's own file would queue behind the first.
type waiter struct {
	sk   *sock
	mode int           // forRead or forWrite
	file *os.File      // its own duplicate; nil: it waits on sk.file
	left chan struct{} // waiting on sk.file: closed once the call no longer waits

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
	return &sock{file: f, raw: raw, waiters: make(map[*waiter]struct{})}, nil
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
// call wait on it again. Session.Close stops every socket before closing
// any, so a blocked read is cancelled rather than woken by its peer's close.
func (sk *sock) stop(why unix.Errno) {
	sk.mu.Lock()
	if sk.closed {
		sk.mu.Unlock()
		return
	}
	sk.closed, sk.why = true, why
	waiters := sk.waiters
	sk.waiters = nil
	sk.mu.Unlock()
	for w := range waiters {
		w.cancel(why)
	}
}

// addWaiter makes a place for one blocked call: the socket's own file if
// no other call waits on it in mode, else a duplicate of the descriptor.
func (sk *sock) addWaiter(mode int) (*waiter, error) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if sk.closed {
		return nil, sk.why
	}
	w := &waiter{sk: sk, mode: mode}
	if !sk.own[mode] {
		sk.own[mode] = true
		w.left = make(chan struct{})
		sk.waiters[w] = struct{}{}
		return w, nil
	}
	dup := -1
	var err error
	if cerr := sk.control(func(fd int) { dup, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "socket")
	if f == nil {
		unix.Close(dup)
		return nil, unix.EBADF
	}
	w.file = f
	sk.waiters[w] = struct{}{}
	return w, nil
}

func (sk *sock) dropWaiter(w *waiter) {
	if w.file != nil {
		sk.mu.Lock()
		delete(sk.waiters, w)
		sk.mu.Unlock()
		w.cancel(0)
		return
	}
	w.mu.Lock()
	w.dropped = true
	clear := w.deadlined
	w.mu.Unlock()
	if clear {
		setDeadline(sk.file, w.mode, time.Time{}) // for the next call to wait on it
	}
	sk.mu.Lock()
	delete(sk.waiters, w)
	sk.own[w.mode] = false
	sk.mu.Unlock()
}

// cancel wakes the waiter's call, which then reports why, and returns once
// the call no longer waits (as closing a duplicate does): when a session
// stops its sockets before closing them, every blocked call has been
// cancelled before a peer's close could wake it. The first reason given
// wins.
func (w *waiter) cancel(why unix.Errno) {
	w.mu.Lock()
	if w.why == 0 {
		w.why = why
	}
	if w.file == nil {
		if !w.dropped {
			w.deadlined = true
			setDeadline(w.sk.file, w.mode, time.Unix(1, 0)) // in the past: wakes the call
		}
		w.mu.Unlock()
		<-w.left
		return
	}
	w.mu.Unlock()
	w.file.Close()
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
// straight away, so a call that need not block costs no waiter. It
// returns ECANCELED when ctx ends and EBADF when the socket is closed,
// without running op again.
func (sk *sock) wait(ctx context.Context, mode int, op func(fd int) (done bool)) error {
	done := false
	if err := sk.control(func(fd int) { done = op(fd) }); err != nil || done {
		return err
	}
	w, err := sk.addWaiter(mode)
	if err != nil {
		return err
	}
	defer sk.dropWaiter(w)
	stop := context.AfterFunc(ctx, func() { w.cancel(unix.ECANCELED) })
	defer stop()
	raw := sk.raw
	if w.file == nil {
		defer close(w.left) // after the wait, before dropWaiter
	} else {
		if raw, err = w.file.SyscallConn(); err != nil {
			return w.reason()
		}
	}
	try := func(fd uintptr) bool { return op(int(fd)) }
	if mode == forWrite {
		err = raw.Write(try)
	} else {
		err = raw.Read(try)
	}
	if err != nil {
		return w.reason()
	}
	return nil
}
