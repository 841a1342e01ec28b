// Package datagrams checks lesson 17: a UDP echo server. Datagrams of very
// different sizes — empty, small, past a packet, near the 64 KiB limit —
// must each come back whole and on their own; several sent at once come
// back as as many; two clients each get their own; and, from the trace, one
// SOCK_DGRAM socket did it all with recvfrom and sendto, with no listen and
// no accept.
package datagrams

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 17's checker.
func Check(c *kit.C) {
	c.Step("a datagram gets an answer", fmt.Sprintf("nc -u %s %s   # type a word, then Enter", c.Host(), c.Port()), func() error {
		return c.WaitUDP([]byte(c.Word()))
	})
	a, err := c.UDPClient("client 1")
	if err != nil {
		c.Step("a client makes its socket", "", func() error { return err })
	}
	defer a.Close()

	sizes := []int{5 + c.Rand().IntN(20), 1200 + c.Rand().IntN(300), 3000 + c.Rand().IntN(6000), 20000 + c.Rand().IntN(kit.MaxDatagram-20000+1)}
	c.Rand().Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	sizes = append(sizes[:2], append([]int{0}, sizes[2:]...)...) // an empty datagram amid the others: it ends nothing
	c.Step(fmt.Sprintf("datagrams of %s bytes each come back whole", list(sizes)), fmt.Sprintf("head -c 3000 /dev/urandom | nc -u -w1 %s %s | wc -c   # 3000", c.Host(), c.Port()), func() error {
		for i, n := range sizes {
			d := payload(c, n)
			if err := a.Send(d); err != nil {
				return err
			}
			what := fmt.Sprintf("the echo of datagram %d (%d bytes)", i+1, n)
			got, err := a.Receive(what, kit.ReplyWait)
			switch {
			case err != nil && i == 0:
				return fmt.Errorf("%v: the first datagram, from another client, got its answer, and this one, from %s, did not: %s", err, a.Addr(), onlyFirst)
			case err != nil && n == 0:
				return fmt.Errorf("%v: recvfrom returned 0 for an empty datagram — with UDP that is a datagram like any other, not the end of a stream (there is no stream, and nothing to end): answer it", err)
			case err != nil && i > 0 && sizes[i-1] == 0:
				return fmt.Errorf("%v: the server stopped answering after the empty datagram — recvfrom's 0 is an empty datagram, not an end: answer it, and carry on", err)
			case err != nil:
				return err
			case len(got) < n && bytes.Equal(got, d[:len(got)]):
				return fmt.Errorf("sent a datagram of %d bytes, got back %d: its first %d — the rest of the datagram was cut off: recvfrom reads one datagram, and what does not fit the buffer is lost; a buffer of 65536 bytes holds any UDP datagram", n, len(got), len(got))
			case !bytes.Equal(got, d):
				return fmt.Errorf("sent a datagram of %d bytes (%s), got back %d bytes (%s): expected the same bytes", n, wire.Quote(d), len(got), wire.Quote(got))
			}
		}
		return nil
	})
	burst := 3 + c.Rand().IntN(3)
	words := make([]string, burst)
	for i := range words {
		words[i] = c.Word()
	}
	c.Step(fmt.Sprintf("%d datagrams sent at once come back as %d datagrams", burst, burst), fmt.Sprintf("nc -u %s %s   # each line you type is one datagram", c.Host(), c.Port()), func() error {
		for _, w := range words {
			if err := a.Send([]byte(w)); err != nil {
				return err
			}
		}
		for i, w := range words {
			got, err := a.Receive(fmt.Sprintf("the echo of %q, datagram %d of %d sent at once", w, i+1, burst), kit.ReplyWait)
			if err != nil {
				return err
			}
			if string(got) != w {
				why := ""
				if strings.HasPrefix(string(got), w) {
					why = ": datagrams came back joined — a datagram keeps its boundaries, so answer each one with a sendto of its own"
				}
				return fmt.Errorf("datagram %d of %d: sent %q, got back %q%s", i+1, burst, w, got, why)
			}
		}
		return nil
	})
	c.Step("two clients, one after the other and at once, each get their own answers", fmt.Sprintf("# in two terminals: nc -u %s %s", c.Host(), c.Port()), func() error {
		b, err := c.UDPClient("client 2")
		if err != nil {
			return err
		}
		defer b.Close()
		for round, order := range [][]*kit.Datagrams{{b, a}, {a, b}} {
			sent := map[*kit.Datagrams]string{}
			for _, k := range order {
				sent[k] = c.Word()
				if err := k.Send([]byte(sent[k])); err != nil {
					return err
				}
			}
			for _, k := range order {
				got, err := k.Receive(fmt.Sprintf("the echo of %q", sent[k]), kit.ReplyWait)
				if err != nil {
					if k == b && round == 0 {
						return fmt.Errorf("%v: %s", err, onlyFirst)
					}
					return err
				}
				if string(got) != sent[k] {
					return fmt.Errorf("%s (at %s) sent %q, got back %q: each datagram goes back to the address it came from", k.Name(), k.Addr(), sent[k], got)
				}
			}
		}
		return nil
	})
	c.TraceStep("one SOCK_DGRAM socket served every client with recvfrom and sendto, no listen, no accept", func(t kit.Trace) error {
		port := c.PortNumber()
		b := t.Last(kit.BoundTo(port))
		if b < 0 {
			return t.Errorf("expected a socket bound to port %d, found none", port)
		}
		fd := t[b].Call.FD
		if o := t.Origin(b, fd); o < 0 || t[o].Call.Type != "SOCK_DGRAM" {
			return t.Errorf("expected socket(AF_INET, SOCK_DGRAM, 0) to make descriptor %d", fd)
		}
		recv, send := 0, 0
		peers := map[string]bool{}
		for i := b + 1; i < len(t); i++ {
			e := t[i]
			if e.Call.FD != fd {
				continue
			}
			switch {
			case e.Call.Op == wire.OpListen || e.Call.Op == wire.OpAccept || e.Call.Op == wire.OpConnect:
				return t.Errorf("%s: a UDP server has no %s — there is no connection; it receives every client's datagrams on its one socket", kit.Line(e), e.Call.Op)
			case kit.OK(wire.OpRecvfrom)(e):
				recv++
			case kit.OK(wire.OpSendto)(e):
				send++
				peers[e.Call.Addr.String()] = true
			}
		}
		if recv == 0 || send == 0 {
			return t.Errorf("expected recvfrom and sendto on descriptor %d, found %d recvfrom and %d sendto: recvfrom says who sent each datagram, sendto answers there", fd, recv, send)
		}
		if len(peers) < 2 {
			return t.Errorf("expected sendto to at least two addresses (the check's clients), found %d", len(peers))
		}
		return nil
	})
}

// onlyFirst is the lesson of a server that answers one client.
const onlyFirst = "the server answers only its first client — one UDP socket serves every peer: answer each datagram to the address recvfrom gave, with sendto, and never connect the server's socket"

// payload is n bytes the server could not make up: random letters.
func payload(c *kit.C, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(c.Rand().IntN(26))
	}
	return b
}

func list(sizes []int) string {
	s := make([]string, len(sizes))
	for i, n := range sizes {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
