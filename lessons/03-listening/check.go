// Package listening checks lesson 3: clients connect to a socket nobody
// accepts on, because the kernel queues them, and listen had a backlog.
package listening

import (
	"fmt"
	"net"
	"strconv"

	"sockstep/lessons/kit"
)

// Check is lesson 3's checker.
func Check(c *kit.C) {
	n := 2 + c.Rand().IntN(3) // within the backlog of 5 the lesson asks for
	c.Step(fmt.Sprintf("%d clients connect at once", n), c.NC(), func() error {
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, conn := range conns {
				conn.Close()
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
	c.TraceStep("listen was called with a backlog", func(t kit.Trace) error {
		port, _ := strconv.Atoi(c.Port())
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
