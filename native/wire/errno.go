package wire

// Errno describes one kernel error the learner may meet: its name, its
// number on Linux (which is what `syscall.Errno` holds in the browser), and
// one line in plain words. This is the one table of explanations.
type Errno struct {
	Name    string
	Linux   int
	Explain string
}

// Errnos are the errors a socket call may return, by name.
var Errnos = []Errno{
	{"EPERM", 1, "the operation is not permitted"},
	{"ENOENT", 2, "no such entry (for lookupport: the service is not in the services database; for epoll_ctl: that descriptor is not watched)"},
	{"EINTR", 4, "the call was interrupted before it finished"},
	{"EIO", 5, "an input/output error"},
	{"EBADF", 9, "this is not an open descriptor of this program"},
	{"EAGAIN", 11, "nothing to do yet, and the socket is non-blocking, so the call did not wait (EWOULDBLOCK is the same error): try again when epoll says it is ready"},
	{"ENOMEM", 12, "the kernel is out of memory"},
	{"EACCES", 13, "permission denied: ports below 1024 need privileges"},
	{"EFAULT", 14, "a bad address was passed"},
	{"EBUSY", 16, "the resource is busy"},
	{"EEXIST", 17, "it is already there: epoll_ctl already watches this descriptor (change it with EPOLL_CTL_MOD)"},
	{"EINVAL", 22, "an argument is not valid for this socket in its current state"},
	{"ENFILE", 23, "the system has too many open files"},
	{"EMFILE", 24, "this process has too many open descriptors"},
	{"ENOSPC", 28, "no space left"},
	{"EPIPE", 32, "the other side has closed the connection; nothing more can be written"},
	{"ENOSYS", 38, "this call is not implemented here (epoll is Linux's: on macOS the bridge has none)"},
	{"ELOOP", 40, "epoll_ctl would make one epoll instance watch itself, through others or directly"},
	{"EPROTO", 71, "a protocol error"},
	{"ENOTSOCK", 88, "the descriptor is not a socket"},
	{"EDESTADDRREQ", 89, "the socket is not connected and no address was given: use sendto with the peer's address"},
	{"EMSGSIZE", 90, "the message is too long: a UDP datagram holds at most 65,507 bytes over IPv4"},
	{"EPROTOTYPE", 91, "the protocol does not fit this socket type"},
	{"ENOPROTOOPT", 92, "this option is not available at this level"},
	{"EPROTONOSUPPORT", 93, "this protocol is not supported"},
	{"ESOCKTNOSUPPORT", 94, "this socket type is not supported"},
	{"EOPNOTSUPP", 95, "the operation is not supported on this socket"},
	{"EAFNOSUPPORT", 97, "the address family is not supported"},
	{"EADDRINUSE", 98, "another socket is already bound to this address and port"},
	{"EADDRNOTAVAIL", 99, "this address is not one of this machine's"},
	{"ENETDOWN", 100, "the network is down"},
	{"ENETUNREACH", 101, "the network cannot be reached"},
	{"ENETRESET", 102, "the network dropped the connection"},
	{"ECONNABORTED", 103, "the connection was aborted before it was accepted"},
	{"ECONNRESET", 104, "the other side reset the connection"},
	{"ENOBUFS", 105, "the kernel has no buffer space left"},
	{"EISCONN", 106, "the socket is already connected"},
	{"ENOTCONN", 107, "the socket is not connected"},
	{"ESHUTDOWN", 108, "this side of the connection was shut down; nothing more can be sent"},
	{"ETIMEDOUT", 110, "the connection timed out"},
	{"ECONNREFUSED", 111, "nothing is listening on that address and port"},
	{"EHOSTDOWN", 112, "the host is down"},
	{"EHOSTUNREACH", 113, "the host cannot be reached"},
	{"EALREADY", 114, "a connection attempt is already in progress"},
	{"EINPROGRESS", 115, "the connection is in progress"},
	{"ECANCELED", 125, "the call was cancelled: the program stopped or the session ended while it waited"},
}

// ErrnoByName returns the table entry for name.
func ErrnoByName(name string) (Errno, bool) {
	for _, e := range Errnos {
		if e.Name == name {
			return e, true
		}
	}
	return Errno{}, false
}

// ErrnoByLinux returns the table entry for a Linux errno number.
func ErrnoByLinux(n int) (Errno, bool) {
	for _, e := range Errnos {
		if e.Linux == n {
			return e, true
		}
	}
	return Errno{}, false
}
