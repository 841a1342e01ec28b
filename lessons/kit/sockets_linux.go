package kit

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// portSockets asks the kernel for every TCP socket with local port port, as
// `ss` does: a sock_diag dump over netlink, once for IPv4 and once for IPv6.
// Unlike /proc/net/tcp it reports a listener's backlog.
func portSockets(port int) ([]Socket, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(int64(time.Second))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	var out []Socket
	for seq, family := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
		found, err := dump(fd, uint32(seq+1), family, port)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// Sizes of the kernel's structures (include/uapi/linux/inet_diag.h).
const (
	sizeofSockID  = 48 // ports, addresses, interface, cookie
	sizeofReqV2   = 8 + sizeofSockID
	sizeofDiagMsg = 4 + sizeofSockID + 20
	sockDiagByFam = 20 // SOCK_DIAG_BY_FAMILY
)

func dump(fd int, seq uint32, family uint8, port int) ([]Socket, error) {
	req := make([]byte, syscall.NLMSG_HDRLEN+sizeofReqV2)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFam)
	binary.NativeEndian.PutUint16(req[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], seq)
	body := req[syscall.NLMSG_HDRLEN:]
	body[0] = family
	body[1] = syscall.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:], ^uint32(0)) // every state
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	var out []Socket
	buf := make([]byte, 64<<10)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("sock_diag: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return out, nil
			case syscall.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("sock_diag: %w", syscall.Errno(errno))
					}
				}
				return out, nil
			case sockDiagByFam:
				if s, ok := parseDiag(m.Data, port); ok {
					out = append(out, s)
				}
			}
		}
	}
}

// parseDiag reads one inet_diag_msg, and reports whether its local port is
// port.
func parseDiag(b []byte, port int) (Socket, bool) {
	if len(b) < sizeofDiagMsg {
		return Socket{}, false
	}
	id := b[4 : 4+sizeofSockID]
	if int(binary.BigEndian.Uint16(id[0:])) != port {
		return Socket{}, false
	}
	addr := func(raw []byte, p uint16) netip.AddrPort {
		var a netip.Addr
		if b[0] == syscall.AF_INET {
			a = netip.AddrFrom4([4]byte(raw[:4]))
		} else {
			a = netip.AddrFrom16([16]byte(raw[:16]))
		}
		return netip.AddrPortFrom(a, p)
	}
	rest := b[4+sizeofSockID:]
	s := Socket{
		State: tcpStates[b[1]],
		Local: addr(id[4:20], binary.BigEndian.Uint16(id[0:])),
		Peer:  addr(id[20:36], binary.BigEndian.Uint16(id[2:])),
		Queue: int(binary.NativeEndian.Uint32(rest[4:])),
		Inode: uint64(binary.NativeEndian.Uint32(rest[16:])),
	}
	if s.State == "" {
		s.State = fmt.Sprintf("state %d", b[1])
	}
	if s.State == "LISTEN" {
		s.Backlog = int(binary.NativeEndian.Uint32(rest[8:]))
	} else {
		s.Unsent = int(binary.NativeEndian.Uint32(rest[8:]))
	}
	// The attributes that follow: an IPv6 listener always carries its
	// IPV6_V6ONLY (INET_DIAG_SKV6ONLY), as `ss -e` shows it.
	for attrs := b[sizeofDiagMsg:]; len(attrs) >= 4; {
		n := int(binary.NativeEndian.Uint16(attrs[0:]))
		if n < 4 || n > len(attrs) {
			break
		}
		if binary.NativeEndian.Uint16(attrs[2:]) == diagV6Only && n >= 5 {
			s.V6Only, s.V6OnlyKnown = attrs[4] != 0, true
		}
		attrs = attrs[min(len(attrs), (n+3)&^3):]
	}
	return s, true
}

// diagV6Only is INET_DIAG_SKV6ONLY, the attribute of an IPv6 socket's
// IPV6_V6ONLY.
const diagV6Only = 11
