// Package accepting checks lesson 4: each client is told its own address
// through the accepted socket, which is then closed; the listener stays.
package accepting

import (
	"fmt"
	"strconv"

	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 4's checker.
func Check(c *kit.C) {
	n := 2 + c.Rand().IntN(2)
	for i := range n {
		name := fmt.Sprintf("client %d of %d", i+1, n)
		c.Step(name+" is told its own address", c.NC(), func() error {
			k, err := c.Client(name)
			if err != nil {
				return err
			}
			defer k.Close()
			if err := k.Expect("the line \"you are …\"", "you are "+k.LocalAddr().String()); err != nil {
				return err
			}
			return k.ExpectEOF("the server to close the connection")
		})
	}
	c.TraceStep("accept gave a new descriptor, which was closed; the listener was not", func(t kit.Trace) error {
		port, _ := strconv.Atoi(c.Port())
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", port)
		}
		lfd := t[listen].Call.FD
		accepted := 0
		for i := listen + 1; i < len(t); i++ {
			e := t[i]
			switch {
			case e.Call.Op == wire.OpClose && e.Call.FD == lfd:
				return t.Errorf("the listener %d was closed (%s): it should keep listening for the next client", lfd, kit.Line(e))
			case e.Call.Op == wire.OpAccept && e.Call.FD == lfd && !e.Result.Failed():
				if e.Result.Ret == lfd {
					return t.Errorf("%s returned the listener's own descriptor", kit.Line(e))
				}
				if t.ClosedAfter(i, e.Result.Ret) < 0 && accepted < n-1 {
					return t.Errorf("%s: expected close(%d) after serving that client, found none", kit.Line(e), e.Result.Ret)
				}
				accepted++
			}
		}
		if accepted < n {
			return t.Errorf("expected at least %d accepts on the listener %d, found %d", n, lfd, accepted)
		}
		return nil
	})
}
