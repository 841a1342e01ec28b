// Package binding checks lesson 2 from the trace: a bind that succeeded,
// then a second socket's bind to the same port that failed with EADDRINUSE.
package binding

import (
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 2's checker.
func Check(c *kit.C) {
	failed := -1
	c.TraceStep("a second bind failed with EADDRINUSE", func(t kit.Trace) error {
		failed = t.Last(func(e native.TraceEntry) bool {
			return e.Call.Op == wire.OpBind && e.Result.Errno == "EADDRINUSE"
		})
		if failed >= 0 {
			return nil
		}
		if i := t.Last(kit.Op(wire.OpBind)); i >= 0 {
			return t.Errorf("expected a bind that fails with EADDRINUSE; the last bind was %s", kit.Line(t[i]))
		}
		return t.Errorf("expected two binds to the same port, the second failing with EADDRINUSE; found no bind at all")
	})
	c.TraceStep("the first bind to that port succeeded", func(t kit.Trace) error {
		second := t[failed]
		port := int(second.Call.Addr.Port())
		first := -1
		for i := failed - 1; i >= 0; i-- {
			if kit.BoundTo(port)(t[i]) && t[i].Call.FD != second.Call.FD {
				first = i
				break
			}
		}
		if first < 0 {
			return t.Errorf("%s failed, but no other socket's bind to port %d succeeded before it: expected bind(N, %s) = 0 first", kit.Line(second), port, second.Call.Addr)
		}
		return nil
	})
}
