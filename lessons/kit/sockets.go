package kit

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The kernel's own view of the port under test, read the way `ss` reads it
// (sock_diag on Linux). It needs no trace, so a check can ask it natively
// too: how many connections wait in a listener's queue and what its backlog
// is, whether the listener is the same socket as a moment ago, and what
// lingers on the port when nothing listens there.

// Socket is one TCP socket on the port, as the kernel reports it.
type Socket struct {
	State string         // "LISTEN", "ESTABLISHED", "TIME_WAIT", …
	Local netip.AddrPort // its own address
	Peer  netip.AddrPort // the other end; zero for a listener
	// Queue is, for a listener, the connections the kernel completed that
	// wait to be accepted; for a connection, the bytes received and not yet
	// read.
	Queue int
	// Backlog is a listener's backlog as the kernel holds it: listen's
	// argument, cut to /proc/sys/net/core/somaxconn. The queue is full at
	// Backlog+1.
	Backlog int
	// Unsent is, for a connection, the bytes its program wrote that the
	// kernel holds in its send queue, not yet acknowledged by the peer.
	Unsent int
	// V6Only is an IPv6 listener's IPV6_V6ONLY: true when it takes IPv6
	// connections only; V6OnlyKnown says the kernel reported it.
	V6Only, V6OnlyKnown bool
	// Inode names the socket while it exists; 0 when no descriptor owns it
	// any more (a TIME_WAIT, a connection its program closed first).
	Inode uint64
}

// PortSockets returns the TCP sockets, IPv4 and IPv6, whose local port is
// port.
func PortSockets(port int) ([]Socket, error) { return portSockets(port) }

// Listening returns the socket listening on port that serves host (a
// listener on 127.0.0.1, or on every address), and whether there is one.
// err says the kernel's view could not be read.
func Listening(host string, port int) (Socket, bool, error) {
	all, err := PortSockets(port)
	if err != nil {
		return Socket{}, false, err
	}
	want, _ := netip.ParseAddr(host)
	for _, s := range all {
		a := s.Local.Addr().Unmap()
		if s.State == "LISTEN" && (a == want.Unmap() || a.IsUnspecified()) {
			return s, true, nil
		}
	}
	return Socket{}, false, nil
}

// lingering describes the sockets on port that no program holds any more —
// the TIME_WAIT and FIN_WAIT2 of connections closed by this side first —,
// or "" when there are none (or the kernel's view is not readable).
func lingering(port int) string {
	all, err := PortSockets(port)
	if err != nil {
		return ""
	}
	count := map[string]int{}
	var states []string
	for _, s := range all {
		if s.Inode != 0 || s.State == "LISTEN" {
			continue
		}
		if count[s.State] == 0 {
			states = append(states, s.State)
		}
		count[s.State]++
	}
	if len(states) == 0 {
		return ""
	}
	parts := make([]string, len(states))
	for i, st := range states {
		parts[i] = strconv.Itoa(count[st]) + " in " + st
	}
	return fmt.Sprintf("port %d still has connections of an earlier run that its server closed first (%s): "+
		"a bind to the port fails with EADDRINUSE while they last (up to 60 s), unless the new socket and the listener they came from both set SO_REUSEADDR (lesson 9); "+
		"if your program printed \"bind: address already in use\", that is why",
		port, strings.Join(parts, ", "))
}

// tcpStates names the kernel's TCP states by number (include/net/tcp_states.h).
var tcpStates = map[uint8]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
	11: "CLOSING", 12: "NEW_SYN_RECV",
}
