package native

import (
	"errors"
	"math"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// The wire carries constants by name; these map the names to the host's
// values, which differ between Linux and macOS (AF_INET6 is 10 on one and
// 30 on the other).

func hostFamily(name string) (int, bool) {
	switch name {
	case "AF_INET":
		return unix.AF_INET, true
	case "AF_INET6":
		return unix.AF_INET6, true
	}
	return 0, false
}

func hostType(name string) (int, bool) {
	switch name {
	case "SOCK_STREAM":
		return unix.SOCK_STREAM, true
	case "SOCK_DGRAM":
		return unix.SOCK_DGRAM, true
	}
	return 0, false
}

// hostMsgFlags is recvfrom's and sendto's flags, in Linux's values, on the
// host. MSG_DONTWAIT is left out: every real socket is non-blocking, and
// the session decides whether a call waits.
func hostMsgFlags(linux int) int {
	flags := 0
	for _, f := range []struct{ linux, host int }{{0x2, unix.MSG_PEEK}, {0x20, unix.MSG_TRUNC}} {
		if linux&f.linux != 0 {
			flags |= f.host
		}
	}
	return flags
}

// msgDontwait is MSG_DONTWAIT's Linux value: this call alone does not wait.
const msgDontwait = 0x40

func hostShutdown(name string) (int, bool) {
	switch name {
	case "SHUT_RD":
		return unix.SHUT_RD, true
	case "SHUT_WR":
		return unix.SHUT_WR, true
	case "SHUT_RDWR":
		return unix.SHUT_RDWR, true
	}
	return 0, false
}

// hostOption is a socket option on the host. A flag option reads back as 0
// or 1, as on Linux; macOS reports the option's bit (4 for SO_REUSEADDR).
type hostOption struct {
	level, name int
	flag        bool
}

func hostOpt(level, name string) (hostOption, bool) {
	switch level + "/" + name {
	case "SOL_SOCKET/SO_REUSEADDR":
		return hostOption{unix.SOL_SOCKET, unix.SO_REUSEADDR, true}, true
	case "SOL_SOCKET/SO_REUSEPORT":
		return hostOption{unix.SOL_SOCKET, unix.SO_REUSEPORT, true}, true
	case "SOL_SOCKET/SO_KEEPALIVE":
		return hostOption{unix.SOL_SOCKET, unix.SO_KEEPALIVE, true}, true
	case "SOL_SOCKET/SO_RCVBUF":
		return hostOption{unix.SOL_SOCKET, unix.SO_RCVBUF, false}, true
	case "SOL_SOCKET/SO_SNDBUF":
		return hostOption{unix.SOL_SOCKET, unix.SO_SNDBUF, false}, true
	case "IPPROTO_TCP/TCP_NODELAY":
		return hostOption{unix.IPPROTO_TCP, unix.TCP_NODELAY, true}, true
	case "IPPROTO_IPV6/IPV6_V6ONLY":
		return hostOption{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, true}, true
	}
	return hostOption{}, false
}

// errnoName names a kernel error for the wire. Every name it returns is in
// wire.Errnos, so the worker can rebuild a syscall.Errno with Linux's number.
// An error with no entry there (rare, and only from odd kernels) becomes EIO
// rather than a name the worker could not rebuild.
func errnoName(err error) string {
	var e unix.Errno
	if !errors.As(err, &e) {
		return "EIO"
	}
	name := unix.ErrnoName(e)
	switch name {
	case "EWOULDBLOCK":
		name = "EAGAIN"
	case "ENOTSUP":
		name = "EOPNOTSUPP"
	}
	if _, ok := wire.ErrnoByName(name); !ok {
		return "EIO"
	}
	return name
}

// sockaddr builds the host's socket address for ap. An IPv4 address makes a
// sockaddr_in, anything else a sockaddr_in6, and the kernel decides whether
// it fits the socket's family, as it would for a native program.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, error) {
	a := ap.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if zone := a.Zone(); zone != "" {
		index, err := strconv.Atoi(zone)
		if err != nil {
			ifi, err := net.InterfaceByName(zone)
			if err != nil {
				return nil, unix.EINVAL
			}
			index = ifi.Index
		}
		if index < 0 || uint64(index) > math.MaxUint32 {
			return nil, unix.EINVAL
		}
		sa.ZoneId = uint32(index)
	}
	return sa, nil
}

// addrPort is the wire's form of a host socket address; the zero AddrPort
// for a family the session never makes.
func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(sa.ZoneId), 10))
		}
		return netip.AddrPortFrom(a, uint16(sa.Port))
	}
	return netip.AddrPort{}
}
