// Package shutdown checks lesson 15: SIGTERM comes while one client is in
// the middle of a line and another is connected but quiet; the server must
// stop listening at once, finish both conversations, close its listener
// and end with exit status 0 once the last client has left.
package shutdown

import (
	"fmt"
	"syscall"
	"time"

	telnet "github.com/sockstep/sockstep/lessons/07-telnet"
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native/wire"
)

// settle is how long the check lets a program act on the signal before
// its clients speak again.
const settle = 200 * time.Millisecond

// Check is lesson 15's checker.
func Check(c *kit.C) {
	var k1, k2 *kit.Conn
	defer func() {
		for _, k := range []*kit.Conn{k1, k2} {
			if k != nil {
				k.Close()
			}
		}
	}()
	c.Step("two clients connect, and the first is answered", c.NC(), func() error {
		var err error
		if k1, err = c.Client("client 1"); err != nil {
			return err
		}
		if k2, err = c.Client("client 2"); err != nil {
			return err
		}
		w := c.Word()
		if err := k1.Send(w + "\n"); err != nil {
			return err
		}
		return k1.Expect(fmt.Sprintf("the answer to %q", w), telnet.Reverse(w))
	})
	word := c.Word()
	head, tail := word[:2], word[2:]
	c.Step(fmt.Sprintf("client 1 sends %q, the start of a line", head), "", func() error {
		if err := k1.Send(head); err != nil {
			return err
		}
		if early, ok := k1.Early(100 * time.Millisecond); ok {
			return fmt.Errorf("the server answered %q before the line ended (got %q): answer whole lines only", head, early)
		}
		return nil
	})
	const signal = "SIGTERM, while client 1 is in the middle of a line and client 2 is quiet"
	if !c.CanSignal() {
		c.Skip(signal, kit.NoProcess)
		return
	}
	c.Step(signal, "kill -TERM PID   # PID: ss -tlnp 'sport = :"+c.Port()+"' names it; Ctrl-C sends SIGINT", func() error {
		_, err := c.Signal(syscall.SIGTERM)
		return err
	})
	c.Step("the server stops listening at once, and new clients are refused", c.NC(), func() error {
		if err := stoppedListening(c); err != nil {
			return err
		}
		// The program has seen the signal. One that ends now, its clients
		// cut off, has a moment to do so before client 1 speaks again.
		time.Sleep(settle)
		return nil
	})
	c.Step(fmt.Sprintf("client 1 sends the rest of its line, %q, and gets %q", tail+"\n", telnet.Reverse(word)), "", func() error {
		if err := k1.Send(tail + "\n"); err != nil {
			return err
		}
		err := k1.Expect(fmt.Sprintf("the answer to %q, a line begun before SIGTERM", word), telnet.Reverse(word))
		if err == nil {
			return nil
		}
		why := "either SIGTERM killed the program — that is what the signal does to a program that does not catch it: ask for SIGTERM and SIGINT with signal.Notify — " +
			"or the program ended without waiting for its clients: wait for them (a sync.WaitGroup) before returning from main"
		if status, known, _ := c.WaitEnded(0); known && status != "" {
			why = fmt.Sprintf("the program ended: %s. A program that does not catch SIGTERM is killed by it, wherever it is: ask for SIGTERM and SIGINT with signal.Notify, and shut down in your own time", status)
		} else if known {
			why = "the program ended without waiting for its clients: after the signal, stop accepting, then wait for the clients connected (a sync.WaitGroup) before returning from main"
		}
		return fmt.Errorf("%v: a graceful shutdown finishes the conversations in progress; %s", err, why)
	})
	c.Step("client 1 leaves, and the server closes its socket", c.NCN()+"   # then press Ctrl-D", func() error {
		k1.CloseWrite()
		return k1.ExpectEOF("the server to close the connection once the client left")
	})
	w := c.Word()
	c.Step(fmt.Sprintf("client 2, quiet until now, says %q and gets %q", w, telnet.Reverse(w)), "", func() error {
		if err := k2.Send(w + "\n"); err != nil {
			return err
		}
		if err := k2.Expect(fmt.Sprintf("the answer to %q", w), telnet.Reverse(w)); err != nil {
			return fmt.Errorf("%v: a graceful shutdown serves every client still connected until it leaves, not only the one that was talking: wait for every client's goroutine (a sync.WaitGroup) before returning from main", err)
		}
		return nil
	})
	c.Step("client 2 leaves, and the server closes its socket", "", func() error {
		k2.CloseWrite()
		return k2.ExpectEOF("the server to close the connection once the client left")
	})
	c.Step("once its last client has left, the program ends (exit status 0, where the check can see it)", "", func() error {
		status, known, err := c.WaitEnded(kit.StartWait)
		switch {
		case err != nil:
			return fmt.Errorf("%v, its clients all gone: once they have left, close the listener and return from main (does the accept loop stop when accept fails, rather than `continue`?)", err)
		case known && status != "":
			return fmt.Errorf("the program ended: %s; expected a normal end, exit status 0: return from main", status)
		}
		return nil
	})
	c.TraceStep("the program closed its listener and its clients' sockets itself", func(t kit.Trace) error {
		port := c.PortNumber()
		listen, _ := t.Listener(port)
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", port)
		}
		lfd := t[listen].Call.FD
		closed := t.ClosedAfter(listen, lfd)
		if closed < 0 {
			return t.Errorf("expected close(%d) of the listener after %s, found none: the program ended with its listener open, and the kernel closed it at exit; close it yourself once the clients are done", lfd, kit.Line(t[listen]))
		}
		// A close while an accept waits on the listener: the playground
		// wakes that accept (EBADF), Linux does not.
		for i := listen + 1; i < len(t); i++ {
			e := t[i]
			if e.Call.Op == wire.OpAccept && e.Call.FD == lfd && e.Result.Errno == "EBADF" && e.Start.Before(t[closed].End) {
				return t.Errorf("%s returned when %s closed the listener under it. The playground wakes that accept; Linux does not: natively the accept keeps waiting, the socket keeps listening, and the next client is accepted after all. "+
					"Stop listening with syscall.Shutdown(fd, syscall.SHUT_RD), which wakes the accept (EINVAL) and refuses new clients, then close the listener", kit.Line(e), kit.Line(t[closed]))
			}
		}
		for i := listen + 1; i < len(t); i++ {
			e := t[i]
			if e.Call.Op == wire.OpAccept && e.Call.FD == lfd && !e.Result.Failed() && t.ClosedAfter(i, e.Result.Ret) < 0 {
				return t.Errorf("%s: expected close(%d) once that client left, found none", kit.Line(e), e.Result.Ret)
			}
		}
		return nil
	})
}

// stoppedListening waits until nothing listens on the port — the kernel's
// table of sockets says so without connecting —, then checks that a new
// client is refused.
func stoppedListening(c *kit.C) error {
	deadline := time.Now().Add(kit.StartWait)
	for {
		_, found, err := kit.Listening(c.Host(), c.PortNumber())
		if err != nil || !found {
			break // no kernel's view here: connecting tells
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was still listening %s after SIGTERM (the kernel's table of sockets shows it in LISTEN): a server that shuts down stops listening at once. "+
				"syscall.Shutdown(fd, syscall.SHUT_RD) on the listener does that, and wakes the accept waiting on it. Closing the descriptor does neither while an accept waits on it: "+
				"on Linux that accept keeps the socket alive and listening, and takes the next client", c.Addr(), kit.StartWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Closed(); err != nil {
		return fmt.Errorf("%v: after the signal, stop listening: syscall.Shutdown(fd, syscall.SHUT_RD)", err)
	}
	return nil
}
