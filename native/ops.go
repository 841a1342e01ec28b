package native

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// The calls that make sockets or wait.

func (s *Session) socket(c *wire.Call, r *wire.Result) error {
	family, ok := hostFamily(c.Family)
	if !ok {
		return unix.EAFNOSUPPORT
	}
	typ, ok := hostType(c.Type)
	if !ok {
		return unix.ESOCKTNOSUPPORT
	}
	fd, err := s.reserve()
	if err != nil {
		return err
	}
	real, err := newSocket(family, typ, c.Proto)
	if err != nil {
		s.release(fd)
		return err
	}
	if err := s.install(fd, real, false); err != nil {
		return err
	}
	s.setNonblock(fd, c.Value)
	r.Ret = fd
	return nil
}

// setNonblock applies SOCK_NONBLOCK from socket's type or accept4's flags
// to the new descriptor fd.
func (s *Session) setNonblock(fd, flags int) {
	if flags&sockNonblock == 0 {
		return
	}
	if sk, err := s.lookup(fd); err == nil {
		sk.nonblock.Store(true)
	}
}

// sockNonblock is SOCK_NONBLOCK's Linux value.
const sockNonblock = 0x800

// accept reserves a descriptor before each try, so a session at its cap of
// sockets is refused without taking the connection off the kernel's queue:
// the client stays queued, and no accepted socket is left to close.
func (s *Session) accept(ctx context.Context, sk *sock, flags int, r *wire.Result) error {
	var err error
	werr := sk.wait(ctx, forRead, func(listener int) bool {
		var fd int
		if fd, err = s.reserve(); err != nil {
			return true
		}
		var real int
		var peer unix.Sockaddr
		for {
			real, peer, err = acceptSocket(listener)
			if err != unix.EINTR {
				break
			}
		}
		if err == unix.EAGAIN {
			s.release(fd)
			return false
		}
		if err != nil {
			s.release(fd)
			return true
		}
		// Installed here, while the listener's descriptor is held, so a
		// Session.Close that has returned has closed this socket too.
		if err = s.install(fd, real, false); err != nil {
			return true
		}
		r.Ret, r.Addr = fd, addrPort(peer)
		s.setNonblock(fd, flags)
		return true
	})
	if werr != nil {
		return werr
	}
	return err
}

// connect starts a non-blocking connect and waits for the socket to become
// writable, then reads the outcome from SO_ERROR, as the net package does.
// On a socket the program made non-blocking it returns EINPROGRESS instead
// of waiting, as the kernel does; a later connect says EALREADY, then
// EISCONN.
func connect(ctx context.Context, sk *sock, sa unix.Sockaddr) error {
	var err error
	started := false
	werr := sk.wait(ctx, forWrite, func(fd int) bool {
		if !started {
			started = true
			err = unix.Connect(fd, sa)
			if err == unix.EINPROGRESS || err == unix.EINTR {
				err = nil
				return false
			}
			return true
		}
		var n int
		if n, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil {
			return true
		}
		switch e := unix.Errno(n); e {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		case 0, unix.EISCONN:
			// Writable and no error may be a spurious wakeup; connected
			// means the kernel knows the peer.
			_, perr := unix.Getpeername(fd)
			return perr == nil
		default:
			err = e
			return true
		}
	})
	if werr == unix.EAGAIN {
		return unix.EINPROGRESS
	}
	if werr != nil {
		return werr
	}
	return err
}

// read returns what is there, up to size bytes, waiting for at least one
// byte or the end of the stream. Each try reads into one of the session's
// buffers, held only for the syscall, and the bytes read are copied out: a
// 64-byte echo then costs 64 bytes, not a zeroed buffer of size.
func (s *Session) read(ctx context.Context, sk *sock, size int, into []byte, r *wire.Result) error {
	size = min(max(size, 0), wire.MaxData)
	var data []byte
	var err error
	werr := sk.wait(ctx, forRead, func(fd int) bool {
		var n int
		if len(into) >= size {
			// The caller's own buffer, in the same process: no copy.
			for n, err = readNow(fd, into[:size]); err == unix.EINTR; {
				n, err = readNow(fd, into[:size])
			}
			if err == nil {
				data = into[:n]
			}
			return err != unix.EAGAIN
		}
		buf := s.readBuffers.Get().(*[]byte)
		defer s.readBuffers.Put(buf)
		for n, err = readNow(fd, (*buf)[:size]); err == unix.EINTR; {
			n, err = readNow(fd, (*buf)[:size])
		}
		if err == nil {
			data = append(make([]byte, 0, n), (*buf)[:n]...)
		}
		return err != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	r.Ret, r.Data = len(data), data
	return nil
}

// newReadBuffer makes a buffer for the largest read.
func newReadBuffer() any {
	buf := make([]byte, wire.MaxData)
	return &buf
}

// write writes all of data, waiting for room as a blocking write does. If
// it is cut short (an error, or cancelled) after some bytes went out, it
// reports those bytes, as a blocking write interrupted by a signal does; the
// next write meets the error. On a non-blocking socket it writes what fits
// at once: EAGAIN if nothing does.
func write(ctx context.Context, sk *sock, data []byte, r *wire.Result) error {
	return send(ctx, sk, sk.nonblock.Load(), data, r, writeNow)
}

// send is write with its own system call, and once set when the call must
// not wait. It calls f at least once, so an empty datagram is sent.
func send(ctx context.Context, sk *sock, once bool, data []byte, r *wire.Result, f func(fd int, p []byte) (int, error)) error {
	written := 0
	var err error
	werr := sk.waitUnless(ctx, forWrite, once, func(fd int) bool {
		for {
			var n int
			n, err = f(fd, data[written:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false
			case err != nil:
				return true
			}
			written += n
			if written >= len(data) {
				return true
			}
		}
	})
	if written > 0 || (werr == nil && err == nil) {
		r.Ret = written
		return nil
	}
	if werr != nil {
		return werr
	}
	return err
}
