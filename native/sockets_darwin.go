package native

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// tcpStates names macOS's TCP states (netinet/tcp_fsm.h) as Linux and the
// books do.
var tcpStates = map[int]string{
	0: "CLOSE", 1: "LISTEN", 2: "SYN_SENT", 3: "SYN_RECV", 4: "ESTABLISHED", 5: "CLOSE_WAIT",
	6: "FIN_WAIT1", 7: "CLOSING", 8: "LAST_ACK", 9: "FIN_WAIT2", 10: "TIME_WAIT",
}

// fionread is FIONREAD, _IOR('f', 127, int): bytes waiting to be read.
const fionread = 0x4004667f

// describe asks macOS about one socket: the addresses, the state from
// TCP_CONNECTION_INFO, and a connected socket's queues from FIONREAD and
// SO_NWRITE. A listener's accept queue and backlog have no such call on
// macOS: they stay unknown rather than guessed.
func describe(fd int) wire.SocketInfo {
	info := addresses(fd)
	ci, err := unix.GetsockoptTCPConnectionInfo(fd, unix.IPPROTO_TCP, unix.TCP_CONNECTION_INFO)
	if err != nil {
		return info
	}
	info.State = tcpStates[int(ci.State)]
	if info.State == "LISTEN" {
		info.Listening = true
		return info
	}
	if n, err := unix.IoctlGetInt(fd, fionread); err == nil {
		info.Queue = intp(n)
	}
	if n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NWRITE); err == nil {
		info.Unsent = intp(n)
	}
	return info
}

// established reports whether the TCP socket fd is ESTABLISHED (true when
// its state cannot be read).
func established(fd int) bool {
	ci, err := unix.GetsockoptTCPConnectionInfo(fd, unix.IPPROTO_TCP, unix.TCP_CONNECTION_INFO)
	return err != nil || tcpStates[int(ci.State)] == "ESTABLISHED"
}

// leftovers is not read on macOS, which has no /proc/net/tcp (its table is
// behind sysctl net.inet.tcp.pcblist_n, in private structures).
func leftovers(ports map[uint16]bool) ([]wire.SocketInfo, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	return nil, errors.New("this system's table of sockets no descriptor owns is not read (Linux only)")
}

// listenersOn is unknown on macOS, for the same reason as leftovers.
func listenersOn(port uint16) ([]hostListener, error) {
	return nil, errors.New("this system's table of listeners is not read (Linux only)")
}
