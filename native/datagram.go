package native

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// The calls that name a peer with each message: recvfrom and sendto, for
// UDP (SOCK_DGRAM) sockets above all, where one socket serves every peer and
// each call moves one whole datagram.

// recvfrom reads one datagram (on a stream socket: what is there), up to
// size bytes, and who sent it. A datagram longer than size is cut, and the
// rest of it is lost, as the kernel does; with MSG_TRUNC, Ret is its whole
// length. An empty datagram returns 0, which on a datagram socket is not an
// end of stream.
func (s *Session) recvfrom(ctx context.Context, sk *sock, c *wire.Call, r *wire.Result) error {
	size := min(max(c.Size, 0), wire.MaxData)
	flags := hostMsgFlags(c.Value)
	var data []byte
	var n int
	var from unix.Sockaddr
	var err error
	once := sk.nonblock.Load() || c.Value&msgDontwait != 0
	werr := sk.waitUnless(ctx, forRead, once, func(fd int) bool {
		buf := c.Into
		if len(buf) < size {
			pooled := s.readBuffers.Get().(*[]byte)
			defer s.readBuffers.Put(pooled)
			buf = *pooled
		}
		for n, from, err = unix.Recvfrom(fd, buf[:size], flags); err == unix.EINTR; {
			n, from, err = unix.Recvfrom(fd, buf[:size], flags)
		}
		if err == nil {
			got := buf[:min(n, size)]
			if len(c.Into) >= size {
				data = got // the caller's own buffer: no copy
			} else {
				data = append(make([]byte, 0, len(got)), got...)
			}
		}
		return err != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	r.Ret, r.Data, r.Addr = n, data, addrPort(from)
	return nil
}

// sendto sends c.Data to c.Addr, or to the connected peer when c.Addr is
// zero. The destination is held to the policy as a connect's is, and a UDP
// socket must be bound (or connected) first: the kernel would bind it to
// every address. A datagram goes whole or not at all; on a stream socket,
// sendto writes all of it as write does.
func (s *Session) sendto(ctx context.Context, sk *sock, c *wire.Call, r *wire.Result) error {
	var sa unix.Sockaddr
	if c.Addr.IsValid() {
		if refusal := s.policy.checkAddr(wire.OpSendto, c.Addr); refusal != nil {
			return refusal
		}
		var err error
		if sa, err = sockaddr(c.Addr); err != nil {
			return err
		}
	}
	if !s.policy.AllowExternal && unboundDatagram(sk) {
		return s.policy.checkUnboundSend()
	}
	flags := hostMsgFlags(c.Value) | sendFlags
	once := sk.nonblock.Load() || c.Value&msgDontwait != 0
	return send(ctx, sk, once, c.Data, r, func(fd int, p []byte) (int, error) {
		return unix.SendmsgN(fd, p, nil, sa, flags)
	})
}

// unboundDatagram reports whether sk is a datagram socket with no local
// port yet. Once it is not (a stream socket, or one given a port, which it
// keeps), sk remembers: the next sendto asks the kernel nothing.
func unboundDatagram(sk *sock) bool {
	if sk.sendsBound.Load() {
		return false
	}
	unbound := false
	sk.control(func(fd int) {
		typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return
		}
		if typ != unix.SOCK_DGRAM {
			sk.sendsBound.Store(true)
			return
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return
		}
		unbound = addrPort(sa).Port() == 0
		if !unbound {
			sk.sendsBound.Store(true)
		}
	})
	return unbound
}
