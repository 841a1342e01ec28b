package kit

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// UDP probing, for a server of datagrams: no connection to wait for, so
// "is it there?" is a datagram that gets an answer, and "nothing there" is
// the kernel's port unreachable (ECONNREFUSED on the client's next read) or
// silence.

// MaxDatagram is the most a UDP datagram carries over IPv4: 65,535 bytes
// less the IP and UDP headers.
const MaxDatagram = 65507

// Datagrams is a UDP client socket connected to the server under test: it
// sends there, and receives only what comes from there.
type Datagrams struct {
	conn *net.UDPConn
	name string
}

// UDPClient makes a client of the server under test, named for messages
// ("client 2"). It is closed by Close.
func (c *C) UDPClient(name string) (*Datagrams, error) {
	addr, err := net.ResolveUDPAddr("udp", c.target.Addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.deadlineOnCancel(conn)
	return &Datagrams{conn: conn, name: name}, nil
}

// Name is how messages name the client.
func (d *Datagrams) Name() string { return d.name }

// Addr is the client's own address, where the server must answer.
func (d *Datagrams) Addr() string { return d.conn.LocalAddr().String() }

// Close closes the client's socket.
func (d *Datagrams) Close() error { return d.conn.Close() }

// Send sends p as one datagram.
func (d *Datagrams) Send(p []byte) error {
	d.conn.SetWriteDeadline(time.Now().Add(ReplyWait))
	if _, err := d.conn.Write(p); err != nil {
		return fmt.Errorf("%s could not send a datagram of %d bytes: %v", d.name, len(p), err)
	}
	return nil
}

// ErrNoAnswer is what Receive returns, wrapped, when nothing came in time.
var ErrNoAnswer = errors.New("nothing came")

// ErrUnreachable is what Receive returns, wrapped, when the kernel said
// that no socket is bound to the server's port.
var ErrUnreachable = errors.New("the kernel answered instead that no socket is bound to that UDP port")

// Receive reads one datagram, whole, waiting at most wait. what names it
// for the error: "the answer to datagram 2".
func (d *Datagrams) Receive(what string, wait time.Duration) ([]byte, error) {
	buf := make([]byte, MaxDatagram+1)
	d.conn.SetReadDeadline(time.Now().Add(wait))
	n, err := d.conn.Read(buf)
	switch {
	case err == nil:
		return buf[:n], nil
	case isTimeout(err):
		return nil, fmt.Errorf("%s waited %s for %s: %w", d.name, wait, what, ErrNoAnswer)
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("%s waited for %s: %w", d.name, what, ErrUnreachable)
	}
	return nil, fmt.Errorf("%s waited for %s: %v", d.name, what, err)
}

// WaitUDP waits, for at most StartWait, until the server answers a
// datagram, sending a new one (probe, on a socket of its own) every so
// often while it starts. It explains why when none comes: from the trace,
// the bind that failed or the datagram read and never answered; natively,
// a TCP listener on the port, which does not hear datagrams.
func (c *C) WaitUDP(probe []byte) error {
	d, err := c.UDPClient("the first client")
	if err != nil {
		return err
	}
	defer d.Close()
	deadline := time.Now().Add(StartWait)
	unreachable := false
	for {
		if err := d.Send(probe); err != nil {
			return err
		}
		got, err := d.Receive("an answer", 200*time.Millisecond)
		switch {
		case err == nil && string(got) == string(probe):
			return nil
		case err == nil:
			return fmt.Errorf("sent the datagram %q to %s: expected it back, got %q", probe, c.target.Addr, got)
		case errors.Is(err, ErrUnreachable):
			unreachable = true
		case !errors.Is(err, ErrNoAnswer):
			return err
		}
		if c.ctx.Err() != nil {
			return fmt.Errorf("waiting for an answer from %s: the check was cancelled", c.target.Addr)
		}
		if time.Now().After(deadline) {
			return c.notAnswering(probe, unreachable)
		}
	}
}

// notAnswering says why no datagram came back.
func (c *C) notAnswering(probe []byte, unreachable bool) error {
	msg := fmt.Sprintf("sent the datagram %q to %s (UDP) for %s, and nothing came back", probe, c.target.Addr, StartWait)
	if unreachable {
		msg += " — the kernel said no socket is bound to that UDP port"
	}
	if t := c.Trace(); c.HasTrace() {
		if why := t.WhyNoAnswer(c.PortNumber()); why != "" {
			return fmt.Errorf("%s: %s", msg, why)
		}
	}
	if _, found, err := Listening(c.Host(), c.PortNumber()); err == nil && found {
		return fmt.Errorf("%s: a TCP socket listens on port %d, but a datagram goes to UDP port %d, another port altogether: make the socket with syscall.SOCK_DGRAM, bind it, and answer with sendto", msg, c.PortNumber(), c.PortNumber())
	}
	return fmt.Errorf("%s (did the program start? does it bind a SOCK_DGRAM socket to this port, and answer each datagram with sendto?)", msg)
}

// WhyNoAnswer explains, from the trace, why a server of datagrams on port
// did not answer: it never bound it, its bind failed, the socket is a TCP
// one, or it read the datagram and sent nothing back. "" when the trace
// shows nothing wrong.
func (t Trace) WhyNoAnswer(port int) string {
	if len(t) == 0 {
		return "your program has made no system call yet (did it start? see its output)"
	}
	b := t.Last(func(e native.TraceEntry) bool { return e.Call.Op == wire.OpBind && int(e.Call.Addr.Port()) == port })
	if b < 0 {
		return fmt.Sprintf("your program never bound port %d: expected bind(N, 127.0.0.1:%d) in the trace", port, port)
	}
	if t[b].Result.Failed() {
		return failed(t[b]) + ": " + explainFailure(t[b], port)
	}
	fd := t[b].Call.FD
	if o := t.Origin(b, fd); o >= 0 && t[o].Call.Type != "SOCK_DGRAM" {
		return fmt.Sprintf("%s made a %s socket, a TCP one: datagrams need syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)", Line(t[o]), t[o].Call.Type)
	}
	for j := len(t) - 1; j > b; j-- {
		e := t[j]
		if e.Call.FD != fd || e.Result.Failed() {
			continue
		}
		switch e.Call.Op {
		case wire.OpRecvfrom, wire.OpRead:
			return fmt.Sprintf("your program read the datagram (%s) and sent nothing back: answer it with syscall.Sendto(fd, data, 0, from), to the address recvfrom returned", Line(e))
		case wire.OpSendto, wire.OpWrite:
			return ""
		}
	}
	return ""
}
