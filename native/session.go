// Package native performs a learner's socket calls for real on the host
// kernel, one Session per page. The learner sees small virtual descriptors;
// the session maps them to real sockets it owns, so learner code can never
// name (or close) a descriptor of the bridge itself. A Policy limits what a
// session may reach, and its refusals are told apart from kernel errors.
//
// Every socket is non-blocking; a call that must wait (accept, read, write,
// connect, recvfrom, sendto, epoll_wait) waits in the Go runtime's poller,
// so it can be cancelled by its context or by closing the session. A
// program that sets O_NONBLOCK gets EAGAIN instead of the wait.
package native

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"

	"github.com/sockstep/sockstep/native/wire"
)

// firstFD is the lowest virtual descriptor: 0, 1 and 2 are the standard
// streams in a native program, so a learner's first socket is 3 there too.
const firstFD = 3

// Session is one page's set of sockets. Its methods are safe for concurrent
// use.
type Session struct {
	policy Policy

	mu     sync.Mutex
	closed bool
	fds    map[int]*sock // virtual descriptor → socket; nil while an accept or socket call fills it
	calls  sync.WaitGroup
	trace  trace
	limit  *rate.Limiter   // the calls-per-second cap; nil for none
	slowed atomic.Int64    // calls the cap delayed
	done   context.Context // ends when the session closes
	end    context.CancelFunc

	ports      map[uint16]struct{} // local ports the session's sockets have had, and watched ones: where leftovers are looked for
	clients    map[uint64]*client  // the client panel's connections, by id
	nextClient uint64
	readers    sync.WaitGroup // one per client: its reading goroutine

	readBuffers sync.Pool // of *[]byte (newReadBuffer): what reads read into
}

// NewSession starts a session with no sockets.
func NewSession(p Policy) *Session {
	done, end := context.WithCancel(context.Background())
	s := &Session{policy: p, fds: make(map[int]*sock), limit: newLimiter(p.CallsPerSecond, p.CallBurst), done: done, end: end,
		ports: make(map[uint16]struct{}), clients: make(map[uint64]*client), readBuffers: sync.Pool{New: newReadBuffer}}
	hostTable.add(s)
	return s
}

// Slowed counts the calls the policy's calls-per-second cap has delayed.
func (s *Session) Slowed() int64 { return s.slowed.Load() }

// Do performs one call. Safe for concurrent use by many goroutines; blocking
// calls (accept, read, write, connect) wait in the Go runtime's poller and
// return ECANCELED when ctx ends or the session closes. A call over the
// policy's calls-per-second cap first waits its turn, cancellable the same way. ctx governs only
// waiting: a call that can finish at once does. err is non-nil only for a
// malformed call (c.Validate() fails); kernel errors and policy refusals are
// in the Result.
func (s *Session) Do(ctx context.Context, c *wire.Call) (*wire.Result, error) {
	if c == nil {
		return nil, errors.New("no call")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Op.IsClient() {
		return nil, fmt.Errorf("%s: the client panel's operations go through Session.Client, not Do", c.Op)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	r := &wire.Result{ID: c.ID}
	if s.begin() {
		// A call waiting on a socket is woken by Close, which stops every
		// socket; the waits that are not on one (the cap's, a service's
		// lookup) watch s.done themselves. A context per call that ends
		// with the session cost every call, most of which never wait.
		err := s.wait(ctx)
		if err == nil {
			err = s.do(ctx, c, r)
		}
		if err == nil && (c.Op == wire.OpBind || c.Op == wire.OpConnect || c.Op == wire.OpListen) {
			s.notePort(c.FD)
		}
		s.calls.Done()
		setErr(r, err)
	} else {
		r.Errno = "ECANCELED"
	}
	s.trace.add(c, r, start, time.Now())
	return r, nil
}

// begin counts a call in, unless the session is closed.
func (s *Session) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.calls.Add(1)
	return true
}

// setErr puts a failure in r: a refusal as a refusal, anything else as the
// kernel's errno.
func setErr(r *wire.Result, err error) {
	if err == nil {
		return
	}
	r.Ret = 0
	r.Data = nil
	var refusal *wire.Refusal
	if errors.As(err, &refusal) {
		r.Refused = refusal
		return
	}
	r.Errno = errnoName(err)
}

// Close closes every real socket of the session and waits for the calls in
// progress, which return ECANCELED if they were waiting. Calls after Close
// return ECANCELED.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.end()
	defer hostTable.remove(s)
	socks := make([]*sock, 0, len(s.fds))
	for fd, sk := range s.fds {
		if sk != nil {
			socks = append(socks, sk)
		}
		delete(s.fds, fd)
	}
	clients := s.clients
	s.clients = make(map[uint64]*client)
	s.mu.Unlock()
	for _, sk := range socks {
		sk.stop(unix.ECANCELED)
	}
	var errs []error
	for _, sk := range socks {
		if err := sk.close(unix.ECANCELED); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range clients {
		c.close("the session ended")
	}
	s.calls.Wait()
	s.readers.Wait()
	return errors.Join(errs...)
}

// reserve holds the lowest free descriptor for a socket about to be made, or
// refuses if the session has all the sockets its policy allows.
func (s *Session) reserve() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, unix.ECANCELED
	}
	if len(s.fds) >= s.policy.MaxSockets {
		return 0, s.policy.tooManySockets()
	}
	fd := firstFD
	for s.has(fd) {
		fd++
	}
	s.fds[fd] = nil
	return fd, nil
}

func (s *Session) has(fd int) bool {
	_, ok := s.fds[fd]
	return ok
}

func (s *Session) release(fd int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sk, ok := s.fds[fd]; ok && sk == nil {
		delete(s.fds, fd)
	}
}

// install gives the real descriptor real, a socket or an epoll instance,
// the reserved number fd. The session owns real from here on, even when
// install fails.
func (s *Session) install(fd, real int, epoll bool) error {
	sk, err := newSock(real)
	if sk != nil {
		sk.epoll = epoll
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.closed {
		err = unix.ECANCELED
	}
	if err != nil {
		if sk != nil {
			sk.close(unix.ECANCELED)
		}
		if cur, ok := s.fds[fd]; ok && cur == nil {
			delete(s.fds, fd)
		}
		return err
	}
	s.fds[fd] = sk
	return nil
}

// lookup finds the socket behind a virtual descriptor.
func (s *Session) lookup(fd int) (*sock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sk := s.fds[fd]; sk != nil {
		return sk, nil
	}
	return nil, unix.EBADF
}

// do performs a valid call; a returned error is a refusal or an errno.
func (s *Session) do(ctx context.Context, c *wire.Call, r *wire.Result) error {
	switch c.Op {
	case wire.OpSocket:
		return s.socket(c, r)
	case wire.OpEpollCreate:
		return s.epollCreate(r)
	case wire.OpLookupPort:
		ctx, cancel := context.WithCancel(ctx)
		defer context.AfterFunc(s.done, cancel)()
		defer cancel()
		port, err := net.DefaultResolver.LookupPort(ctx, c.Net, c.Name)
		if err != nil {
			// Not a kernel error, but the worker rebuilds an errno: the
			// service is not in the database, like a file not found.
			return unix.ENOENT
		}
		r.Ret = port
		return nil
	case wire.OpClose:
		s.mu.Lock()
		sk := s.fds[c.FD]
		if sk != nil {
			delete(s.fds, c.FD)
		}
		s.mu.Unlock()
		if sk == nil {
			return unix.EBADF
		}
		return sk.close(unix.EBADF)
	}
	sk, err := s.lookup(c.FD)
	if err != nil {
		return err
	}
	switch c.Op {
	case wire.OpSetsockopt:
		opt, ok := hostOpt(c.Level, c.Option)
		if !ok {
			return unix.ENOPROTOOPT
		}
		return sk.do(func(fd int) error { return unix.SetsockoptInt(fd, opt.level, opt.name, c.Value) })
	case wire.OpGetsockopt:
		opt, ok := hostOpt(c.Level, c.Option)
		if !ok {
			return unix.ENOPROTOOPT
		}
		return sk.do(func(fd int) error {
			v, err := unix.GetsockoptInt(fd, opt.level, opt.name)
			if opt.flag && v != 0 {
				v = 1
			}
			r.Ret = v
			return err
		})
	case wire.OpBind, wire.OpConnect:
		if refusal := s.policy.checkAddr(c.Op, c.Addr); refusal != nil {
			return refusal
		}
		sa, err := sockaddr(c.Addr)
		if err != nil {
			return err
		}
		if c.Op == wire.OpConnect {
			return connect(ctx, sk, sa)
		}
		if err := s.checkSharedPort(sk, c.Addr); err != nil {
			return err
		}
		return sk.do(func(fd int) error { return unix.Bind(fd, sa) })
	case wire.OpListen:
		var bound netip.AddrPort
		sk.do(func(fd int) error {
			sa, err := unix.Getsockname(fd)
			bound = addrPort(sa)
			return err
		})
		if bound.Port() == 0 {
			if refusal := s.policy.checkUnboundListen(); refusal != nil {
				return refusal
			}
		} else if err := s.checkSharedPort(sk, bound); err != nil {
			return err
		}
		return sk.do(func(fd int) error { return unix.Listen(fd, c.Value) })
	case wire.OpAccept:
		return s.accept(ctx, sk, c.Value, r)
	case wire.OpRead:
		return s.read(ctx, sk, c.Size, c.Into, r)
	case wire.OpWrite:
		return write(ctx, sk, c.Data, r)
	case wire.OpRecvfrom:
		return s.recvfrom(ctx, sk, c, r)
	case wire.OpSendto:
		return s.sendto(ctx, sk, c, r)
	case wire.OpFcntl:
		return fcntl(sk, c, r)
	case wire.OpEpollCtl:
		return s.epollCtl(sk, c)
	case wire.OpEpollWait:
		return s.epollWait(ctx, sk, c, r)
	case wire.OpShutdown:
		how, ok := hostShutdown(c.How)
		if !ok {
			return unix.EINVAL
		}
		return sk.do(func(fd int) error { return unix.Shutdown(fd, how) })
	case wire.OpGetsockname, wire.OpGetpeername:
		name := unix.Getsockname
		if c.Op == wire.OpGetpeername {
			name = unix.Getpeername
		}
		return sk.do(func(fd int) error {
			sa, err := name(fd)
			r.Addr = addrPort(sa)
			return err
		})
	}
	return fmt.Errorf("%s: not implemented", c.Op) // Validate knows every op; this is a bug here
}

// do runs a call that never waits.
func (sk *sock) do(op func(fd int) error) error {
	var err error
	if cerr := sk.control(func(fd int) { err = op(fd) }); cerr != nil {
		return cerr
	}
	return err
}
