package native

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// newSocket makes a non-blocking, close-on-exec socket in one step, so no
// child process the bridge starts can inherit it.
func newSocket(family, typ, proto int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}

// acceptSocket takes a connection off the queue as a non-blocking,
// close-on-exec socket.
func acceptSocket(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}

// epollCreate makes a close-on-exec epoll instance, non-blocking so that
// os.NewFile hands it to the runtime's poller: the instance is readable
// when some of its events are ready, and a blocked epoll_wait waits there.
func epollCreate() (int, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// epollCtl adds, changes or removes fd in epfd's interest list; the kernel
// keeps vfd, the program's number for fd, as the event's data.
func epollCtl(epfd, op, fd int, events uint32, vfd int) error {
	return unix.EpollCtl(epfd, op, fd, &unix.EpollEvent{Events: events, Fd: int32(vfd)})
}

// epollReady asks epfd, without waiting, for at most max ready events.
func epollReady(epfd, max int) ([]readyEvent, error) {
	buf := make([]unix.EpollEvent, max)
	var n int
	var err error
	for n, err = unix.EpollWait(epfd, buf, 0); err == unix.EINTR; {
		n, err = unix.EpollWait(epfd, buf, 0)
	}
	if err != nil {
		return nil, err
	}
	out := make([]readyEvent, n)
	for i, e := range buf[:n] {
		out[i] = readyEvent{fd: int(e.Fd), events: e.Events}
	}
	return out, nil
}

// epollOps are epoll_ctl's operations on the host (Linux's own values).
var epollOps = map[string]int{"EPOLL_CTL_ADD": unix.EPOLL_CTL_ADD, "EPOLL_CTL_MOD": unix.EPOLL_CTL_MOD, "EPOLL_CTL_DEL": unix.EPOLL_CTL_DEL}

// sendFlags are added to every send: a send to a closed connection fails
// with EPIPE rather than raise SIGPIPE.
const sendFlags = unix.MSG_NOSIGNAL

// readNow and writeNow read and write a socket of the session, which is
// non-blocking: the call returns at once, so it is made without telling Go's
// scheduler (a raw system call). A call it is told of, made by a program
// whose goroutines all wait in the poller between messages (a ping-pong
// echo), wakes the runtime's monitor thread from its idle sleep, which then
// polls every 20 µs for a while: a fifth of a runner's CPU under a 1-client
// echo, in context switches.
func readNow(fd int, p []byte) (int, error) {
	return rawIO(unix.SYS_READ, fd, p)
}

func writeNow(fd int, p []byte) (int, error) {
	return rawIO(unix.SYS_WRITE, fd, p)
}

func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
