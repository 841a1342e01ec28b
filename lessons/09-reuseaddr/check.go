// Package reuseaddr checks lesson 9: the server rebinds its port right after
// a connection it closed first went to TIME_WAIT, which takes SO_REUSEADDR
// set before bind.
package reuseaddr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sockstep/lessons/kit"
	"sockstep/native"
	"sockstep/native/wire"
)

// Check is lesson 9's checker.
func Check(c *kit.C) {
	first := -1
	c.Step("a first client gets its round, then the server closes", c.NC(), func() error {
		n, err := round(c, "the first client")
		first = n
		return err
	})
	c.Step("after the restart, a second client gets the next round", c.NC(), func() error {
		n, err := round(c, "the second client")
		if err != nil {
			if strings.Contains(err.Error(), "nothing listens") {
				return fmt.Errorf("%v — the server did not come back after its first client: its next bind probably failed with EADDRINUSE while that connection is in TIME_WAIT; set SO_REUSEADDR before bind", err)
			}
			return err
		}
		if n != first+1 {
			return fmt.Errorf("expected \"round %d\" after \"round %d\", got \"round %d\"", first+1, first, n)
		}
		return nil
	})
	c.TraceStep("SO_REUSEADDR was set before every bind of the port", func(t kit.Trace) error {
		port, _ := strconv.Atoi(c.Port())
		binds := t.All(func(e native.TraceEntry) bool { return e.Call.Op == wire.OpBind && int(e.Call.Addr.Port()) == port })
		if len(binds) < 2 {
			return t.Errorf("expected at least two binds to port %d (one per round), found %d", port, len(binds))
		}
		for _, b := range binds[len(binds)-2:] {
			fd := t[b].Call.FD
			set := false
			for j := t.Origin(b, fd) + 1; j < b; j++ {
				e := t[j]
				if e.Call.Op == wire.OpSetsockopt && e.Call.FD == fd && e.Call.Option == "SO_REUSEADDR" && e.Call.Value != 0 && !e.Result.Failed() {
					set = true
				}
			}
			if !set {
				return t.Errorf("%s: expected setsockopt(%d, SOL_SOCKET, SO_REUSEADDR, 1) on that socket before this bind, found none", kit.Line(t[b]), fd)
			}
			if t[b].Result.Failed() {
				return t.Errorf("%s failed even with SO_REUSEADDR", kit.Line(t[b]))
			}
		}
		return nil
	})
}

// round connects, reads "round N", and waits for the server to close. A
// client that connects while the previous round's listener is closing sits
// in that listener's queue and is reset, as any client of a restarting
// server may be: it tries again, for at most kit.StartWait.
func round(c *kit.C, name string) (int, error) {
	deadline := time.Now().Add(kit.StartWait)
	for {
		n, err := roundOnce(c, name)
		if !errors.Is(err, errReset) || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errReset is a connection reset before the server said anything.
var errReset = errors.New("reset before the first line")

func roundOnce(c *kit.C, name string) (int, error) {
	k, err := c.Client(name)
	if err != nil {
		return 0, err
	}
	defer k.Close()
	line, err := k.Line(`the line "round N"`)
	if err != nil {
		if k.Reset() {
			return 0, fmt.Errorf("%w: %v", errReset, err)
		}
		return 0, err
	}
	var n int
	if _, err := fmt.Sscanf(line, "round %d", &n); err != nil || line != "round "+strconv.Itoa(n) {
		return 0, fmt.Errorf("expected a line like \"round 1\", got %q", line)
	}
	return n, k.ExpectEOF("the server to close the connection")
}
