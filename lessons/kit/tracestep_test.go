package kit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// growingTrace is a session's trace whose calls arrive at the given delays
// after it is made, as a program's do.
func growingTrace(calls map[time.Duration]wire.Op) func() []native.TraceEntry {
	start := time.Now()
	var mu sync.Mutex
	return func() []native.TraceEntry {
		mu.Lock()
		defer mu.Unlock()
		var t []native.TraceEntry
		for _, at := range []time.Duration{0, 1500 * time.Millisecond, 2100 * time.Millisecond} {
			if op, ok := calls[at]; ok && time.Since(start) >= at {
				t = append(t, native.TraceEntry{Call: wire.Call{Op: op}})
			}
		}
		return t
	}
}

// checkBind is a trace step that wants a bind.
func checkBind(trace func() []native.TraceEntry) (passed bool, steps []Step, took time.Duration) {
	ch := make(chan Step, 8)
	start := time.Now()
	passed = Run(context.Background(), Target{Trace: trace}, func(c *C) {
		c.TraceStep("a bind", func(t Trace) error {
			if t.Last(Op(wire.OpBind)) < 0 {
				return errors.New("no bind")
			}
			return nil
		})
	}, ch)
	took = time.Since(start)
	close(ch)
	for s := range ch {
		steps = append(steps, s)
	}
	return passed, steps, took
}

// TestTraceStepWaitsFromTheNewestCall: a slow engine (the page's, in WebKit
// on a busy machine) made its first call 1.5 s after the check began and
// its next 0.6 s later; the step waits for it, as the wait counts from the
// newest call.
func TestTraceStepWaitsFromTheNewestCall(t *testing.T) {
	passed, steps, _ := checkBind(growingTrace(map[time.Duration]wire.Op{1500 * time.Millisecond: wire.OpSocket, 2100 * time.Millisecond: wire.OpBind}))
	if !passed {
		t.Errorf("the step failed: %+v; want it to wait for the bind 0.6 s after the socket", steps)
	}
}

// TestTraceStepGivesUpAfterTheNewestCall: a call that never comes fails
// the step about traceWait after the newest call, not StartWait.
func TestTraceStepGivesUpAfterTheNewestCall(t *testing.T) {
	passed, steps, took := checkBind(growingTrace(map[time.Duration]wire.Op{0: wire.OpSocket}))
	if passed || len(steps) != 1 || !strings.Contains(steps[0].Message, "no bind") {
		t.Errorf("passed %v, steps %+v; want the step failed with no bind", passed, steps)
	}
	if took < traceWait || took > StartWait {
		t.Errorf("the step gave up after %v; want about %v after the last call", took, traceWait)
	}
}
