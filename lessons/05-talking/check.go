// Package talking checks lesson 5: a greeting, an answer per line, and a
// close when the client closes.
package talking

import (
	"fmt"
	"strings"

	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 5's checker.
func Check(c *kit.C) {
	Converse(c, "the client", true)
	c.TraceStep("a read returned 0, then that descriptor was closed", func(t kit.Trace) error {
		i := t.Last(func(e native.TraceEntry) bool { return kit.OK(wire.OpRead)(e) && e.Result.Ret == 0 })
		if i < 0 {
			return t.Errorf("expected read(N, …) = 0 when the client closed, found none")
		}
		if t.ClosedAfter(i, t[i].Call.FD) < 0 {
			return t.Errorf("%s: the client has gone, expected close(%d) after it, found none", kit.Line(t[i]), t[i].Call.FD)
		}
		return nil
	})
}

// Converse has one client go through lesson 5's conversation: the greeting,
// three to five random names (a server that closes after a fixed number of
// lines cannot count on two), then it closes its sending side and expects
// the server to close — only then. Lesson 6 uses it too.
func Converse(c *kit.C, name string, closeAtEnd bool) {
	var k *kit.Conn
	c.Step(name+" is greeted", c.NC(), func() error {
		var err error
		if k, err = c.Client(name); err != nil {
			return err
		}
		return k.Expect("the greeting", "What is your name?")
	})
	defer k.Close()
	names := 3 + c.Rand().IntN(3)
	for i := range names {
		who := c.Word()
		c.Step(fmt.Sprintf("%s says %q and is answered", name, who), fmt.Sprintf("printf '%s\\n' | %s", who, c.NCN()), func() error {
			if err := k.Send(who + "\n"); err != nil {
				return err
			}
			if err := k.Expect("the answer to "+who, "Hello, "+who+"!"); err != nil {
				if i > 0 && (k.Reset() || strings.Contains(err.Error(), "closed the connection")) {
					return fmt.Errorf("%v — after %d names; the server should answer every line until the client leaves (read returns 0)", err, i)
				}
				return err
			}
			if i == names-1 {
				return k.StillOpen(fmt.Sprintf("after the answer to %q", who))
			}
			return nil
		})
	}
	if !closeAtEnd {
		return
	}
	c.Step(name+" leaves and the server closes the connection", c.NCN()+"   # then press Ctrl-D at the start of a line", func() error {
		k.CloseWrite()
		return k.ExpectEOF("the server to close the connection after read returned 0")
	})
}
