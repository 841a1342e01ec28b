package native

import (
	"errors"

	"golang.org/x/sys/unix"

	"sockstep/native/wire"
)

// describe reports what macOS tells through the portable calls: the
// addresses. The state and queues are left unknown: sockstep reads them
// through Linux interfaces (TCP_INFO's listener fields, SIOCINQ), and the
// page says "unknown" rather than guess.
func describe(fd int) wire.SocketInfo {
	var info wire.SocketInfo
	if sa, err := unix.Getsockname(fd); err == nil {
		if ap := addrPort(sa); ap.Port() != 0 {
			info.Local = ap
		}
	}
	if sa, err := unix.Getpeername(fd); err == nil {
		info.Peer = addrPort(sa)
	}
	return info
}

// leftovers is not read on macOS, which has no /proc/net/tcp.
func leftovers(ports map[uint16]bool) ([]wire.SocketInfo, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	return nil, errors.New("this system's table of sockets no descriptor owns is not read (Linux only)")
}
