// Package eventloop checks lesson 13: many clients served by one thread.
// Clients that sent half a line and went quiet are held open while others
// are answered, then finish their lines; from the trace, the program made
// one call at a time, waited in epoll_wait, and made its sockets
// non-blocking.
package eventloop

import (
	"fmt"
	"slices"
	"strings"

	telnet "github.com/sockstep/sockstep/lessons/07-telnet"
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 13's checker.
func Check(c *kit.C) {
	idle := 20 + c.Rand().IntN(9)
	const busy = 3
	waiting := make([]*kit.Conn, idle)
	words := make([]string, idle)
	cuts := make([]int, idle)
	active := make([]*kit.Conn, busy)
	defer func() {
		for _, k := range append(waiting, active...) {
			if k != nil {
				k.Close()
			}
		}
	}()
	c.Step(fmt.Sprintf("%d clients connect, each sends the start of a line and goes quiet", idle), c.NC()+"   # type a few letters, no Enter", func() error {
		for i := range waiting {
			k, err := c.Client(fmt.Sprintf("quiet client %d of %d", i+1, idle))
			if err != nil {
				return err
			}
			waiting[i] = k
			words[i] = c.Word()
			cuts[i] = 2 + c.Rand().IntN(2)
			if err := k.Send(words[i][:cuts[i]]); err != nil {
				return err
			}
		}
		return nil
	})
	c.Step(fmt.Sprintf("while they wait, %d more clients connect and each is answered", busy), fmt.Sprintf("# in %d terminals: %s, and type in the last", busy+1, c.NC()), func() error {
		for i := range active {
			k, err := c.Client(fmt.Sprintf("busy client %d of %d", i+1, busy))
			if err != nil {
				return err
			}
			active[i] = k
		}
		for i, k := range active {
			w := c.Word()
			if err := k.Send(w + "\n"); err != nil {
				return err
			}
			got, err := k.Line(fmt.Sprintf("the answer to %q", w))
			if err != nil {
				if i == 0 {
					return fmt.Errorf("%v: the server seems stuck on one client — the first quiet one sent %q and no end of line, and a server that waits in read for the rest of it serves nobody else; read once when epoll says a socket is ready, keep what came, and go back to epoll_wait", err, words[0][:cuts[0]])
				}
				return err
			}
			if got != telnet.Reverse(w) {
				if len(got) > len(w) && strings.HasPrefix(got, telnet.Reverse(w)) {
					return fmt.Errorf("%s sent %q and got %q: the answer holds bytes other clients sent — keep the start of a line apart for each client (a buffer per descriptor, such as a map[int][]byte), not one buffer for all", k.Name(), w, got)
				}
				return fmt.Errorf("%s sent %q: expected %q, got %q", k.Name(), w, telnet.Reverse(w), got)
			}
		}
		return nil
	})
	// Lesson 7's stage again, amid the others.
	telnet.Split(c, active[busy-1], c.Word(), c.Word(), telnet.Reverse)
	c.Step(fmt.Sprintf("the %d quiet clients finish their lines, and each gets its own line back", idle), "", func() error {
		for i, k := range waiting {
			if err := k.Send(words[i][cuts[i]:] + "\r\n"); err != nil {
				return err
			}
		}
		for i, k := range waiting {
			want := telnet.Reverse(words[i])
			got, err := k.Line(fmt.Sprintf("the answer to %q, sent as %q then %q", words[i], words[i][:cuts[i]], words[i][cuts[i]:]+"\r\n"))
			if err != nil {
				return fmt.Errorf("%v (expected %q)", err, want)
			}
			if got != want {
				why := "keep each client's unfinished line in a buffer of its own until its \\n comes"
				if got == telnet.Reverse(words[i][cuts[i]:]) {
					why = fmt.Sprintf("the server lost %q, the start this client sent long before; %s", words[i][:cuts[i]], why)
				}
				return fmt.Errorf("%s: expected %q, got %q: %s", k.Name(), want, got, why)
			}
		}
		return nil
	})
	c.Step("the clients leave, and the server closes each one's socket", c.NCN()+"   # then press Ctrl-D at the start of a line", func() error {
		all := append(slices.Clone(waiting), active...)
		for _, k := range all {
			k.CloseWrite()
		}
		for _, k := range all {
			if err := k.ExpectEOF("the server to close the connection once the client left"); err != nil {
				return fmt.Errorf("%v: when a read returns 0, close that client's socket (closing it also takes it out of the epoll set) and forget its buffer", err)
			}
		}
		return nil
	})
	c.TraceStep("one call at a time: one thread served every client", func(t kit.Trace) error {
		run, err := since(c, t)
		if err != nil {
			return err
		}
		return oneAtATime(t, run)
	})
	c.TraceStep("the loop waits in epoll_wait, which reports the clients", func(t kit.Trace) error {
		run, err := since(c, t)
		if err != nil {
			return err
		}
		waits := 0
		reported := map[int]bool{}
		for _, i := range run {
			if e := t[i]; kit.OK(wire.OpEpollWait)(e) {
				waits++
				for _, ev := range e.Result.Events {
					reported[ev.FD] = true
				}
			}
		}
		if waits == 0 {
			return t.Errorf("expected epoll_wait in the trace after listen, found none: an event loop asks the kernel which sockets are ready — syscall.EpollCreate1, EpollCtl for the listener and each client, then EpollWait in a loop")
		}
		clients := 0
		for _, i := range run {
			if e := t[i]; kit.OK(wire.OpAccept)(e) && reported[e.Result.Ret] {
				clients++
			}
		}
		if clients < idle {
			return t.Errorf("epoll_wait reported %d accepted sockets; expected at least the %d quiet clients, which all spoke: add each accepted socket with EpollCtl(ep, syscall.EPOLL_CTL_ADD, conn, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(conn)})", clients, idle)
		}
		return nil
	})
	c.TraceStep("the listener and every client's socket were non-blocking", func(t kit.Trace) error {
		run, err := since(c, t)
		if err != nil {
			return err
		}
		listen, _ := t.Listener(c.PortNumber())
		lfd := t[listen].Call.FD
		accept := len(t)
		for _, i := range run {
			if t[i].Call.Op == wire.OpAccept && t[i].Call.FD == lfd {
				accept = i
				break
			}
		}
		if !nonblockingAt(t, accept, lfd) {
			return t.Errorf("listener %d was never made non-blocking: when a client gives up between epoll_wait and accept, a blocking accept waits, and the whole loop with it; call syscall.SetNonblock(fd, true) on the listener", lfd)
		}
		for _, i := range run {
			e := t[i]
			if !kit.OK(wire.OpAccept)(e) {
				continue
			}
			conn := e.Result.Ret
			if r := firstRead(t, i, conn); r >= 0 && !nonblockingAt(t, r, conn) {
				return t.Errorf("%s was read while still blocking (%s): a read on a blocking socket waits whenever epoll's news is stale, and the whole loop waits with it; call syscall.SetNonblock(conn, true) after accept", kit.Line(e), kit.Line(t[r]))
			}
		}
		return nil
	})
	c.TraceStep("the loop waits, rather than spin", func(t kit.Trace) error {
		run, err := since(c, t)
		if err != nil {
			return err
		}
		empty, again := 0, 0
		for _, i := range run {
			e := t[i]
			switch {
			case e.Call.Op == wire.OpEpollWait && e.Call.Value == 0 && e.Result.Ret == 0 && !e.Result.Failed():
				empty++
			case e.Result.Errno == "EAGAIN":
				again++
			}
		}
		if limit := 8 * (idle + busy); empty > limit || again > limit {
			return t.Errorf("%d calls of epoll_wait with a timeout of 0 found nothing, and %d calls said EAGAIN: the loop tries again and again instead of waiting; pass -1 to EpollWait so it waits until a socket is ready, and read a socket only when epoll reports it", empty, again)
		}
		return nil
	})
}

// since is the entries after the last listen on the port under test, in
// the order they finished, without the closes made at the program's exit.
func since(c *kit.C, t kit.Trace) ([]int, error) {
	listen, _ := t.Listener(c.PortNumber())
	if listen < 0 {
		return nil, t.Errorf("expected a socket bound to port %d and listening, found none", c.PortNumber())
	}
	var out []int
	for i := listen + 1; i < len(t); i++ {
		if !t[i].Call.AtExit {
			out = append(out, i)
		}
	}
	return out, nil
}

// oneAtATime fails when two of the calls overlapped in time: one began
// before the other had returned, which one thread never does.
func oneAtATime(t kit.Trace, run []int) error {
	byStart := slices.Clone(run)
	slices.SortFunc(byStart, func(a, b int) int { return t[a].Start.Compare(t[b].Start) })
	var open []int // calls begun and not yet returned as the next begins
	for _, i := range byStart {
		e := t[i]
		kept := open[:0]
		for _, j := range open {
			if t[j].End.After(e.Start) {
				kept = append(kept, j)
			}
		}
		open = kept
		if len(open) > 0 {
			j := open[0]
			return t.Errorf("%s was still waiting when %s began: two calls at once come from two goroutines (or threads); serve every client from one loop, which waits only in epoll_wait", describe(t[j]), describe(e))
		}
		open = append(open, i)
	}
	return nil
}

func describe(e native.TraceEntry) string { return wire.FormatCall(&e.Call) }

// nonblockingAt reports whether fd was non-blocking at entry i: made so
// (socket's SOCK_NONBLOCK, accept4's), or set so since (an fcntl F_SETFL
// with O_NONBLOCK).
func nonblockingAt(t kit.Trace, i, fd int) bool {
	origin := t.Origin(i, fd)
	on := origin >= 0 && t[origin].Call.Value&sockNonblock != 0
	for j := origin + 1; j < i; j++ {
		e := t[j]
		if e.Call.FD == fd && e.Call.Op == wire.OpFcntl && e.Call.Option == "F_SETFL" && !e.Result.Failed() {
			on = e.Call.Value&wire.O_NONBLOCK != 0
		}
	}
	return on
}

// sockNonblock is SOCK_NONBLOCK, in socket's type or accept4's flags.
const sockNonblock = 0x800

// firstRead is the index of the first read of conn after entry i (its
// accept), before it was closed, or -1.
func firstRead(t kit.Trace, i, conn int) int {
	for j := i + 1; j < len(t); j++ {
		e := t[j]
		if e.Call.FD != conn {
			continue
		}
		switch e.Call.Op {
		case wire.OpRead, wire.OpRecvfrom:
			return j
		case wire.OpClose:
			return -1
		}
	}
	return -1
}
