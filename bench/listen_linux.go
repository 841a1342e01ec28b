package main

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// listening reports whether an IPv4 TCP socket listens on port, asking the
// kernel over netlink (sock_diag) for listening sockets only. Reading
// /proc/net/tcp instead, as this did, lists every socket: after the
// connection-per-request figures it held tens of thousands in TIME_WAIT,
// each read took 36 ms of a core, and polling it both slowed the program
// being timed and saw its listen up to hundreds of ms late.
func listening(port int) (bool, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return false, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	// nlmsghdr, then inet_diag_req_v2: family, protocol, ext, pad, states,
	// and a zero socket id (48 bytes).
	const tcpListen = 10
	req := make([]byte, 16+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], 20) // SOCK_DIAG_BY_FAMILY
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	req[16], req[17] = unix.AF_INET, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[20:], 1<<tcpListen)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 32<<10)
	found := false
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return false, fmt.Errorf("sock_diag: %w", err)
		}
		for b := buf[:n]; len(b) >= 16; {
			size := int(binary.NativeEndian.Uint32(b[0:]))
			typ := binary.NativeEndian.Uint16(b[4:])
			if size < 16 || size > len(b) {
				return false, fmt.Errorf("sock_diag: a message of %d bytes", size)
			}
			switch typ {
			case unix.NLMSG_DONE:
				return found, nil
			case unix.NLMSG_ERROR:
				return false, fmt.Errorf("sock_diag: the kernel refused the request")
			}
			// inet_diag_msg: family, state, timer, retrans, then the id,
			// whose source port is big-endian.
			if msg := b[16:size]; len(msg) >= 6 && msg[1] == tcpListen && int(binary.BigEndian.Uint16(msg[4:])) == port {
				found = true
			}
			b = b[(size+3)&^3:]
		}
	}
}
