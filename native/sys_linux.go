package native

import "golang.org/x/sys/unix"

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
