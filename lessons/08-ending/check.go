// Package ending checks lesson 8: "shutdown" is answered "bye", then the
// listener is closed and new clients are refused.
package ending

import (
	"fmt"
	"strconv"

	telnet "sockstep/lessons/07-telnet"
	"sockstep/lessons/kit"
)

// Check is lesson 8's checker.
func Check(c *kit.C) {
	var k *kit.Conn
	c.Step("a client connects", c.NC(), func() error {
		var err error
		k, err = c.Client("the client")
		return err
	})
	defer k.Close()
	w := c.Word()
	c.Step(fmt.Sprintf("%q is answered %q", w, telnet.Reverse(w)), fmt.Sprintf("printf '%s\\n' | %s", w, c.NC()), func() error {
		if err := k.Send(w + "\r\n"); err != nil {
			return err
		}
		return k.Expect("the answer to "+w, telnet.Reverse(w))
	})
	c.Step(`"shutdown" is answered "bye", and the connection closed`, fmt.Sprintf("printf 'shutdown\\n' | %s", c.NC()), func() error {
		if err := k.Send("shutdown\r\n"); err != nil {
			return err
		}
		if err := k.Expect(`the answer to "shutdown"`, "bye"); err != nil {
			return err
		}
		return k.ExpectEOF("the server to close the connection after bye")
	})
	c.Step("new clients are refused: the listener is closed", c.NC(), c.Closed)
	c.TraceStep("the listening socket was closed", func(t kit.Trace) error {
		port, _ := strconv.Atoi(c.Port())
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", port)
		}
		lfd := t[listen].Call.FD
		if t.ClosedAfter(listen, lfd) < 0 {
			return t.Errorf("expected close(%d) of the listener after %s, found none", lfd, kit.Line(t[listen]))
		}
		return nil
	})
}
