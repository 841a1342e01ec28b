package native

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// A listener on the host, as the kernel's table lists it.
type hostListener struct {
	local netip.AddrPort
	inode uint64 // of its socket; 0 when unknown
}

// checkSharedPort applies the shared-port rule to a bind (or listen) of sk
// on addr: with SO_REUSEPORT set, the kernel lets the socket join any
// listener of the same user on the port, and then spreads that listener's
// connections between the two. The learner's program must never receive
// connections meant for a program outside its session, so the call is
// refused when a socket the session does not own listens on an address that
// overlaps addr. (A program that starts listening on the port after the
// session's socket does chose to share it itself.)
func (s *Session) checkSharedPort(sk *sock, addr netip.AddrPort) error {
	if addr.Port() == 0 {
		return nil
	}
	on := 0
	if err := sk.do(func(fd int) error {
		var err error
		on, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT)
		return err
	}); err != nil || on == 0 {
		return nil
	}
	listeners, err := listenersOn(addr.Port())
	if err != nil {
		return &wire.Refusal{Rule: RuleSharedPort, Message: fmt.Sprintf(
			"sockstep cannot tell here which programs listen on port %d (%v), and with SO_REUSEPORT your socket could receive another program's connections; bind without SO_REUSEPORT (no flag allows it)", addr.Port(), err)}
	}
	own := s.inodes()
	for _, l := range listeners {
		if own[l.inode] {
			continue
		}
		if a, b := l.local.Addr().Unmap(), addr.Addr().Unmap(); a == b || a.IsUnspecified() || b.IsUnspecified() {
			return sharedPort(addr.Port(), "another program (or another page's program)")
		}
	}
	return nil
}

// inodes are the inode numbers of the session's sockets, by which the
// kernel's table names them.
func (s *Session) inodes() map[uint64]bool {
	s.mu.Lock()
	socks := make([]*sock, 0, len(s.fds))
	for _, sk := range s.fds {
		if sk != nil {
			socks = append(socks, sk)
		}
	}
	s.mu.Unlock()
	own := make(map[uint64]bool, len(socks))
	for _, sk := range socks {
		sk.control(func(fd int) {
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil {
				own[uint64(st.Ino)] = true
			}
		})
	}
	return own
}
