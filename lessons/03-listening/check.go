// Package listening checks lesson 3: clients connect to a socket nobody
// accepts on, because the kernel queues them, and listen had a backlog.
//
// Nothing takes a connection off that queue until the program ends, so the
// check must not fill it: where the kernel's view is readable (Linux) it
// reads the queue and the backlog first, as `ss -tln` does, and connects
// only as many clients as there is room for. Checking again and again
// against one running program gives the same answer.
package listening

import (
	"fmt"
	"net"

	"github.com/sockstep/sockstep/lessons/kit"
)

// Check is lesson 3's checker.
func Check(c *kit.C) {
	n := 2 + c.Rand().IntN(3) // within the backlog of 5 the lesson asks for
	var ln kit.Socket
	view := false
	c.Step("a socket listens on "+c.Addr(), c.NC(), func() error {
		s, ok, err := c.WaitListening()
		ln, view = s, ok
		return err
	})
	if view {
		c.Step(fmt.Sprintf("its backlog is at least 1 (the kernel holds %d)", ln.Backlog), "ss -tln 'sport = :"+c.Port()+"'   # Send-Q is the backlog", func() error {
			if ln.Backlog < 1 {
				return fmt.Errorf("the listener's backlog is %d: with listen(fd, 0) Linux still queues one connection, but the lesson asks for room for several: listen(fd, 5)", ln.Backlog)
			}
			return nil
		})
		room := ln.Backlog + 1 - ln.Queue // Linux queues backlog + 1
		if room <= 0 {
			c.Passf(fmt.Sprintf("the listen queue is full: %d connections wait in it", ln.Queue),
				"%d connections wait in the queue — your backlog %d, plus the one more Linux allows — left by earlier clients nobody accepted. "+
					"A new client's connect now waits unanswered until the program accepts one. Run the program again to start with an empty queue",
				ln.Queue, ln.Backlog)
			n = 0
		}
		n = min(n, room)
	}
	if n > 0 {
		connect(c, n)
	}
	c.TraceStep("listen was called with a backlog", func(t kit.Trace) error {
		port := c.PortNumber()
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected listen(N, backlog) = 0 on the socket bound to port %d, found none", port)
		}
		if b := t[listen].Call.Value; b < 1 {
			return t.Errorf("%s: expected a backlog of at least 1, got %d", kit.Line(t[listen]), b)
		}
		return nil
	})
}

// connect has n clients connect, each staying while the next connects.
func connect(c *kit.C, n int) {
	name := fmt.Sprintf("%d clients connect at once, and wait in the queue", n)
	if n == 1 {
		name = "1 client connects, and waits in the queue (the last place left)"
	}
	c.Step(name, c.NC(), func() error {
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, conn := range conns {
				kit.Abort(conn) // nothing left behind; the queue keeps their places all the same
			}
		}()
		for i := range n {
			conn, err := c.Dial()
			if err != nil {
				return fmt.Errorf("client %d of %d: %w", i+1, n, err)
			}
			conns = append(conns, conn)
		}
		return nil
	})
}
