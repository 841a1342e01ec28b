// Package socket checks lesson 1: a socket was made and closed. There is no
// server yet, so the check reads the trace only.
package socket

import (
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 1's checker.
func Check(c *kit.C) {
	made := -1
	c.TraceStep("a TCP socket was created", func(t kit.Trace) error {
		made = t.Last(func(e native.TraceEntry) bool {
			return kit.OK(wire.OpSocket)(e) && e.Call.Family == "AF_INET" && e.Call.Type == "SOCK_STREAM"
		})
		if made < 0 {
			if i := t.Last(kit.Op(wire.OpSocket)); i >= 0 {
				return t.Errorf("expected socket(AF_INET, SOCK_STREAM, 0) to succeed; the last socket call was %s", kit.Line(t[i]))
			}
			return t.Errorf("expected a call socket(AF_INET, SOCK_STREAM, 0) in the trace, found none")
		}
		return nil
	})
	c.TraceStep("the same descriptor was closed", func(t kit.Trace) error {
		fd := t[made].Result.Ret
		if t.ClosedAfter(made, fd) < 0 {
			return t.Errorf("socket returned descriptor %d; expected close(%d) = 0 after it, found none", fd, fd)
		}
		return nil
	})
}
