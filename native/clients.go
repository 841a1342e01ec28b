package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// The client panel: real TCP connections the page opens through the bridge
// to the learner's server, as nc would from a terminal. They are not the
// learner's descriptors: numbered apart, never in the trace, capped by
// Policy.MaxClients rather than MaxSockets (so the page's clients never make
// the learner's socket() fail), and closed with the session.

const (
	// clientDialTimeout bounds a client-open that gets no answer (a SYN
	// dropped by a full accept queue is retried by the kernel for minutes).
	clientDialTimeout = 10 * time.Second
	// clientWriteTimeout bounds a client-send to a server that never reads.
	clientWriteTimeout = 10 * time.Second
	// clientReadSize is the most bytes one client-data event carries.
	clientReadSize = 16 << 10
)

// client is one connection of the client panel.
type client struct {
	id   uint64
	conn *net.TCPConn

	once   sync.Once
	closed chan struct{} // closed by close
	mu     sync.Mutex
	why    string // why it closed, for the client-closed event
}

// close closes the connection once; the first reason given is the one reported.
func (c *client) close(why string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.why = why
		c.mu.Unlock()
		c.conn.Close()
		close(c.closed)
	})
}

func (c *client) reason(fallback string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why != "" {
		return c.why
	}
	return fallback
}

// Client performs one of the client panel's operations (wire.Op.IsClient).
// client-open connects and starts reading: what arrives is passed to notify
// as client-data events, the end of the server's stream as client-eof, and the
// end of the connection as one client-closed. notify must not block for long
// and is not called after Close returns. Like Do, err is non-nil only for a
// malformed call; failures are in the Result, refusals as refusals.
func (s *Session) Client(ctx context.Context, c *wire.Call, notify func(*wire.Event)) (*wire.Result, error) {
	if c == nil {
		return nil, errors.New("no call")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Op.IsClient() {
		return nil, fmt.Errorf("%s: not a client panel operation", c.Op)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	r := &wire.Result{ID: c.ID}
	if !s.begin() {
		r.Errno = "ECANCELED"
		return r, nil
	}
	defer s.calls.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(s.done, cancel)()
	defer cancel()
	var err error
	if c.Op == wire.OpClientOpen {
		err = s.openClient(ctx, c, r, notify)
	} else {
		err = s.useClient(ctx, c, r)
	}
	setErr(r, err)
	return r, nil
}

func (s *Session) openClient(ctx context.Context, c *wire.Call, r *wire.Result, notify func(*wire.Event)) error {
	if refusal := s.policy.checkAddr(wire.OpConnect, c.Addr); refusal != nil {
		return refusal
	}
	s.mu.Lock()
	full := len(s.clients) >= s.policy.MaxClients
	s.mu.Unlock()
	if full {
		return s.policy.tooManyClients()
	}
	d := net.Dialer{Timeout: clientDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", c.Addr.String())
	if err != nil {
		if ctx.Err() != nil {
			return unix.ECANCELED
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return unix.ETIMEDOUT
		}
		return err
	}
	cl := &client{conn: conn.(*net.TCPConn), closed: make(chan struct{})}
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	s.mu.Lock()
	if s.closed || len(s.clients) >= s.policy.MaxClients {
		closed := s.closed
		s.mu.Unlock()
		conn.Close()
		if closed {
			return unix.ECANCELED
		}
		return s.policy.tooManyClients()
	}
	s.nextClient++
	cl.id = s.nextClient
	s.clients[cl.id] = cl
	s.ports[local.Port()] = struct{}{}
	s.readers.Add(1)
	s.mu.Unlock()
	go s.readClient(cl, notify)
	r.Ret, r.Addr = int(cl.id), local
	return nil
}

// readClient passes what the client receives to notify until the
// connection ends, then forgets the client.
func (s *Session) readClient(c *client, notify func(*wire.Event)) {
	defer s.readers.Done()
	why := "the server closed the connection"
	buf := make([]byte, clientReadSize)
	for {
		n, err := c.conn.Read(buf)
		if n > 0 {
			notify(&wire.Event{Kind: wire.EventClientData, Client: c.id, Data: append([]byte(nil), buf[:n]...)})
		}
		if err == io.EOF {
			// The server shut down its side; the client may still send, as
			// nc does, until the learner closes it.
			notify(&wire.Event{Kind: wire.EventClientEOF, Client: c.id, Message: "end of stream: the server closed its side"})
			<-c.closed // by client-close, or the session's Close
			why = "closed"
			break
		}
		if err != nil {
			why = "closed"
			if name := errnoName(err); name != "EIO" { // EIO: our own close, or something with no name
				why = name
				if e, ok := wire.ErrnoByName(name); ok {
					why += ": " + e.Explain
				}
			}
			break
		}
	}
	c.close(why)
	s.mu.Lock()
	if s.clients[c.id] == c {
		delete(s.clients, c.id)
	}
	s.mu.Unlock()
	notify(&wire.Event{Kind: wire.EventClientClosed, Client: c.id, Message: c.reason(why)})
}

// useClient sends on, shuts down or closes an open client.
func (s *Session) useClient(ctx context.Context, c *wire.Call, r *wire.Result) error {
	s.mu.Lock()
	cl := s.clients[c.Client]
	if cl != nil && c.Op == wire.OpClientClose {
		delete(s.clients, c.Client)
	}
	s.mu.Unlock()
	if cl == nil {
		return unix.EBADF
	}
	switch c.Op {
	case wire.OpClientSend:
		cl.conn.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
		stop := context.AfterFunc(ctx, func() { cl.conn.SetWriteDeadline(time.Now()) })
		n, err := cl.conn.Write(c.Data)
		stop()
		r.Ret = n
		if err != nil && n == 0 {
			if ctx.Err() != nil {
				return unix.ECANCELED
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return unix.ETIMEDOUT
			}
			return err
		}
		return nil
	case wire.OpClientShutdown:
		return cl.conn.CloseWrite()
	default: // wire.OpClientClose
		cl.close("closed")
		return nil
	}
}
