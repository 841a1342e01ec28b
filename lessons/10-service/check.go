// Package service checks lesson 10: service names are answered with the
// ports of the services database, looked up with LookupPort.
package service

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"sockstep/lessons/kit"
	"sockstep/native"
	"sockstep/native/wire"
)

// wellKnown are names every services database has (Go's own fallback table
// included), so the checker can ask them on any machine.
var wellKnown = []string{"ftp", "ssh", "telnet", "smtp", "http", "https", "pop3", "imaps"}

// Check is lesson 10's checker.
func Check(c *kit.C) {
	names := slices.Clone(wellKnown)
	c.Rand().Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	names = names[:3]
	made := "nosuch-" + c.Word()

	var k *kit.Conn
	c.Step("a client connects", c.NC(), func() error {
		var err error
		k, err = c.Client("the client")
		return err
	})
	defer k.Close()
	for _, name := range append(names, made) {
		want := "unknown"
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if port, err := net.DefaultResolver.LookupPort(ctx, "tcp", name); err == nil {
			want = strconv.Itoa(port)
		}
		cancel()
		c.Step(fmt.Sprintf("%q is answered %q", name, want), fmt.Sprintf("printf '%s\\n' | %s", name, c.NC()), func() error {
			if err := k.Send(name + "\n"); err != nil {
				return err
			}
			got, err := k.Line(fmt.Sprintf("the port of %q", name))
			if err != nil {
				return fmt.Errorf("%v (expected %q)", err, want)
			}
			if got != want {
				source := "the services database says " + want
				if want == "unknown" {
					source = "it is not in the services database"
				}
				return fmt.Errorf("asked for the port of %q: expected %q (%s), got %q", name, want, source, got)
			}
			return nil
		})
	}
	c.TraceStep("the names were looked up with LookupPort", func(t kit.Trace) error {
		for _, name := range names {
			if t.Last(func(e native.TraceEntry) bool { return e.Call.Op == wire.OpLookupPort && e.Call.Name == name }) < 0 {
				return t.Errorf("expected lookupport(\"tcp\", %q) in the trace, found none: use net.LookupPort rather than a table of your own", name)
			}
		}
		return nil
	})
}
