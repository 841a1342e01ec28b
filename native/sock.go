package native

import (
	"context"
	"os"
	"sync"
	"syscall"

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
}

// A waiter is one blocked call. It waits on its own duplicate of the
// socket's descriptor, so cancelling it (closing the duplicate) wakes that
// call alone: deadlines and the os.File's read lock are per descriptor, and
// would otherwise wake or queue every call waiting on the socket.
type waiter struct {
	file *os.File

	mu  sync.Mutex
	why unix.Errno // what the woken call reports: ECANCELED, or EBADF when its socket was closed
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

// addWaiter duplicates the descriptor for one blocked call.
func (sk *sock) addWaiter() (*waiter, error) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if sk.closed {
		return nil, sk.why
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
	w := &waiter{file: f}
	sk.waiters[w] = struct{}{}
	return w, nil
}

func (sk *sock) dropWaiter(w *waiter) {
	sk.mu.Lock()
	delete(sk.waiters, w)
	sk.mu.Unlock()
	w.cancel(0)
}

// cancel wakes the waiter's call, which then reports why. The first reason
// given wins.
func (w *waiter) cancel(why unix.Errno) {
	w.mu.Lock()
	if w.why == 0 {
		w.why = why
	}
	w.mu.Unlock()
	w.file.Close()
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
// straight away, so a call that need not block costs no duplicate. It
// returns ECANCELED when ctx ends and EBADF when the socket is closed,
// without running op again.
func (sk *sock) wait(ctx context.Context, mode int, op func(fd int) (done bool)) error {
	done := false
	if err := sk.control(func(fd int) { done = op(fd) }); err != nil || done {
		return err
	}
	w, err := sk.addWaiter()
	if err != nil {
		return err
	}
	defer sk.dropWaiter(w)
	stop := context.AfterFunc(ctx, func() { w.cancel(unix.ECANCELED) })
	defer stop()
	raw, err := w.file.SyscallConn()
	if err != nil {
		return w.reason()
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
