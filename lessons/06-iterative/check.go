// Package iterative checks lesson 6: clients served one after another, each
// accepted socket closed, the listener kept.
package iterative

import (
	"fmt"
	"strconv"

	talking "github.com/sockstep/sockstep/lessons/05-talking"
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 6's checker.
func Check(c *kit.C) {
	first, err := c.Client("the first client")
	c.Step("the first client is greeted", c.NC(), func() error {
		if err != nil {
			return err
		}
		return first.Expect("the greeting", "What is your name?")
	})
	defer first.Close()
	second, err := c.Client("the second client")
	c.Step("the second client connects while the first is still there", c.NC(), func() error { return err })
	defer second.Close()
	talkAndLeave(c, first)
	c.Step("the second client is greeted once the first has left", c.NC(), func() error {
		return second.Expect("the greeting (the first client has left)", "What is your name?")
	})
	talkAndLeave(c, second)
	talking.Converse(c, "a third client", true)

	c.TraceStep("each accepted descriptor was closed before the next accept", func(t kit.Trace) error {
		port, _ := strconv.Atoi(c.Port())
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", port)
		}
		lfd := t[listen].Call.FD
		var accepts []int
		for i := listen + 1; i < len(t); i++ {
			e := t[i]
			if e.Call.Op == wire.OpClose && e.Call.FD == lfd {
				return t.Errorf("the listener %d was closed (%s): it should stay open for the next client", lfd, kit.Line(e))
			}
			if e.Call.Op == wire.OpAccept && e.Call.FD == lfd && !e.Result.Failed() {
				accepts = append(accepts, i)
			}
		}
		if len(accepts) < 3 {
			return t.Errorf("expected at least 3 accepts on the listener %d (one per client), found %d", lfd, len(accepts))
		}
		for n, i := range accepts {
			closed := t.ClosedAfter(i, t[i].Result.Ret)
			if closed < 0 {
				return t.Errorf("%s: expected close(%d) when that client left, found none", kit.Line(t[i]), t[i].Result.Ret)
			}
			if n+1 < len(accepts) && closed > accepts[n+1] {
				return t.Errorf("descriptor %d was closed only after the next accept", t[i].Result.Ret)
			}
		}
		return nil
	})
}

// talkAndLeave says one name, hears the answer, and leaves.
func talkAndLeave(c *kit.C, k *kit.Conn) {
	who := c.Word()
	c.Step(fmt.Sprintf("%s says %q, is answered, and leaves", k.Name(), who), fmt.Sprintf("printf '%s\\n' | %s", who, c.NCN()), func() error {
		if err := k.Send(who + "\n"); err != nil {
			return err
		}
		if err := k.Expect("the answer to "+who, "Hello, "+who+"!"); err != nil {
			return err
		}
		k.CloseWrite()
		return k.ExpectEOF("the server to close the connection once the client left")
	})
}
