package native

import (
	"sync"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// TraceEntry is one finished call of a session, as lesson checkers see it.
type TraceEntry struct {
	Call       wire.Call
	Result     wire.Result
	Start, End time.Time
}

// Bounds on a session's trace, so a long-running page cannot grow it
// without end. Data beyond TraceData bytes is cut: Result.Ret still says how
// many bytes a read or write moved.
const (
	TraceLen  = 4096 // entries kept; older ones are dropped
	TraceData = 1024 // bytes of a call's or result's data kept per entry
)

type trace struct {
	mu      sync.Mutex
	entries []TraceEntry // a ring once full
	next    int          // where the next entry goes once full
}

func (t *trace) add(c *wire.Call, r *wire.Result, start, end time.Time) {
	e := TraceEntry{Call: *c, Result: *r, Start: start, End: end}
	e.Call.Data = clip(c.Data)
	e.Call.Into = nil // the caller's buffer: not the trace's to keep
	e.Result.Data = clip(r.Data)
	if r.Refused != nil {
		refused := *r.Refused
		e.Result.Refused = &refused
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) < TraceLen {
		t.entries = append(t.entries, e)
		return
	}
	t.entries[t.next] = e
	t.next = (t.next + 1) % TraceLen
}

func (t *trace) copy() []TraceEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TraceEntry, 0, len(t.entries))
	out = append(out, t.entries[t.next:]...)
	return append(out, t.entries[:t.next]...)
}

// clip copies at most TraceData bytes: the caller's buffers are not ours to
// keep (a call's data aliases the frame it came in).
func clip(data []byte) []byte {
	if data == nil {
		return nil
	}
	return append([]byte(nil), data[:min(len(data), TraceData)]...)
}

// Trace returns a copy of the session's finished calls, oldest first: the
// last TraceLen of them, in the order they finished. The entries' Data and
// Refused are shared with the session's own record: read them, don't change
// them.
func (s *Session) Trace() []TraceEntry {
	return s.trace.copy()
}
