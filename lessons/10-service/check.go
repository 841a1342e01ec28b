// Package service checks lesson 10: service names are answered with the
// ports of the services database, looked up with LookupPort; what is not a
// name (an empty line, a number) is answered "unknown".
package service

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	telnet "github.com/sockstep/sockstep/lessons/07-telnet"
	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// wellKnown are names every services database has (Go's own fallback table
// included): the names asked when the host's database cannot be read.
var wellKnown = []string{"ftp", "ssh", "telnet", "smtp", "http", "https", "pop3", "imaps"}

// servicesFile is the host's services database, which Go's LookupPort reads.
const servicesFile = "/etc/services"

// Check is lesson 10's checker.
func Check(c *kit.C) {
	// Names drawn from the host's own database, different every run: a
	// table written into the program cannot know them all.
	all := dbNames()
	c.Rand().Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var names []string
	for _, name := range all {
		if len(names) < 4 && Answer(name) != "unknown" {
			names = append(names, name)
		}
	}
	for len(names) < 4 { // a database without four TCP names: ask the well-known ones
		names = append(names, wellKnown[len(names)])
	}
	made := "nosuch-" + c.Word()
	number := strconv.Itoa(1024 + c.Rand().IntN(60000))

	var k *kit.Conn
	c.Step("a client connects", c.NC(), func() error {
		var err error
		k, err = c.Client("the client")
		return err
	})
	defer k.Close()
	for _, name := range []string{names[0], names[1], made} {
		ask(c, k, name)
	}
	ask(c, k, number)
	ask(c, k, "")
	telnet.Split(c, k, names[2], names[3], Answer)

	c.TraceStep("the names were looked up with LookupPort", func(t kit.Trace) error {
		for _, name := range names {
			if t.Last(func(e native.TraceEntry) bool { return e.Call.Op == wire.OpLookupPort && e.Call.Name == name }) < 0 {
				return t.Errorf("expected lookupport(\"tcp\", %q) in the trace, found none: use net.LookupPort rather than a table of your own", name)
			}
		}
		return nil
	})
}

// ask sends one line and expects its answer.
func ask(c *kit.C, k *kit.Conn, name string) {
	want := Answer(name)
	what := fmt.Sprintf("%q is answered %q", name, want)
	switch {
	case name == "":
		what = fmt.Sprintf("an empty line is answered %q", want)
	case isNumber(name):
		what = fmt.Sprintf("%q, a number and not a name, is answered %q", name, want)
	}
	c.Step(what, fmt.Sprintf("printf '%s\\n' | %s", name, c.NCN()), func() error {
		if err := k.Send(name + "\n"); err != nil {
			return err
		}
		got, err := k.Line(fmt.Sprintf("the answer to %q", name))
		if err != nil {
			return fmt.Errorf("%v (expected %q)", err, want)
		}
		if got == want {
			return nil
		}
		var source string
		switch {
		case name == "":
			source = "an empty line names no service"
		case isNumber(name):
			source = "a number is not a service name: getservbyname finds none, although Go's net.LookupPort returns the number itself; answer unknown without looking it up"
		case want == "unknown":
			source = "it is not in the services database"
		default:
			source = fmt.Sprintf("the services database says %s: grep -w %s %s", want, name, servicesFile)
		}
		return fmt.Errorf("asked for the port of %q: expected %q (%s), got %q", name, want, source, got)
	})
}

// Answer is the protocol's answer to a line: the port of the service it
// names, or "unknown".
func Answer(name string) string {
	if name == "" || isNumber(name) {
		return "unknown"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	port, err := net.DefaultResolver.LookupPort(ctx, "tcp", name)
	if err != nil {
		return "unknown"
	}
	return strconv.Itoa(port)
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// dbNames are the names of TCP services in the host's database, or
// wellKnown when it cannot be read.
func dbNames() []string {
	f, err := os.Open(servicesFile)
	if err != nil {
		return slices.Clone(wellKnown)
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.HasSuffix(fields[1], "/tcp") {
			continue
		}
		name := fields[0]
		if seen[name] || !plain(name) {
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	if len(out) < len(wellKnown) {
		return slices.Clone(wellKnown)
	}
	return out
}

// plain: lower-case letters, digits and dashes, and not a number, so that
// any lookup reads it the same way.
func plain(name string) bool {
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return len(name) >= 2 && !isNumber(name)
}
