package native

import (
	"cmp"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// The kernel's own view of a session's sockets: read on demand, never
// modelled. Platform code (sockets_linux.go, sockets_darwin.go) supplies
// describe, which asks the kernel about one descriptor, and leftovers, which
// reads the kernel's table for sockets no descriptor owns.

// notePort remembers the local port of the learner's descriptor fd, after a
// bind, connect or listen gave it one: leftovers are looked for there.
func (s *Session) notePort(fd int) {
	sk, err := s.lookup(fd)
	if err != nil {
		return
	}
	var port int
	sk.control(func(fd int) {
		if sa, err := unix.Getsockname(fd); err == nil {
			port = int(addrPort(sa).Port())
		}
	})
	s.Watch(uint16(port))
}

// Watch adds ports on which Sockets reports leftovers, besides the ports the
// session's own sockets have had: the bridge passes the ports of the page's
// previous run, so the TIME_WAIT it left shows in the new session. Port 0 is
// ignored.
func (s *Session) Watch(ports ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ports {
		if p != 0 {
			s.ports[p] = struct{}{}
		}
	}
}

// Ports returns, in order, the local ports the session's sockets have had
// (bound, connected from, listened on, the client panel's) and the ports it
// was told to Watch.
func (s *Session) Ports() []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint16, 0, len(s.ports))
	for p := range s.ports {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Sockets returns the kernel's view of every socket of the session: the
// learner's descriptors in order, then the client panel's connections, then
// the leftovers on the session's ports that no descriptor owns (TIME_WAIT,
// FIN_WAIT2, connections not yet accepted). What the host cannot tell is left
// unset in each entry; a non-nil error says that a whole part of the table —
// the leftovers — could not be read, and the rest is still returned.
func (s *Session) Sockets() ([]wire.SocketInfo, error) {
	left, err := s.Leftovers()
	return append(s.OwnSockets(), left...), err
}

// OwnSockets is the first part of Sockets: the learner's descriptors in
// order, then the client panel's connections. It asks the kernel about each
// socket alone, so it costs little.
func (s *Session) OwnSockets() []wire.SocketInfo {
	type owned struct {
		fd int
		sk *sock
	}
	s.mu.Lock()
	socks := make([]owned, 0, len(s.fds))
	for fd, sk := range s.fds {
		if sk != nil && !sk.epoll { // an epoll instance is no socket
			socks = append(socks, owned{fd, sk})
		}
	}
	clients := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	slices.SortFunc(socks, func(a, b owned) int { return cmp.Compare(a.fd, b.fd) })
	slices.SortFunc(clients, func(a, b *client) int { return cmp.Compare(a.id, b.id) })

	var out []wire.SocketInfo // nil when empty: the event then omits the table
	for _, o := range socks {
		var info wire.SocketInfo
		if o.sk.control(func(fd int) { info = describe(fd) }) != nil {
			continue // closed meanwhile
		}
		info.FD = o.fd
		out = append(out, info)
	}
	for _, c := range clients {
		raw, err := c.conn.SyscallConn()
		if err != nil {
			continue
		}
		var info wire.SocketInfo
		if raw.Control(func(fd uintptr) { info = describe(int(fd)) }) != nil {
			continue
		}
		info.Client = c.id
		out = append(out, info)
	}
	return out
}

// Leftovers is the last part of Sockets: the sockets on the session's ports
// that no descriptor owns, from a read of the host's table that starts
// after the call. See LeftoversSince.
func (s *Session) Leftovers() ([]wire.SocketInfo, error) {
	left, _, err := s.LeftoversSince(time.Now())
	return left, err
}

// LeftoversSince is Leftovers from a read of the host's table that started
// at or after since, and that read's start. The reads are shared by every
// session of the process and spaced by their cost (table.go), so a call may
// wait for the next one: a caller that knows when its sockets last changed
// passes that moment, and a read that began since then serves it. It
// returns nothing once the session is closed.
func (s *Session) LeftoversSince(since time.Time) ([]wire.SocketInfo, time.Time, error) {
	s.mu.Lock()
	ports := make(map[uint16]bool, len(s.ports))
	for p := range s.ports {
		ports[p] = true
	}
	s.mu.Unlock()
	return hostTable.leftovers(ports, since, s.done.Done())
}

// ChangesLeftovers reports whether a call of op may change Leftovers: make,
// take or reveal a socket no descriptor owns (a close leaves a TIME_WAIT, an
// accept takes a connection off the queue, a bind watches a new port). The
// others — reads, writes, options, names — act on sockets the session owns;
// leftovers change without them only as they change without any call (a
// client queues, a timer runs out), so a caller that polls for those may
// reuse the last Leftovers after them.
func ChangesLeftovers(op wire.Op) bool {
	switch op {
	case wire.OpRead, wire.OpWrite, wire.OpSocket, wire.OpSetsockopt, wire.OpGetsockopt,
		wire.OpGetsockname, wire.OpGetpeername, wire.OpLookupPort,
		wire.OpFcntl, wire.OpEpollCreate, wire.OpEpollCtl, wire.OpEpollWait, wire.OpRecvfrom, wire.OpSendto:
		return false
	}
	return true
}

// intp is a pointer to a copy of n, for the optional fields of SocketInfo.
// addresses starts a socket's row with its local address (once bound) and
// its peer (once connected), on any host.
func addresses(fd int) wire.SocketInfo {
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

func intp(n int) *int { return &n }

// PeerGone reports whether the peer of conn, a TCP connection, has closed
// or reset it, as the kernel knows without reading it: its state is no
// longer ESTABLISHED. The bridge asks it of a page whose frames it has
// stopped reading (the page's calls wait for the data budget), which would
// otherwise notice a vanished page only at its next ping.
func PeerGone(conn syscall.Conn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	if raw.Control(func(fd uintptr) { gone = !established(int(fd)) }) != nil {
		return true
	}
	return gone
}
