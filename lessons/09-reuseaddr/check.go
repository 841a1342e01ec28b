// Package reuseaddr checks lesson 9: the server rebinds its port while a
// connection it closed first still holds that port, which takes
// SO_REUSEADDR, set before bind, on the new socket and on the listener the
// old connection came from.
//
// The check holds that connection for the moment of the restart: its first
// client stays connected after the server closed, so the server's end waits
// in FIN_WAIT2 — held by the same rule as a TIME_WAIT, and for certain while
// the server rebinds, where a TIME_WAIT would depend on who is quicker. At
// the end the check resets its connections rather than close them, so the
// run leaves nothing on the port: a fixed program checked right after the
// starter binds at once.
package reuseaddr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 9's checker.
func Check(c *kit.C) {
	var before kit.Socket
	view := false
	c.Step("the server listens", c.NC(), func() error {
		s, ok, err := c.WaitListening()
		before, view = s, ok
		return err
	})
	var first *kit.Conn
	defer func() {
		if first != nil {
			first.Close()
		}
	}()
	n1 := 0
	c.Step("a first client gets its round, the server closes the connection, and the client stays", c.NC(), func() error {
		k, n, err := round(c, "the first client")
		first, n1 = k, n
		return err
	})
	c.Step("the server restarts at once: a second client gets the next round", c.NC(), func() error {
		k, n, err := round(c, "the second client")
		if k != nil {
			defer k.Close()
		}
		if err != nil {
			if strings.Contains(err.Error(), "nothing listens") {
				return fmt.Errorf("the server did not come back after its first client: %v. "+
					"That client is still connected, so the server's end of the connection it closed first waits in FIN_WAIT2 and holds port %s, as a TIME_WAIT would. "+
					"Set SO_REUSEADDR before bind on every socket of the port: the new socket, and the listener the old connection came from", err, c.Port())
			}
			return err
		}
		if n != n1+1 {
			return fmt.Errorf("expected \"round %d\" after \"round %d\", got \"round %d\"", n1+1, n1, n)
		}
		if view {
			if now, found, _ := kit.Listening(c.Host(), c.PortNumber()); found && now.Inode == before.Inode {
				return fmt.Errorf("the same listening socket (inode %d) served both clients: this server never restarted. "+
					"The exercise closes the listener after each client and makes a new one, so that each new bind meets the connection the last round closed", now.Inode)
			}
		}
		return nil
	})
	c.TraceStep("SO_REUSEADDR was set before every bind of the port", func(t kit.Trace) error {
		port := c.PortNumber()
		binds := t.All(func(e native.TraceEntry) bool { return e.Call.Op == wire.OpBind && int(e.Call.Addr.Port()) == port })
		if len(binds) < 2 {
			return t.Errorf("expected at least two binds to port %d (one per round), found %d", port, len(binds))
		}
		for _, b := range binds {
			fd := t[b].Call.FD
			set := false
			for j := t.Origin(b, fd) + 1; j < b; j++ {
				e := t[j]
				if e.Call.Op == wire.OpSetsockopt && e.Call.FD == fd && e.Call.Option == "SO_REUSEADDR" && e.Call.Value != 0 && !e.Result.Failed() {
					set = true
				}
			}
			if !set {
				return t.Errorf("%s: expected setsockopt(%d, SOL_SOCKET, SO_REUSEADDR, 1) on that socket before this bind, found none: "+
					"a connection left by this socket's listener would block the next bind, whatever the next socket sets", kit.Line(t[b]), fd)
			}
			if t[b].Result.Failed() {
				return t.Errorf("%s failed even with SO_REUSEADDR", kit.Line(t[b]))
			}
		}
		return nil
	})
}

// round connects, reads "round N", waits for the server to close, and
// returns the client still open: the caller closes it. A client that
// connects while the previous round's listener is closing sits in that
// listener's queue and is reset, as any client of a restarting server may
// be: it tries again, for at most kit.StartWait.
func round(c *kit.C, name string) (*kit.Conn, int, error) {
	deadline := time.Now().Add(kit.StartWait)
	for {
		k, n, err := roundOnce(c, name)
		if !errors.Is(err, errReset) || time.Now().After(deadline) {
			return k, n, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errReset is a connection reset before the server said anything.
var errReset = errors.New("reset before the first line")

func roundOnce(c *kit.C, name string) (*kit.Conn, int, error) {
	k, err := c.Client(name)
	if err != nil {
		return nil, 0, err
	}
	line, err := k.Line(`the line "round N"`)
	if err != nil {
		reset := k.Reset()
		k.Close()
		if reset {
			return nil, 0, fmt.Errorf("%w: %v", errReset, err)
		}
		return nil, 0, err
	}
	var n int
	if _, err := fmt.Sscanf(line, "round %d", &n); err != nil || line != "round "+strconv.Itoa(n) {
		return k, 0, fmt.Errorf("expected a line like \"round 1\", got %q", line)
	}
	return k, n, k.ExpectEOF("the server to close the connection")
}
