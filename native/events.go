package native

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// The calls of an event loop: a descriptor's O_NONBLOCK, and epoll. An epoll
// instance is a descriptor of the session like a socket (it counts toward
// MaxSockets); the kernel watches the real sockets, and the session
// translates descriptors both ways: epoll_ctl names the real socket behind
// the program's number, and the kernel hands that number back in each event,
// with the data the program gave epoll_ctl.

// readyEvent is one event an epoll instance reports: the program's
// descriptor and its events (Linux values).
type readyEvent struct {
	fd     int
	events uint32
}

// fcntl reads or sets a descriptor's file status flags. Only O_NONBLOCK
// changes anything: the real socket is non-blocking either way, and the
// flag says whether the program's calls wait.
func fcntl(sk *sock, c *wire.Call, r *wire.Result) error {
	switch c.Option {
	case "F_GETFL":
		r.Ret = wire.O_RDWR
		if sk.nonblock.Load() {
			r.Ret |= wire.O_NONBLOCK
		}
	case "F_SETFL":
		sk.nonblock.Store(c.Value&wire.O_NONBLOCK != 0)
	default:
		return unix.EINVAL
	}
	return nil
}

// epollCreate makes an epoll instance on the lowest free descriptor.
func (s *Session) epollCreate(r *wire.Result) error {
	fd, err := s.reserve()
	if err != nil {
		return err
	}
	real, err := epollCreate()
	if err != nil {
		s.release(fd)
		return err
	}
	if err := s.install(fd, real, true); err != nil {
		return err
	}
	r.Ret = fd
	return nil
}

// epollCtl changes ep's interest list: the kernel watches the real socket
// behind c.Target, and the session keeps the program's data for it.
func (s *Session) epollCtl(ep *sock, c *wire.Call) error {
	op, ok := epollOps[c.Option]
	if !ok {
		return unix.EINVAL
	}
	target, err := s.lookup(c.Target)
	if err != nil {
		return err
	}
	err = ep.do(func(epfd int) error {
		return target.do(func(fd int) error { return epollCtl(epfd, op, fd, uint32(c.Value), c.Target) })
	})
	if err != nil {
		return err
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if c.Option == "EPOLL_CTL_DEL" {
		delete(ep.tags, c.Target)
		return nil
	}
	if ep.tags == nil {
		ep.tags = make(map[int]uint64)
	}
	ep.tags[c.Target] = c.Tag
	return nil
}

// epollWait returns the ready events of ep's interest list, waiting for one
// in the runtime's poller (the instance is readable when an event is ready)
// for at most c.Value milliseconds, or without end when it is negative. A
// wait that times out returns 0 events; one cancelled by ctx or the
// session's end returns ECANCELED, like every blocking call. O_NONBLOCK does
// not apply: the timeout says whether it waits.
func (s *Session) epollWait(ctx context.Context, ep *sock, c *wire.Call, r *wire.Result) error {
	var ready []readyEvent
	var err error
	try := func(fd int) bool {
		ready, err = epollReady(fd, c.Size)
		return err != nil || len(ready) > 0
	}
	if c.Value == 0 {
		if cerr := ep.control(func(fd int) { try(fd) }); cerr != nil {
			return cerr
		}
	} else {
		wctx := ctx
		if c.Value > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, time.Duration(c.Value)*time.Millisecond)
			defer cancel()
		}
		if werr := ep.waitUnless(wctx, forRead, false, try); werr != nil {
			if werr != unix.ECANCELED || ctx.Err() != nil || wctx.Err() == nil {
				return werr
			}
			ready, err = nil, nil // timed out: nothing was ready
		}
	}
	if err != nil {
		return err
	}
	r.Events = make([]wire.EpollEvent, len(ready))
	ep.mu.Lock()
	for i, e := range ready {
		tag, ok := ep.tags[e.fd]
		if !ok {
			tag = uint64(uint32(e.fd))
		}
		r.Events[i] = wire.EpollEvent{FD: e.fd, Events: e.events, Tag: tag}
	}
	ep.mu.Unlock()
	r.Ret = len(ready)
	return nil
}
