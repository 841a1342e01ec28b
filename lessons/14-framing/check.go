// Package framing checks lesson 14: framed messages however the stream
// cuts them — pipelined, split inside a length, merged across messages, one
// larger than any single read —, a length past the limit refused, and
// clients that reset their connection (in the middle of a message, and
// while the server writes) ending only their own conversation. All cuts
// come from the check's seed, which every failure names, so that `sockstep
// check 14 --seed S` cuts the stream the same way again.
package framing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockstep/sockstep/lessons/kit"
	"github.com/sockstep/sockstep/native/wire"
)

// MaxMessage is the protocol's limit: a longer message is refused.
const MaxMessage = 8 << 20

// pause lets each write arrive in a read of its own.
const pause = 40 * time.Millisecond

// bigWait bounds the wait for the answer to a large message: the
// playground's interpreter reverses a few MiB in about a second, more on a
// busy machine.
const bigWait = 20 * time.Second

// Frame is a message as the protocol sends it: its length, 4 bytes big
// endian, then its bytes.
func Frame(msg []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(msg)), uint32(len(msg)))
	return append(out, msg...)
}

// Reverse is the answer to a message: its bytes backwards.
func Reverse(msg []byte) []byte {
	out := make([]byte, len(msg))
	for i, b := range msg {
		out[len(msg)-1-i] = b
	}
	return out
}

// Check is lesson 14's checker.
func Check(c *kit.C) {
	seed := fmt.Sprintf(" [seed %d: `sockstep check 14 --seed %d` makes the same messages and cuts]", c.Seed(), c.Seed())
	step := func(name, reproduce string, f func() error) {
		c.Step(name, reproduce, func() error {
			if err := f(); err != nil {
				return errors.New(err.Error() + seed)
			}
			return nil
		})
	}
	var k *kit.Conn
	step("a client connects", c.NC(), func() error {
		var err error
		k, err = c.Client("client 1")
		return err
	})
	defer k.Close()

	first := []byte(c.Word() + "\n" + c.Word())
	step(fmt.Sprintf("one message, %q, in one write, is answered with its bytes reversed", first), printf(c, first), func() error {
		if err := k.Send(string(Frame(first))); err != nil {
			return err
		}
		return expect(k, "the answer to the first message", first, kit.ReplyWait)
	})

	msgs, writes := pipeline(c)
	step(fmt.Sprintf("%d messages, sent without waiting and cut into %d writes (%s bytes), get %d answers in order", len(msgs), len(writes), sizes(writes), len(msgs)),
		fmt.Sprintf(`(printf '\0\0\0\2ab\0\0'; sleep 1; printf '\0\3xyz') | %s | od -c`, c.NCN()), func() error {
			for i, w := range writes {
				if i > 0 {
					time.Sleep(pause)
				}
				if err := k.Send(string(w)); err != nil {
					return err
				}
			}
			for i, m := range msgs {
				if err := expect(k, fmt.Sprintf("the answer to message %d of %d (%d bytes)", i+1, len(msgs), len(m)), m, kit.ReplyWait); err != nil {
					return fmt.Errorf("%v. The writes were cut %s: a read returns what has arrived — part of a length, a length and part of its message, the end of one message and the start of the next. "+
						"Read exactly 4 bytes, then exactly the length they say, however many reads it takes (readFull), and answer each message before reading the next", err, cuts(msgs, writes))
				}
			}
			return nil
		})

	big := randBytes(c, 70<<10+c.Rand().IntN(130<<10))
	bigWrites := cut(c, Frame(big), 3+c.Rand().IntN(4), nil)
	step(fmt.Sprintf("a message of %d bytes, more than a 64 KiB read, sent in %d writes, is answered whole", len(big), len(bigWrites)), "", func() error {
		for i, w := range bigWrites {
			if i > 0 {
				time.Sleep(pause)
			}
			if err := k.Send(string(w)); err != nil {
				return err
			}
		}
		return expect(k, fmt.Sprintf("the answer to the message of %d bytes", len(big)), big, bigWait)
	})

	tooLong := MaxMessage + 1 + c.Rand().IntN(1<<30)
	step(fmt.Sprintf("a length of %d bytes, past the limit of %d, ends the connection", tooLong, MaxMessage), "", func() error {
		f, err := c.Client("client 2")
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Send(string(binary.BigEndian.AppendUint32(nil, uint32(tooLong)))); err != nil {
			return err
		}
		why := fmt.Sprintf("a length is what the peer claims, not what it will send. Refuse a length over %d (close the connection) before you allocate it — or a few bytes could make your server reserve 4 GiB and wait for them", MaxMessage)
		if err := f.ExpectEOF("the server to close the connection"); err != nil {
			return fmt.Errorf("%v: %s", err, why)
		}
		// Closed — by the server, or by its end: it must still serve.
		g, err := c.Client("a new client")
		if err == nil {
			defer g.Close()
			msg := []byte(c.Word())
			if err = g.Send(string(Frame(msg))); err == nil {
				err = expect(g, fmt.Sprintf("the answer to %q", msg), msg, kit.ReplyWait)
			}
		}
		if err != nil {
			return fmt.Errorf("the connection closed, but then the server stopped answering (%v): did it try to allocate %d bytes, and die of it? %s", err, tooLong, why)
		}
		return nil
	})

	step("a client that resets its connection in the middle of a message ends only its own conversation", "", func() error {
		e, err := c.Client("client 3")
		if err != nil {
			return err
		}
		msg := randBytes(c, 1000)
		if err := e.Send(string(Frame(msg)[:300])); err != nil {
			e.Close()
			return err
		}
		time.Sleep(100 * time.Millisecond)
		kit.Abort(e.Conn) // a reset: the server's read fails with ECONNRESET
		time.Sleep(100 * time.Millisecond)
		return alive(c, k, "after a client reset its connection in the middle of a message", "read")
	})

	size := shortWriteSize()
	var peer uint16 // the port of the client reset while written
	step(fmt.Sprintf("a client that resets its connection while the server writes it a %d MiB answer ends only its own conversation", size>>20), "", func() error {
		var err error
		peer, err = resetWhileWritten(c, randBytes(c, size))
		if err != nil {
			return err
		}
		return alive(c, k, "after a client reset its connection while the server wrote to it", "write")
	})

	c.TraceStep("every connection that failed was closed", func(t kit.Trace) error {
		listen, _ := t.Listener(c.PortNumber())
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", c.PortNumber())
		}
		for i := listen + 1; i < len(t); i++ {
			e := t[i]
			if (e.Call.Op != wire.OpRead && e.Call.Op != wire.OpWrite) || (e.Result.Errno != "ECONNRESET" && e.Result.Errno != "EPIPE") {
				continue
			}
			if t.ClosedAfter(i, e.Call.FD) < 0 {
				return t.Errorf("%s, but descriptor %d was never closed after it: a connection that failed still holds its descriptor; close it, as when the client leaves", kit.Line(e), e.Call.FD)
			}
		}
		return nil
	})

	c.TraceStep("after a short write, the program wrote the rest", func(t kit.Trace) error {
		listen, _ := t.Listener(c.PortNumber())
		if listen < 0 {
			return t.Errorf("expected a socket bound to port %d and listening, found none", c.PortNumber())
		}
		acc := -1
		for i := listen + 1; i < len(t); i++ {
			if e := t[i]; e.Call.Op == wire.OpAccept && !e.Result.Failed() && e.Result.Addr.Port() == peer {
				acc = i
			}
		}
		if acc < 0 {
			return t.Errorf("expected the accept of the client on port %d, found none", peer)
		}
		fd := t[acc].Result.Ret
		want := 4 + size
		written, last := 0, -1
		for i := acc + 1; i < len(t); i++ {
			e := t[i]
			if e.Call.FD != fd || e.Call.Op != wire.OpWrite {
				if (e.Call.Op == wire.OpClose && e.Call.FD == fd) || ((e.Call.Op == wire.OpSocket || e.Call.Op == wire.OpAccept) && e.Result.Ret == fd) {
					break
				}
				continue
			}
			if e.Result.Failed() {
				return nil // it tried to write the rest, and met the reset
			}
			written += e.Result.Ret
			last = i
		}
		if last >= 0 && written < want {
			return t.Errorf("the answer was %d bytes; the program's writes took %d (the last: %s) and it wrote no more: a write may take fewer bytes than it was given — it returns how many —, and the rest is yours to write. "+
				"Loop until all is written (writeAll), and let the error that comes then end the client", want, written, kit.Line(t[last]))
		}
		return nil
	})

	step("client 1 leaves, and the server closes its socket", c.NCN()+"   # then press Ctrl-D", func() error {
		k.CloseWrite()
		return k.ExpectEOF("the server to close the connection once the client left")
	})
}

// printf is a shell command that sends msg framed and shows the answer's
// bytes.
func printf(c *kit.C, msg []byte) string {
	var b strings.Builder
	for _, x := range Frame(msg) {
		switch {
		case x == '%':
			b.WriteString("%%")
		case x >= ' ' && x < 0x7f && x != '\\' && x != '\'':
			b.WriteByte(x)
		default:
			fmt.Fprintf(&b, "\\%03o", x)
		}
	}
	return fmt.Sprintf("printf '%s' | %s | od -c", b.String(), c.NCN())
}

// randBytes is n random bytes, newlines and zeros among them: a message is
// not a line.
func randBytes(c *kit.C, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(c.Rand().Uint32())
	}
	return b
}

// pipeline makes 5 to 8 messages, one of them empty, and cuts their frames,
// end to end, into writes: one cut inside a length, one inside a message,
// and at least one write that holds the end of a message and the start of
// the next.
func pipeline(c *kit.C) (msgs, writes [][]byte) {
	n := 5 + c.Rand().IntN(4)
	empty := 1 + c.Rand().IntN(n-1)
	var stream []byte
	var starts []int // where each frame starts in stream
	for i := range n {
		size := 2 + c.Rand().IntN(299)
		if i == empty {
			size = 0
		}
		m := randBytes(c, size)
		msgs = append(msgs, m)
		starts = append(starts, len(stream))
		stream = append(stream, Frame(m)...)
	}
	inLength := starts[1+c.Rand().IntN(n-1)] + 1 + c.Rand().IntN(3)
	long := 0 // the longest message: a cut inside it
	for i, m := range msgs {
		if len(m) > len(msgs[long]) {
			long = i
		}
	}
	inMessage := starts[long] + 4 + 1 + c.Rand().IntN(len(msgs[long])-1)
	merged := starts[1+c.Rand().IntN(n-1)] // no cut here
	writes = cut(c, stream, 2+c.Rand().IntN(4), map[int]bool{inLength: true, inMessage: true, merged: false})
	return msgs, writes
}

// cut cuts b into writes at extra random places besides the ones force
// says to cut (true) or not to (false).
func cut(c *kit.C, b []byte, extra int, force map[int]bool) [][]byte {
	at := map[int]bool{}
	for p, yes := range force {
		if yes && p > 0 && p < len(b) {
			at[p] = true
		}
	}
	for range extra {
		if p := 1 + c.Rand().IntN(len(b)-1); force[p] || !hasKey(force, p) {
			at[p] = true
		}
	}
	var points []int
	for p := range at {
		points = append(points, p)
	}
	sort.Ints(points)
	var out [][]byte
	prev := 0
	for _, p := range points {
		out = append(out, b[prev:p])
		prev = p
	}
	return append(out, b[prev:])
}

func hasKey(m map[int]bool, k int) bool { _, ok := m[k]; return ok }

// sizes lists the writes' sizes: "7, 120, 3".
func sizes(writes [][]byte) string {
	parts := make([]string, len(writes))
	for i, w := range writes {
		parts[i] = strconv.Itoa(len(w))
	}
	return strings.Join(parts, ", ")
}

// cuts says where each write ended, in the messages' terms: "in the
// length of message 3 (after 2 of its 4 bytes)".
func cuts(msgs, writes [][]byte) string {
	var where []string
	pos := 0
	for _, w := range writes[:len(writes)-1] {
		pos += len(w)
		start := 0
		for i, m := range msgs {
			end := start + 4 + len(m)
			switch {
			case pos == start:
				where = append(where, fmt.Sprintf("just before message %d", i+1))
			case pos < start+4:
				where = append(where, fmt.Sprintf("in the length of message %d (after %d of its 4 bytes)", i+1, pos-start))
			case pos == start+4:
				where = append(where, fmt.Sprintf("between the length of message %d and its bytes", i+1))
			case pos < end:
				where = append(where, fmt.Sprintf("in message %d (after %d of its %d bytes)", i+1, pos-start-4, len(m)))
			}
			if pos < end {
				break
			}
			start = end
		}
	}
	return strings.Join(where, "; ")
}

// alive checks that the server still serves after a client's failure:
// client 1, connected all along, gets an answer, and so does a new client.
// op is the call that failed on the server's side: read or write.
func alive(c *kit.C, k *kit.Conn, after, op string) error {
	why := func(err error) error {
		errno := "ECONNRESET"
		if op == "write" {
			errno = "EPIPE or ECONNRESET"
		}
		return fmt.Errorf("%s, the server stopped answering: %v. A %s that fails (%s) ends that client's conversation, not the server: close that client's socket, return from its goroutine, and let the others go on", after, err, op, errno)
	}
	msg := []byte(c.Word())
	if err := k.Send(string(Frame(msg))); err != nil {
		return why(err)
	}
	if err := expect(k, fmt.Sprintf("the answer to %q", msg), msg, kit.ReplyWait); err != nil {
		return why(err)
	}
	fresh, err := c.Client("a new client")
	if err != nil {
		return why(err)
	}
	defer fresh.Close()
	msg = []byte(c.Word())
	if err := fresh.Send(string(Frame(msg))); err != nil {
		return why(err)
	}
	if err := expect(fresh, fmt.Sprintf("the answer to %q", msg), msg, kit.ReplyWait); err != nil {
		return why(err)
	}
	return nil
}

// shortWriteSize is a message whose answer the kernel cannot take in one
// write to a client that does not read: more than the largest send buffer
// the kernel grows a connection's to (net.ipv4.tcp_wmem, 4 MiB by default),
// within the protocol's limit.
func shortWriteSize() int {
	size := 6 << 20
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 3 {
			if most, err := strconv.Atoi(f[2]); err == nil {
				size = max(size, most+2<<20)
			}
		}
	}
	return min(size, MaxMessage)
}

// resetWhileWritten sends msg from a client with a small receive buffer
// that reads nothing, waits until the server's answer fills the kernel's
// buffers — its write is then blocked, part of the answer taken —, and
// resets the connection: the write returns short, and the next one fails.
// It returns the client's port.
func resetWhileWritten(c *kit.C, msg []byte) (uint16, error) {
	d := net.Dialer{Timeout: kit.StartWait, Control: func(_, _ string, raw syscall.RawConn) error {
		raw.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	conn, err := d.Dial("tcp", c.Addr())
	if err != nil {
		return 0, fmt.Errorf("a client could not connect: %v", err)
	}
	defer kit.Abort(conn)
	port := uint16(conn.LocalAddr().(*net.TCPAddr).Port)
	conn.SetWriteDeadline(time.Now().Add(bigWait))
	if _, err := conn.Write(Frame(msg)); err != nil {
		return port, fmt.Errorf("a client sending a message of %d bytes: %v (does the server read a whole message, however long, up to %d bytes?)", len(msg), err, MaxMessage)
	}
	// Wait for the server's answer to stop moving: its bytes fill the
	// client's small buffer and the server's send queue, and stay there.
	deadline := time.Now().Add(bigWait)
	last, still := -1, 0
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		all, err := kit.PortSockets(c.PortNumber())
		if err != nil {
			time.Sleep(3 * time.Second) // no kernel's view here: give the server time
			break
		}
		unsent := -1
		for _, s := range all {
			if s.Peer.Port() == port && s.State == "ESTABLISHED" {
				unsent = s.Unsent
			}
		}
		if unsent > 0 && unsent == last {
			if still++; still >= 4 {
				break
			}
		} else {
			still = 0
		}
		last = unsent
	}
	return port, nil
}

// expect reads one framed answer from k and compares it with the reverse
// of msg.
func expect(k *kit.Conn, what string, msg []byte, wait time.Duration) error {
	want := Reverse(msg)
	k.SetReadDeadline(time.Now().Add(wait))
	r := k.Reader()
	var header [4]byte
	if n, err := io.ReadFull(r, header[:]); err != nil {
		return readErr(k, what, fmt.Sprintf("%d of the 4 bytes of its length", n), err, wait)
	}
	n := int(binary.BigEndian.Uint32(header[:]))
	if n != len(msg) {
		return fmt.Errorf("%s: expected the length %d (bytes % x), got %d (bytes % x)", what, len(msg), Frame(msg)[:4], n, header)
	}
	got := make([]byte, n)
	if m, err := io.ReadFull(r, got); err != nil {
		return readErr(k, what, fmt.Sprintf("the length %d, then %d bytes of the message", n, m), err, wait)
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < n && got[at] == want[at] {
			at++
		}
		return fmt.Errorf("%s: the bytes differ from offset %d on: expected %s, got %s", what, at, show(want[at:]), show(got[at:]))
	}
	return nil
}

func readErr(k *kit.Conn, what, got string, err error, wait time.Duration) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s waited %s for %s and got %s, then nothing", k.Name(), wait, what, got)
	}
	return fmt.Errorf("%s waited for %s and got %s, then the server closed the connection (%v)", k.Name(), what, got, err)
}

// show quotes the start of b.
func show(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%q… (%d bytes)", b[:24], len(b))
	}
	return fmt.Sprintf("%q", b)
}
