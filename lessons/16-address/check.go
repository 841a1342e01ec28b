// Package address checks lesson 16: the server answers on both loopback
// addresses, 127.0.0.1 and ::1, telling each client its own address; from
// the trace, its IPv6 socket was made IPv6-only before its bind; and from
// the kernel's table of sockets, which needs no trace, its listeners are
// those two, none on every address.
package address

import (
	"fmt"
	"net"
	"strings"

	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// Check is lesson 16's checker.
func Check(c *kit.C) {
	v6 := net.JoinHostPort("::1", c.Port())
	c.Step("a client over IPv4, to 127.0.0.1, is told its address", c.NC(), func() error {
		return told(c, c.Addr(), "the IPv4 client")
	})
	c.Step("a client over IPv6, to [::1], is told its address", "nc ::1 "+c.Port(), func() error {
		err := told(c, v6, "the IPv6 client")
		if err != nil && strings.Contains(err.Error(), "nothing listens") {
			return fmt.Errorf("%v: `localhost` means ::1 as well as 127.0.0.1, and many clients try ::1 first. Listen on the IPv6 loopback too: a second socket, "+
				"syscall.Socket(syscall.AF_INET6, …), bound to &syscall.SockaddrInet6{Port: %s, Addr: [16]byte{15: 1}}, and serve both listeners at once", err, c.Port())
		}
		return err
	})
	c.TraceStep("the IPv6 socket was made IPv6-only before its bind", func(t kit.Trace) error {
		b := t.Last(func(e native.TraceEntry) bool {
			return kit.BoundTo(c.PortNumber())(e) && e.Call.Addr.Addr().Is6() && !e.Call.Addr.Addr().Is4In6()
		})
		if b < 0 {
			return t.Errorf("expected a bind of an IPv6 socket to [::1]:%s, found none", c.Port())
		}
		fd := t[b].Call.FD
		for j := b - 1; j > t.Origin(b, fd); j-- {
			e := t[j]
			if e.Call.FD == fd && e.Call.Op == wire.OpSetsockopt && e.Call.Level == "IPPROTO_IPV6" && e.Call.Option == "IPV6_V6ONLY" && e.Call.Value == 1 && !e.Result.Failed() {
				return nil
			}
		}
		return t.Errorf("expected setsockopt(%d, IPPROTO_IPV6, IPV6_V6ONLY, 1) before %s, found none. On ::1 the kernel makes the socket IPv6-only by itself (`ss -ltne` shows v6only:1), "+
			"but on :: it would not, and the socket would claim the IPv4 port too: say what the socket is for, as Go's net package does for every IPv6 socket it makes — "+
			"syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1) before bind", fd, kit.Line(t[b]))
	})
	const listeners = "two listeners, on 127.0.0.1 and [::1]; none on every address"
	if _, err := kit.PortSockets(c.PortNumber()); err != nil {
		c.Skip(listeners, "skipped: the kernel's table of sockets is not readable here ("+err.Error()+"); `ss -ltne` shows it")
		return
	}
	c.Step(listeners, "ss -ltne 'sport = :"+c.Port()+"'", func() error {
		all, err := kit.PortSockets(c.PortNumber())
		if err != nil {
			return err
		}
		var v4, v6 *kit.Socket
		for i, s := range all {
			if s.State != "LISTEN" {
				continue
			}
			a := s.Local.Addr()
			switch {
			case a.IsUnspecified() && a.Is6() && s.V6OnlyKnown && !s.V6Only:
				return fmt.Errorf("a socket listens on %s with IPV6_V6ONLY off: both families, on every address of this machine, each network it is on — open to other machines. "+
					"Bind the loopback addresses, 127.0.0.1 and ::1, which only this machine can reach (in the playground the bridge refuses any other unless started with --allow-external)", s.Local)
			case a.IsUnspecified():
				return fmt.Errorf("a socket listens on %s: every address of this machine, each network it is on — open to other machines. "+
					"Bind the loopback addresses, 127.0.0.1 and ::1, which only this machine can reach (in the playground the bridge refuses any other unless started with --allow-external)", s.Local)
			case a.Is4():
				v4 = &all[i]
			case a.Is6():
				v6 = &all[i]
			}
		}
		switch {
		case v4 == nil:
			return fmt.Errorf("found no listener on 127.0.0.1:%s", c.Port())
		case v6 == nil:
			return fmt.Errorf("found no listener on [::1]:%s", c.Port())
		}
		return nil
	})
}

// told connects to addr, expects the line "you are ADDR" with the client's
// own address, and the connection closed.
func told(c *kit.C, addr, name string) error {
	k, err := c.ClientTo(addr, name)
	if err != nil {
		return err
	}
	defer k.Close()
	want := "you are " + k.LocalAddr().String()
	got, err := k.Line(`the line "you are …"`)
	if err != nil {
		return fmt.Errorf("%v (expected %q)", err, want)
	}
	if got != want {
		if strings.Contains(got, "::ffff:") {
			return fmt.Errorf("expected %q, got %q: the server saw this IPv4 client as an IPv4 address mapped into IPv6. That is what an IPv6 socket with IPV6_V6ONLY off, bound to ::, does: it takes both families — and listens on every address, open to other machines. "+
				"Use two sockets instead, on 127.0.0.1 and on ::1, the IPv6 one IPv6-only", want, got)
		}
		return fmt.Errorf("%s: expected %q, got %q", name, want, got)
	}
	return k.ExpectEOF("the server to close the connection after that line")
}
