// Package ending checks lesson 8: the line server of lesson 7 still copes
// with lines in pieces; "shutdown" is answered "bye", then the listener is
// closed — by the program, not by its exit — and new clients are refused.
package ending

import (
	"fmt"

	telnet "github.com/sockstep/sockstep/lessons/07-telnet"
	"github.com/sockstep/sockstep/lessons/kit"
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
	// Lesson 7's stages first: the server must still be a line server.
	telnet.Split(c, k, c.Word(), c.Word(), telnet.Reverse)
	telnet.Pieces(c, k, c.Word(), telnet.Reverse)
	c.Step(`"shutdown" is answered "bye", and the connection closed`, fmt.Sprintf("printf 'shutdown\\n' | %s", c.NCN()), func() error {
		if err := k.Send("shutdown\r\n"); err != nil {
			return err
		}
		if err := k.Expect(`the answer to "shutdown"`, "bye"); err != nil {
			return err
		}
		return k.ExpectEOF("the server to close the connection after bye")
	})
	c.Step("new clients are refused: the listener is closed", c.NC(), c.Closed)
	c.TraceStep("the program closed its listener itself, rather than leave it to its exit", func(t kit.Trace) error {
		port := c.PortNumber()
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", port)
		}
		lfd := t[listen].Call.FD
		if t.ClosedAfter(listen, lfd) < 0 {
			return t.Errorf("expected close(%d) of the listener after %s, found none: the program ended with its listener open, and the kernel closed it at exit. "+
				"os.Exit, or returning from main with the descriptor open, skips that tidy-up: call syscall.Close on the listener, then return from main", lfd, kit.Line(t[listen]))
		}
		return nil
	})
}
