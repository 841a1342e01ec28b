package kit

import (
	"fmt"
	"strings"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// Trace is a session's calls, oldest first. A page's session lives across
// runs, so questions look for the most recent calls that fit.
type Trace []native.TraceEntry

// Line is one entry as the trace panel shows it.
func Line(e native.TraceEntry) string { return wire.FormatLine(&e.Call, &e.Result) }

// Last is the index of the last entry that matches, or -1.
func (t Trace) Last(match func(native.TraceEntry) bool) int {
	for i := len(t) - 1; i >= 0; i-- {
		if match(t[i]) {
			return i
		}
	}
	return -1
}

// All are the indexes of the entries that match, oldest first.
func (t Trace) All(match func(native.TraceEntry) bool) []int {
	var out []int
	for i, e := range t {
		if match(e) {
			out = append(out, i)
		}
	}
	return out
}

// Op matches a call of op, succeeded or not.
func Op(op wire.Op) func(native.TraceEntry) bool {
	return func(e native.TraceEntry) bool { return e.Call.Op == op }
}

// OK matches a call of op that succeeded.
func OK(op wire.Op) func(native.TraceEntry) bool {
	return func(e native.TraceEntry) bool { return e.Call.Op == op && !e.Result.Failed() }
}

// BoundTo matches a successful bind to port.
func BoundTo(port int) func(native.TraceEntry) bool {
	return func(e native.TraceEntry) bool {
		return e.Call.Op == wire.OpBind && int(e.Call.Addr.Port()) == port && !e.Result.Failed()
	}
}

// Origin is the index of the call that made descriptor fd as it was at
// entry i — the last socket or accept before i that returned fd — or -1.
func (t Trace) Origin(i, fd int) int {
	for j := i - 1; j >= 0; j-- {
		e := t[j]
		if (e.Call.Op == wire.OpSocket || e.Call.Op == wire.OpAccept) && !e.Result.Failed() && e.Result.Ret == fd {
			return j
		}
	}
	return -1
}

// Listener is the index of the last successful listen on a socket bound to
// port, and the bind's index; -1, -1 when there is none.
func (t Trace) Listener(port int) (listen, bind int) {
	for i := len(t) - 1; i >= 0; i-- {
		e := t[i]
		if e.Call.Op != wire.OpListen || e.Result.Failed() {
			continue
		}
		origin := t.Origin(i, e.Call.FD)
		for j := i - 1; j > origin; j-- {
			if t[j].Call.FD == e.Call.FD && BoundTo(port)(t[j]) {
				return i, j
			}
		}
	}
	return -1, -1
}

// ClosedAfter is the index of the first successful close of fd after entry
// i and before fd was made again, or -1. A close the engine made because
// the program ended with fd open does not count: the program did not close it.
func (t Trace) ClosedAfter(i, fd int) int {
	for j := i + 1; j < len(t); j++ {
		e := t[j]
		if e.Call.FD == fd && e.Call.Op == wire.OpClose && !e.Call.AtExit && !e.Result.Failed() {
			return j
		}
		if (e.Call.Op == wire.OpSocket || e.Call.Op == wire.OpAccept) && !e.Result.Failed() && e.Result.Ret == fd {
			return -1
		}
	}
	return -1
}

// Tail shows the last n entries, for a message that says what the trace
// holds instead.
func (t Trace) Tail(n int) string {
	if len(t) == 0 {
		return "the trace is empty: run your program, then check"
	}
	start := max(0, len(t)-n)
	lines := make([]string, 0, n)
	for _, e := range t[start:] {
		lines = append(lines, Line(e))
	}
	return "the trace ends with:\n  " + strings.Join(lines, "\n  ")
}

// Errorf is fmt.Errorf for trace steps, with the trace's last calls added.
func (t Trace) Errorf(format string, args ...any) error {
	return fmt.Errorf(format+"; "+t.Tail(6), args...)
}

// WhyNotListening explains, from the trace, why nothing listens on port: the
// bind or listen that failed (the call, its errno, what it means, what to
// do), the one that is missing, or the close that ended the listener. It
// returns "" when the trace shows a listener that should be there.
func (t Trace) WhyNotListening(port int) string {
	if len(t) == 0 {
		return "your program has made no system call yet (did it start? see its output)"
	}
	b := t.Last(func(e native.TraceEntry) bool { return e.Call.Op == wire.OpBind && int(e.Call.Addr.Port()) == port })
	if b < 0 {
		if other := t.Last(Op(wire.OpBind)); other >= 0 {
			return fmt.Sprintf("your program never bound port %d: its last bind was %s", port, Line(t[other]))
		}
		return fmt.Sprintf("your program never bound port %d: expected bind(N, 127.0.0.1:%d) in the trace, found no bind at all", port, port)
	}
	if t[b].Result.Failed() {
		return failed(t[b]) + ": " + explainFailure(t[b], port)
	}
	fd := t[b].Call.FD
	listen, closed := -1, -1
	for j := b + 1; j < len(t) && listen < 0 && closed < 0; j++ {
		e := t[j]
		switch {
		case e.Call.FD == fd && e.Call.Op == wire.OpListen:
			listen = j
		case e.Call.FD == fd && e.Call.Op == wire.OpClose && !e.Result.Failed():
			closed = j
		case (e.Call.Op == wire.OpSocket || e.Call.Op == wire.OpAccept) && !e.Result.Failed() && e.Result.Ret == fd:
			closed = j // the number was given to another socket: this one was closed
		}
	}
	if listen < 0 {
		why := fmt.Sprintf("%s succeeded, but your program never called listen on descriptor %d", Line(t[b]), fd)
		if closed >= 0 {
			why += " before closing it"
		}
		return why + ": a socket that is only bound still refuses connections; call syscall.Listen(fd, backlog) after bind"
	}
	if t[listen].Result.Failed() {
		return failed(t[listen]) + ": " + explainFailure(t[listen], port)
	}
	if c := t.closeOf(listen, fd); c >= 0 {
		if t[c].Call.AtExit {
			return fmt.Sprintf("your program listened (%s), then ended: the kernel closed its listener as the program exited", Line(t[listen]))
		}
		return fmt.Sprintf("your program listened (%s), then closed that listener (%s): nothing listens after that", Line(t[listen]), Line(t[c]))
	}
	return ""
}

// closeOf is the index of the close of fd after entry i, the program's own
// or the engine's at exit, or -1.
func (t Trace) closeOf(i, fd int) int {
	for j := i + 1; j < len(t); j++ {
		e := t[j]
		if e.Call.FD == fd && e.Call.Op == wire.OpClose && !e.Result.Failed() {
			return j
		}
		if (e.Call.Op == wire.OpSocket || e.Call.Op == wire.OpAccept) && !e.Result.Failed() && e.Result.Ret == fd {
			return -1
		}
	}
	return -1
}

// failed is a failed call as the trace shows it, without the errno's
// one-line explanation, which explainFailure says at more length.
func failed(e native.TraceEntry) string {
	if e.Result.Refused != nil {
		return wire.FormatCall(&e.Call) + " was refused"
	}
	return wire.FormatCall(&e.Call) + " = -1 " + e.Result.Errno
}

// explainFailure says, for a learner, why a bind or listen on port failed
// and what to do about it.
func explainFailure(e native.TraceEntry, port int) string {
	if r := e.Result.Refused; r != nil {
		return r.Error()
	}
	var why string
	switch e.Result.Errno {
	case "EADDRINUSE":
		why = fmt.Sprintf("port %d is still held: by a program listening there (another run of yours? `ss -tlnp 'sport = :%d'` names it), "+
			"or by connections a server on it closed first (in this run or an earlier one), lingering in TIME_WAIT or FIN_WAIT2 for up to 60 s (the sockets panel lists them). "+
			"Those let a bind through only if the new socket and the listener they came from both set SO_REUSEADDR before bind (lesson 9)", port, port)
	case "EACCES":
		why = fmt.Sprintf("port %d needs privileges (below net.ipv4.ip_unprivileged_port_start, 1024 by default); use the lesson's port", port)
	case "EADDRNOTAVAIL":
		why = "that address is not one of this machine's: bind 127.0.0.1"
	case "EINVAL":
		why = "this socket is not in a state for it: a socket is bound once, and listens after bind"
	case "EBADF", "ENOTSOCK":
		why = "that descriptor is not an open socket of your program: use the number socket returned"
	default:
		if errno, ok := wire.ErrnoByName(e.Result.Errno); ok {
			why = errno.Explain
		} else {
			why = "the call failed"
		}
	}
	return why
}
