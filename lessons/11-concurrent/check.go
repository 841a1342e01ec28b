// Package concurrent checks lesson 11: several clients held open at once,
// answered in reverse order of connecting, which a server that serves one
// client at a time cannot do.
package concurrent

import (
	"fmt"

	telnet "github.com/sockstep/sockstep/lessons/07-telnet"
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 11's checker.
func Check(c *kit.C) {
	n := 3 + c.Rand().IntN(3)
	clients := make([]*kit.Conn, n)
	defer func() {
		for _, k := range clients {
			if k != nil {
				k.Close()
			}
		}
	}()
	c.Step(fmt.Sprintf("%d clients connect and stay connected", n), c.NC(), func() error {
		for i := range clients {
			k, err := c.Client(fmt.Sprintf("client %d of %d", i+1, n))
			if err != nil {
				return err
			}
			clients[i] = k
		}
		return nil
	})
	for i := n - 1; i >= 0; i-- {
		k := clients[i]
		w := c.Word()
		order := fmt.Sprintf("connected %d of %d", i+1, n)
		if i == n-1 {
			order += ", speaks first, while the others are still connected"
		}
		c.Step(fmt.Sprintf("%s (%s) says %q and gets %q", k.Name(), order, w, telnet.Reverse(w)), fmt.Sprintf("# in %d terminals at once: %s", n, c.NC()), func() error {
			if err := k.Send(w + "\n"); err != nil {
				return err
			}
			err := k.Expect(fmt.Sprintf("the answer to %q", w), telnet.Reverse(w))
			if err != nil && i > 0 {
				return fmt.Errorf("%v — the server seems busy with an earlier client: serve each connection in a goroutine of its own", err)
			}
			return err
		})
	}
	// Lesson 7's stage again, on one of the clients held open.
	telnet.Split(c, clients[0], c.Word(), c.Word(), telnet.Reverse)
	// Each goroutine owns its client's socket: when the client leaves, the
	// goroutine must close it. The clients leave in turn, the last first.
	for i := n - 1; i >= 0; i-- {
		k := clients[i]
		c.Step(k.Name()+" leaves, and the server closes its socket", c.NCN()+"   # then press Ctrl-D at the start of a line", func() error {
			k.CloseWrite()
			if err := k.ExpectEOF("the server to close the connection once the client left"); err != nil {
				return fmt.Errorf("%v: when read returns 0, the goroutine serving that client should close its socket (defer syscall.Close(conn) in serve); "+
					"a socket nobody closes stays open until the program ends, one more for every client", err)
			}
			return nil
		})
	}
	c.TraceStep(fmt.Sprintf("%d accepted sockets were open at the same time", n), func(t kit.Trace) error {
		port := c.PortNumber()
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", port)
		}
		lfd := t[listen].Call.FD
		open := map[int]bool{}
		most := 0
		for i := listen + 1; i < len(t); i++ {
			e := t[i]
			switch {
			case e.Call.Op == wire.OpAccept && e.Call.FD == lfd && !e.Result.Failed():
				open[e.Result.Ret] = true
			case e.Call.Op == wire.OpClose && open[e.Call.FD]:
				delete(open, e.Call.FD)
			}
			most = max(most, len(open))
		}
		if most < n {
			return t.Errorf("expected %d accepted sockets open at once, found at most %d", n, most)
		}
		return nil
	})
	c.TraceStep("each accepted socket was closed when its client left", func(t kit.Trace) error {
		port := c.PortNumber()
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", port)
		}
		lfd := t[listen].Call.FD
		for i := listen + 1; i < len(t); i++ {
			e := t[i]
			if e.Call.Op == wire.OpAccept && e.Call.FD == lfd && !e.Result.Failed() && t.ClosedAfter(i, e.Result.Ret) < 0 {
				return t.Errorf("%s: expected close(%d) once that client left, found none", kit.Line(e), e.Result.Ret)
			}
		}
		return nil
	})
}
