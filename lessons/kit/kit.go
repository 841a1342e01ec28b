// Package kit is what every lesson's checker is written with: steps that
// report one by one, real TCP clients that retry while the server starts and
// say what they waited for, questions about the session's call trace, and
// the kernel's own view of the port under test (sockets.go), which needs no
// trace, and the program's process, to signal (process.go).
//
// A check must leave nothing behind that changes the next run: its clients
// reset a connection the server closed first, rather than leave the
// server's end in TIME_WAIT, where it would stop a program without
// SO_REUSEADDR from binding its port for a minute (Conn.Close). And when
// nothing listens, it says why — the failed bind or listen from the trace,
// or what lingers on the port — rather than a bare "connection refused".
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
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockstep/sockstep/native"
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
	// Process is the program's process where the check can reach it (its
	// runner in the playground); nil natively, where Signal looks for it.
	Process Process
	// Seed fixes the check's random choices — words, sizes, where writes
	// are cut —, so that a failure can be replayed; 0 draws a new seed.
	Seed uint64
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
	seed    uint64
	// signalled is the native process Signal signalled, which WaitEnded
	// watches.
	signalled int
}

// Run runs check against target and sends each step to steps as it
// finishes; it reports whether every step passed. It does not close steps.
func Run(ctx context.Context, target Target, check func(*C), steps chan<- Step) bool {
	seed := target.Seed
	for seed == 0 {
		seed = rand.Uint64()
	}
	c := &C{ctx: ctx, target: target, steps: steps, seed: seed, rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
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

// NC is the nc command that talks to the server under test, for typing
// into.
func (c *C) NC() string { return "nc " + c.Host() + " " + c.Port() }

// NCN is the nc command for input that ends (a pipe, or Ctrl-D): -N has
// netcat-openbsd, the nc of Debian and Ubuntu, close its sending side at the
// end of its input, so the server's read returns 0. Without it nc keeps the
// connection open and both sides wait for ever.
func (c *C) NCN() string { return "nc -N " + c.Host() + " " + c.Port() }

// PortNumber is the port under test as a number.
func (c *C) PortNumber() int { p, _ := strconv.Atoi(c.Port()); return p }

// Rand is this check's own random source: inputs change every run, so an
// answer cannot be written into the program.
func (c *C) Rand() *rand.Rand { return c.rand }

// Seed is the seed of Rand: the same seed (Target.Seed, or `sockstep check
// --seed`) makes the same choices again.
func (c *C) Seed() uint64 { return c.seed }

// Skip reports a step that cannot be checked here, with why.
func (c *C) Skip(name, why string) {
	c.report(Step{Name: name, OK: true, Skipped: true, Message: why})
}

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
		c.Skip(name, NoTrace)
		return
	}
	c.Step(name, "", func() error {
		// The server may answer a client a moment before its call is in
		// the trace (a close is recorded when it returns): ask again for a
		// little while before failing. A program the page has just started
		// (lessons 1 and 2 have no server to wait for) may not have made
		// its first call yet: while the trace is empty, wait as long as for
		// a server to start. The little while counts from the newest call,
		// not from the check's start: a slow engine (the page's, in a slow
		// browser) may make its first call seconds after the check began,
		// and its next a moment later.
		start := time.Now()
		seen, changed := 0, start
		for {
			t := Trace(c.target.Trace())
			err := f(t)
			if len(t) != seen {
				seen, changed = len(t), time.Now()
			}
			waited := time.Since(changed) > traceWait
			if len(t) == 0 {
				waited = time.Since(start) > StartWait
			}
			if err == nil || waited || time.Since(start) > StartWait+traceWait || c.ctx.Err() != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// traceWait bounds how long a trace step waits for the calls it looks for
// after the program's newest call.
const traceWait = time.Second

// Trace is the session's trace now, or nil outside the playground.
func (c *C) Trace() Trace {
	if !c.HasTrace() {
		return nil
	}
	return Trace(c.target.Trace())
}

// Dial connects to the server, retrying while nothing listens yet (the
// program may still be starting), for at most StartWait.
func (c *C) Dial() (net.Conn, error) { return c.dial(c.target.Addr) }

// dial connects to addr, retrying while nothing listens yet, for at most
// StartWait.
func (c *C) dial(addr string) (net.Conn, error) {
	deadline := time.Now().Add(StartWait)
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	var d net.Dialer
	refused := false
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
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
			return nil, fmt.Errorf("connect to %s: the check was cancelled", addr)
		case expired && refused && addr == c.target.Addr:
			return nil, c.NotListening()
		case expired && refused:
			return nil, fmt.Errorf("nothing listens on %s: connections were refused for %s", addr, StartWait)
		case expired:
			return nil, fmt.Errorf("waited %s to connect to %s: the kernel did not complete the connection (is the listen queue full?)", StartWait, addr)
		case !retry:
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// NotListening explains why nothing listens on the address under test: from
// the trace, the call that failed or the one that is missing (the errno,
// what it means, what to do); natively, what the kernel still holds on the
// port.
func (c *C) NotListening() error {
	msg := fmt.Sprintf("nothing listens on %s: connections were refused for %s", c.target.Addr, StartWait)
	if t := c.Trace(); c.HasTrace() {
		if why := t.WhyNotListening(c.PortNumber()); why != "" {
			return fmt.Errorf("%s: %s", msg, why)
		}
	}
	if why := lingering(c.PortNumber()); why != "" {
		return fmt.Errorf("%s; %s", msg, why)
	}
	return fmt.Errorf("%s (did the program start? does it bind this port and call listen? did it end?)", msg)
}

// WaitListening waits, for at most StartWait, until a socket listens on the
// address under test, without connecting to it (a connection would take a
// place in its queue), and returns it. ok is false when the kernel's view
// is not available here: the caller must connect to find out.
func (c *C) WaitListening() (s Socket, ok bool, err error) {
	deadline := time.Now().Add(StartWait)
	for {
		s, found, err := Listening(c.Host(), c.PortNumber())
		switch {
		case err != nil:
			return Socket{}, false, nil
		case found:
			return s, true, nil
		case c.ctx.Err() != nil:
			return Socket{}, true, fmt.Errorf("waiting for %s to listen: the check was cancelled", c.target.Addr)
		case time.Now().After(deadline):
			return Socket{}, true, c.NotListening()
		}
		time.Sleep(50 * time.Millisecond)
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
	// serverClosed: a read met the end of the stream or a reset; the
	// server's end is closed.
	serverClosed bool
}

// Close ends the client's connection, and leaves nothing on the server's
// port. When the server closed first (it said goodbye, or was told to), a
// plain close from the client would put the server's end in TIME_WAIT for
// 60 s, and a server started again meanwhile without SO_REUSEADDR could not
// bind its port: the next Check of a fixed program would fail for a reason
// that is not in it. So the client then resets the connection, which ends
// the server's end at once. Otherwise — the server still talks — it closes
// as nc does, and the server reads 0.
func (k *Conn) Close() error {
	if !k.serverClosed {
		k.drain()
	}
	if k.serverClosed {
		return Abort(k.Conn)
	}
	return k.Conn.Close()
}

// drain reads, without waiting, what has arrived, to learn whether the
// server's end of stream is among it.
func (k *Conn) drain() {
	for range 64 {
		k.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := k.r.Discard(k.r.Buffered() + 1)
		if err != nil {
			k.sawEnd(err)
			return
		}
	}
}

// sawEnd notes a read's error: an end of stream or a reset closes the
// server's end.
func (k *Conn) sawEnd(err error) {
	k.lastErr = err
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		k.serverClosed = true
	}
}

// Abort closes conn with a reset (SO_LINGER 0) rather than a FIN: nothing of
// the connection stays behind on either side.
func Abort(conn net.Conn) error {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return conn.Close()
}

// Client connects (see Dial) and names the client for messages.
func (c *C) Client(name string) (*Conn, error) {
	conn, err := c.Dial()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: conn, r: bufio.NewReader(conn), name: name}, nil
}

// ClientTo connects to addr rather than the address under test (see
// Dial): the same server on another of its addresses.
func (c *C) ClientTo(addr, name string) (*Conn, error) {
	conn, err := c.dial(addr)
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: conn, r: bufio.NewReader(conn), name: name}, nil
}

// Reader is the client's buffered reader: read through it, not the
// connection, so that nothing already buffered is lost.
func (k *Conn) Reader() *bufio.Reader { return k.r }

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
	k.sawEnd(err)
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
	k.sawEnd(err)
	switch {
	case err == nil || (rest != "" && !isTimeout(err)):
		return fmt.Errorf("%s expected %s, but got more data first: %q", k.name, what, rest)
	case isTimeout(err):
		return fmt.Errorf("%s waited %s for %s; the connection stayed open", k.name, ReplyWait, what)
	}
	return nil // io.EOF or a reset: closed
}

// StillOpen checks that the server has not closed the connection on a
// client that has not left: it waits a moment (stillOpenWait) for an end of
// stream that should not come. A server that is right never fails it; one
// that closes after a fixed number of lines is caught when its close
// follows its last answer within that moment, as it does on loopback.
// when says what the client has just done, for the error.
func (k *Conn) StillOpen(when string) error {
	k.SetReadDeadline(time.Now().Add(stillOpenWait))
	_, err := k.r.Peek(1)
	if err == nil || isTimeout(err) {
		return nil // open: quiet, or more to read, which the next step judges
	}
	k.sawEnd(err)
	return fmt.Errorf("%s: the server closed the connection although %s had not left (%v); close a client's socket when its read returns 0, not after a number of lines", when, k.name, err)
}

// stillOpenWait is how long StillOpen listens for a close.
const stillOpenWait = 200 * time.Millisecond

// Early reports whether the server has sent something, or closed, within
// wait: for a probe that expects silence, such as a request not yet
// complete. It reads nothing away.
func (k *Conn) Early(wait time.Duration) (string, bool) {
	k.SetReadDeadline(time.Now().Add(wait))
	_, err := k.r.Peek(1)
	switch {
	case err == nil:
		b, _ := k.r.Peek(k.r.Buffered())
		return string(b), true
	case isTimeout(err):
		return "", false
	}
	k.sawEnd(err)
	return "", true
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
		Abort(conn)
		if time.Now().After(deadline) || c.ctx.Err() != nil {
			return fmt.Errorf("%s still accepts connections %s later: the listener was not closed", c.target.Addr, StartWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
