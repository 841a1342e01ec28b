package native

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// newSocket makes a non-blocking, close-on-exec socket. Darwin has no
// SOCK_NONBLOCK or SOCK_CLOEXEC, so the flags are set after the fact under
// the fork lock, as the net package does, so no child inherits the socket.
// SO_NOSIGPIPE turns a write to a closed connection into EPIPE, as on Linux.
func newSocket(family, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := setup(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// acceptSocket takes a connection off the queue; darwin has no accept4.
func acceptSocket(fd int) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, nil, err
	}
	if err := setup(nfd); err != nil {
		unix.Close(nfd)
		return -1, nil, err
	}
	return nfd, sa, nil
}

func setup(fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}

// macOS has no epoll: the calls report ENOSYS, as Linux does for a call it
// does not implement. A program that needs an event loop there runs on
// Linux (or in a Linux playground).
func epollCreate() (int, error)                               { return -1, unix.ENOSYS }
func epollCtl(epfd, op, fd int, events uint32, vfd int) error { return unix.ENOSYS }
func epollReady(epfd, max int) ([]readyEvent, error)          { return nil, unix.ENOSYS }

var epollOps = map[string]int{"EPOLL_CTL_ADD": 1, "EPOLL_CTL_DEL": 2, "EPOLL_CTL_MOD": 3}

// sendFlags are added to every send: SO_NOSIGPIPE, set on every socket,
// already turns SIGPIPE into EPIPE.
const sendFlags = 0

// readNow and writeNow read and write a socket of the session, which is
// non-blocking.
func readNow(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

func writeNow(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
