package kit

import (
	"fmt"
	"strings"

	"sockstep/native"
	"sockstep/native/wire"
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
