package native

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The kernel's table of TCP sockets, asked for by port over netlink
// (sock_diag, as ss does): the kernel walks its hash tables and sends only
// the sockets on the ports asked for. Reading /proc/net/tcp{,6} instead
// formats every socket of the host as text and costs milliseconds per read
// once a load tool has left thousands of connections in TIME_WAIT (most
// of the bridge's CPU went there in issue 12); this costs microseconds. Where
// netlink is unavailable (a sandbox that forbids it), /proc is read.

// From linux/inet_diag.h and linux/sock_diag.h; golang.org/x/sys/unix has
// the netlink constants but not these structures.
const (
	inetDiagReqBytecode = 1  // INET_DIAG_REQ_BYTECODE: the request's filter
	inetDiagBcJmp       = 1  // INET_DIAG_BC_JMP
	inetDiagBcSGE       = 2  // INET_DIAG_BC_S_GE: local port >= the next word's port
	inetDiagBcSLE       = 3  // INET_DIAG_BC_S_LE: local port <= the next word's port
	sizeofReqV2         = 56 // struct inet_diag_req_v2
	sizeofReq           = 60 // struct inet_diag_req, the older request
	tcpDiagGetSock      = 18 // TCPDIAG_GETSOCK: the older request's type
	sizeofDiagMsg       = 72
	timerTimeWait       = 3 // idiag_timer of a socket in TIME_WAIT
	allStates           = 0xfff
	listenState         = 1 << stateListen
	maxFilterPorts      = 256
)

// A diagEntry is one socket as sock_diag reports it.
type diagEntry struct {
	state, timer   uint8
	local, peer    netip.AddrPort
	expires        uint32 // milliseconds until the timer fires
	rqueue, wqueue uint32
	inode          uint32 // 0: no descriptor owns the socket
}

// noNetlink is set once netlink sockets turn out to be forbidden here, so
// /proc is read without trying again.
var noNetlink atomic.Bool

// portSockets returns the host's TCP sockets, IPv4 and IPv6, whose local
// port is one of ports and whose state is in states (a mask of 1<<state).
func portSockets(ports map[uint16]bool, states uint32) ([]diagEntry, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	if noNetlink.Load() {
		return nil, errNoNetlink
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT) {
			noNetlink.Store(true)
		}
		return nil, fmt.Errorf("%w: %v", errNoNetlink, err)
	}
	defer unix.Close(fd)
	// A reply that takes long is a kernel in trouble; the table is not
	// worth hanging a session for.
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})
	if !noCompat.Load() {
		// One walk of the kernel's tables for both families.
		out, err := dump(fd, compatRequest(ports, states), ports)
		if err == nil {
			return out, nil
		}
		noCompat.Store(true)
	}
	var out []diagEntry
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		found, err := dump(fd, diagRequest(family, ports, states), ports)
		if err != nil {
			return out, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// noCompat is set once the kernel refuses the older request (which dumps
// both families in one walk of its tables); two requests are sent then.
var noCompat atomic.Bool

var errNoNetlink = errors.New("netlink sock_diag unavailable")

// dump sends one request and reads the answers until the kernel says done.
func dump(fd int, request []byte, ports map[uint16]bool) ([]diagEntry, error) {
	if err := unix.Sendto(fd, request, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("%w: send: %v", errNoNetlink, err)
	}
	var out []diagEntry
	buf := make([]byte, 32<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("%w: receive: %v", errNoNetlink, err)
		}
		msgs := buf[:n]
		for len(msgs) >= unix.SizeofNlMsghdr {
			length := int(binary.NativeEndian.Uint32(msgs[0:4]))
			typ := binary.NativeEndian.Uint16(msgs[4:6])
			if length < unix.SizeofNlMsghdr || length > len(msgs) {
				return out, fmt.Errorf("%w: a malformed answer", errNoNetlink)
			}
			body := msgs[unix.SizeofNlMsghdr:length]
			switch typ {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(body[0:4])); errno != 0 {
						return out, fmt.Errorf("%w: %v", errNoNetlink, unix.Errno(errno))
					}
				}
				return out, nil
			case unix.SOCK_DIAG_BY_FAMILY, tcpDiagGetSock:
				if e, ok := parseDiagMsg(body); ok && ports[e.local.Port()] {
					out = append(out, e)
				}
			}
			msgs = msgs[min(nlmAlign(length), len(msgs)):]
		}
	}
}

func nlmAlign(n int) int { return (n + 3) &^ 3 }

// diagRequest is a dump request (struct inet_diag_req_v2) for TCP sockets
// of family in states whose local port is one of ports.
func diagRequest(family uint8, ports map[uint16]bool, states uint32) []byte {
	b, req := request(unix.SOCK_DIAG_BY_FAMILY, sizeofReqV2, ports)
	req[0] = family
	req[1] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[4:], states)
	return b
}

// compatRequest is the older request (struct inet_diag_req, of type
// TCPDIAG_GETSOCK): it has no family, and the kernel dumps IPv4 and IPv6
// sockets in one walk of its tables, where two requests of the newer kind
// walk them twice. Most of a dump's cost is that walk (its hash table has
// hundreds of thousands of buckets).
func compatRequest(ports map[uint16]bool, states uint32) []byte {
	b, req := request(tcpDiagGetSock, sizeofReq, ports)
	binary.NativeEndian.PutUint32(req[52:], states)
	return b
}

// request lays out a netlink dump request of typ with a body of size
// bytes and the port filter, and returns it with its body to fill in.
func request(typ uint16, size int, ports map[uint16]bool) (msg, body []byte) {
	bc := portFilter(slices.Collect(maps.Keys(ports)))
	attrLen := 4 + len(bc)
	total := unix.SizeofNlMsghdr + size
	if bc != nil {
		total += nlmAlign(attrLen)
	}
	b := make([]byte, total)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(total))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:], 1) // sequence
	body = b[unix.SizeofNlMsghdr:]
	if bc != nil {
		attr := body[size:]
		ne.PutUint16(attr[0:], uint16(attrLen))
		ne.PutUint16(attr[2:], inetDiagReqBytecode)
		copy(attr[4:], bc)
	}
	return b, body
}

// portFilter is inet_diag bytecode that accepts a socket whose local port
// is one of ports: for each port, "local port >= p, and <= p" (S_GE and
// S_LE, understood by every kernel with sock_diag), on a match a jump to
// the end (accept), on a mismatch on to the next port; past the last port,
// a jump beyond the end (reject). Past maxFilterPorts it is nil: the
// kernel then sends every socket, and the caller picks (jumps are 16-bit,
// and the kernel runs the filter once per socket).
//
// An op is {code u8, yes u8, no u16}: the kernel moves on by yes bytes when
// the condition holds, by no bytes when not; a port comparison is followed
// by a word whose no field holds the port.
func portFilter(ports []uint16) []byte {
	ports = slices.Compact(slices.Sorted(slices.Values(ports)))
	if len(ports) > maxFilterPorts {
		return nil
	}
	const block = 8 + 8 + 4 // S_GE and its port, S_LE and its port, JMP
	total := block * len(ports)
	b := make([]byte, total)
	ne := binary.NativeEndian
	op := func(at int, code uint8, yes uint8, no int, port uint16) {
		b[at], b[at+1] = code, yes
		ne.PutUint16(b[at+2:], uint16(no))
		if code != inetDiagBcJmp {
			ne.PutUint16(b[at+6:], port)
		}
	}
	for i, p := range ports {
		at := i * block
		next := at + block // a mismatch tries the next port…
		if i == len(ports)-1 {
			next = total + 4 // …or, after the last, rejects
		}
		op(at, inetDiagBcSGE, 8, next-at, p)
		op(at+8, inetDiagBcSLE, 8, next-(at+8), p)
		op(at+16, inetDiagBcJmp, 4, total-(at+16), 0) // matched: to the end, accept
	}
	return b
}

// parseDiagMsg decodes struct inet_diag_msg.
func parseDiagMsg(b []byte) (diagEntry, bool) {
	if len(b) < sizeofDiagMsg {
		return diagEntry{}, false
	}
	ne := binary.NativeEndian
	e := diagEntry{state: b[1], timer: b[2]}
	sport, dport := binary.BigEndian.Uint16(b[4:6]), binary.BigEndian.Uint16(b[6:8])
	var src, dst netip.Addr
	switch b[0] {
	case unix.AF_INET:
		src, dst = netip.AddrFrom4([4]byte(b[8:12])), netip.AddrFrom4([4]byte(b[24:28]))
	case unix.AF_INET6:
		src, dst = netip.AddrFrom16([16]byte(b[8:24])).Unmap(), netip.AddrFrom16([16]byte(b[24:40])).Unmap()
	default:
		return diagEntry{}, false
	}
	e.local, e.peer = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	e.expires = ne.Uint32(b[52:56])
	e.rqueue, e.wqueue = ne.Uint32(b[56:60]), ne.Uint32(b[60:64])
	e.inode = ne.Uint32(b[68:72])
	return e, true
}
