// Package kit is what every lesson's checker is written with: steps that
// report one by one, real TCP clients that retry while the server starts and
// say what they waited for, and questions about the session's call trace.
//
// A checker is a plain function of a *C. It runs its steps in order and
// stops at the first that fails: later steps usually need the earlier ones
// (no point asking for an answer from a server that does not listen).
package kit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"sockstep/native"
)

// Step is one line of a check's checklist, as the page and `sockstep check`
// show it.
type Step struct {
	Name      string `json:"step"`                // what was checked, in a few words
	OK        bool   `json:"ok"`                  // passed (or skipped)
	Skipped   bool   `json:"skipped,omitempty"`   // not checked here: no trace outside the playground
	Message   string `json:"message"`             // what was expected and what came
	Reproduce string `json:"reproduce,omitempty"` // an nc or curl command that does the same
}

// Target is what a checker tests.
type Target struct {
	Addr string // host:port the learner's server should listen on
	// Trace returns the session's calls so far, oldest first; nil when the
	// program runs natively and there is no trace.
	Trace func() []native.TraceEntry
}

// NoTrace is the message of a trace step outside the playground.
const NoTrace = "skipped: no trace outside the playground"

// Timeouts. Each wait says what it waited for when it runs out.
const (
	// StartWait is how long a checker retries connecting while the server starts.
	StartWait = 5 * time.Second
	// ReplyWait is how long a client waits for one answer.
	ReplyWait = 3 * time.Second
)

// C runs one check.
type C struct {
	ctx     context.Context
	target  Target
	steps   chan<- Step
	failed  bool
	checked int // steps that ran (not skipped)
	rand    *rand.Rand
}

// Run runs check against target and sends each step to steps as it
// finishes; it reports whether every step passed. It does not close steps.
func Run(ctx context.Context, target Target, check func(*C), steps chan<- Step) bool {
	c := &C{ctx: ctx, target: target, steps: steps, rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	func() {
		defer func() {
			if v := recover(); v != nil && v != errStop {
				panic(v)
			}
		}()
		check(c)
	}()
	switch {
	case ctx.Err() != nil && !c.failed:
		c.report(Step{Name: "finish the check", Message: "the check was cancelled before it finished: " + ctx.Err().Error()})
	case !c.failed && c.checked == 0:
		c.report(Step{Name: "check something", Message: NothingChecked})
	}
	return !c.failed
}

// NothingChecked is the failure of a check whose every step was skipped: a
// lesson with no server to connect to, checked outside the playground.
const NothingChecked = "nothing could be checked: this lesson has no server to connect to, and its steps read the playground's trace; run the program in the playground and check it there"

// errStop unwinds a checker after its first failed step.
var errStop = errors.New("stop")

func (c *C) report(s Step) {
	if !s.OK {
		c.failed = true
	}
	if !s.Skipped {
		c.checked++
	}
	select {
	case c.steps <- s:
	case <-c.ctx.Done():
	}
}

// Addr is the address under test.
func (c *C) Addr() string { return c.target.Addr }

// Host and Port split Addr, for messages and nc commands.
func (c *C) Host() string { h, _, _ := net.SplitHostPort(c.target.Addr); return h }
func (c *C) Port() string { _, p, _ := net.SplitHostPort(c.target.Addr); return p }

// NC is the nc command that talks to the server under test.
func (c *C) NC() string { return "nc " + c.Host() + " " + c.Port() }

// Rand is this check's own random source: inputs change every run, so an
// answer cannot be written into the program.
func (c *C) Rand() *rand.Rand { return c.rand }

// Word is a random lower-case word of 5 to 8 letters.
func (c *C) Word() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 5+c.rand.IntN(4))
	for i := range b {
		b[i] = letters[c.rand.IntN(len(letters))]
	}
	return string(b)
}

// Step runs one step: f returns nil for a pass, or an error whose text says
// what was expected and what came. A failure ends the check.
func (c *C) Step(name, reproduce string, f func() error) {
	if c.ctx.Err() != nil {
		c.report(Step{Name: name, Message: "the check was cancelled: " + c.ctx.Err().Error(), Reproduce: reproduce})
		panic(errStop)
	}
	if err := f(); err != nil {
		c.report(Step{Name: name, Message: err.Error(), Reproduce: reproduce})
		panic(errStop)
	}
	c.report(Step{Name: name, OK: true, Message: "ok", Reproduce: reproduce})
}

// Passf reports a passing step with a message of its own.
func (c *C) Passf(name, format string, args ...any) {
	c.report(Step{Name: name, OK: true, Message: fmt.Sprintf(format, args...)})
}

// HasTrace says whether trace steps can be checked.
func (c *C) HasTrace() bool { return c.target.Trace != nil }

// TraceStep checks the session's trace, or reports the step skipped when
// there is none. The trace is read when the step runs, so it holds the
// calls the checker's own clients caused.
func (c *C) TraceStep(name string, f func(Trace) error) {
	if !c.HasTrace() {
		c.report(Step{Name: name, OK: true, Skipped: true, Message: NoTrace})
		return
	}
	c.Step(name, "", func() error {
		// The server may answer a client a moment before its call is in
		// the trace (a close is recorded when it returns): ask again for a
		// little while before failing.
		deadline := time.Now().Add(traceWait)
		for {
			err := f(Trace(c.target.Trace()))
			if err == nil || time.Now().After(deadline) || c.ctx.Err() != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// traceWait bounds how long a trace step waits for the calls it looks for.
const traceWait = time.Second

// Dial connects to the server, retrying while nothing listens yet (the
// program may still be starting), for at most StartWait.
func (c *C) Dial() (net.Conn, error) {
	deadline := time.Now().Add(StartWait)
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	var d net.Dialer
	refused := false
	for {
		conn, err := d.DialContext(ctx, "tcp", c.target.Addr)
		if err == nil {
			c.deadlineOnCancel(conn)
			return conn, nil
		}
		// Refused: nothing listens yet. Reset: a listener closed as we
		// came (a server restarting). Both may pass: try again.
		retry := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
		refused = refused || retry
		expired := ctx.Err() != nil || !time.Now().Before(deadline)
		switch {
		case c.ctx.Err() != nil:
			return nil, fmt.Errorf("connect to %s: the check was cancelled", c.target.Addr)
		case expired && refused:
			return nil, fmt.Errorf("nothing listens on %s: connections were refused for %s (did the program start, and does it call listen? did it exit?)", c.target.Addr, StartWait)
		case expired:
			return nil, fmt.Errorf("waited %s to connect to %s: the kernel did not complete the connection (is the listen queue full?)", StartWait, c.target.Addr)
		case !retry:
			return nil, fmt.Errorf("connect to %s: %w", c.target.Addr, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// deadlineOnCancel wakes any read or write on conn when the check is
// cancelled, and closes nothing: the caller owns conn.
func (c *C) deadlineOnCancel(conn net.Conn) {
	context.AfterFunc(c.ctx, func() { conn.SetDeadline(time.Now()) })
}

// Conn is a client connection with a line reader.
type Conn struct {
	net.Conn
	r       *bufio.Reader
	name    string // "the client", "client 2 of 3": how messages name it
	lastErr error  // of the last read
}

// Client connects (see Dial) and names the client for messages.
func (c *C) Client(name string) (*Conn, error) {
	conn, err := c.Dial()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: conn, r: bufio.NewReader(conn), name: name}, nil
}

// Name is how messages name the client.
func (k *Conn) Name() string { return k.name }

// CloseWrite closes the client's sending side, as Ctrl-D in nc does: the
// server's next read returns 0.
func (k *Conn) CloseWrite() error {
	if tc, ok := k.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return k.Conn.Close()
}

// Send writes s, all of it.
func (k *Conn) Send(s string) error {
	k.SetWriteDeadline(time.Now().Add(ReplyWait))
	if _, err := k.Write([]byte(s)); err != nil {
		return fmt.Errorf("%s could not send %q: %v", k.name, s, err)
	}
	return nil
}

// Reset reports whether the last read failed because the server reset
// the connection (it closed it unread, or its listener closed with the
// connection still queued).
func (k *Conn) Reset() bool { return errors.Is(k.lastErr, syscall.ECONNRESET) }

// Line reads one line, without its "\n" (and "\r"), waiting at most
// ReplyWait. what names the line for the error: "the greeting".
func (k *Conn) Line(what string) (string, error) {
	k.SetReadDeadline(time.Now().Add(ReplyWait))
	line, err := k.r.ReadString('\n')
	k.lastErr = err
	switch {
	case err == nil:
		// Exactly one line ending, "\n" or "\r\n": a stray "\r" left in
		// the answer is a bug the learner should see.
		return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
	case isTimeout(err) && line == "":
		return "", fmt.Errorf("%s waited %s for %s and nothing came", k.name, ReplyWait, what)
	case isTimeout(err):
		return "", fmt.Errorf("%s waited %s for %s: got %q but no end of line (\\n)", k.name, ReplyWait, what, line)
	case line == "":
		return "", fmt.Errorf("%s waited for %s, but the server closed the connection (%v)", k.name, what, err)
	default:
		return "", fmt.Errorf("%s waited for %s: got %q, then the server closed the connection before the end of line", k.name, what, line)
	}
}

// Expect reads one line and compares it with want.
func (k *Conn) Expect(what, want string) error {
	got, err := k.Line(what)
	if err != nil {
		return fmt.Errorf("%s (expected %q)", err, want)
	}
	if got != want {
		return fmt.Errorf("%s: expected %q, got %q", what, want, got)
	}
	return nil
}

// ExpectEOF waits for the server to close the connection.
func (k *Conn) ExpectEOF(what string) error {
	k.SetReadDeadline(time.Now().Add(ReplyWait))
	rest, err := k.r.ReadString(0)
	switch {
	case err == nil || (rest != "" && !isTimeout(err)):
		return fmt.Errorf("%s expected %s, but got more data first: %q", k.name, what, rest)
	case isTimeout(err):
		return fmt.Errorf("%s waited %s for %s; the connection stayed open", k.name, ReplyWait, what)
	}
	return nil // io.EOF or a reset: closed
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Closed waits until connecting to the server is refused, for at most
// StartWait: the program closed its listener (or ended).
func (c *C) Closed() error {
	deadline := time.Now().Add(StartWait)
	for {
		conn, err := net.DialTimeout("tcp", c.target.Addr, time.Second)
		if err != nil {
			return nil
		}
		conn.Close()
		if time.Now().After(deadline) || c.ctx.Err() != nil {
			return fmt.Errorf("%s still accepts connections %s later: the listener was not closed", c.target.Addr, StartWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
