package runner

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/sockstep/sockstep/wasm/engine"
)

// TestSinkLeavesOutTheOldestUnderAFlood holds the writer back, as a slow
// page does, while a program makes calls: what waits stays bounded, the
// newest calls arrive with their results, and a skipped event counts the
// rest; no result arrives without its call.
func TestSinkLeavesOutTheOldestUnderAFlood(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []map[string]any
	s := newSink(func(b []byte) error {
		<-release
		var evs []map[string]any
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Errorf("unreadable batch %q: %v", b, err)
		}
		mu.Lock()
		got = append(got, evs...)
		mu.Unlock()
		return nil
	}, func() bool { return false }) // the bridge is behind: the program never writes itself
	const calls = 10_000
	for id := uint64(1); id <= calls; id++ {
		s.add(engine.Event{Type: engine.TypeCall, ID: id, Text: "read(4, 64)"})
		s.add(engine.Event{Type: engine.TypeResult, ID: id, Text: "64"})
		s.add(engine.Event{Type: engine.TypeOutput, Stream: "stdout", Text: "0123456789abcdef\n"})
		s.mu.Lock()
		if s.calls > maxCalls || len(s.pending) > 3*maxCalls+maxOutput/17+3 {
			t.Fatalf("after %d calls %d events wait (%d calls)", id, len(s.pending), s.calls)
		}
		s.mu.Unlock()
	}
	close(release)
	s.flush()

	mu.Lock()
	defer mu.Unlock()
	skippedCalls, skippedBytes, shown := 0, 0, 0
	called := map[float64]bool{}
	for _, e := range got {
		switch e["type"] {
		case "skipped":
			skippedCalls += int(e["calls"].(float64))
			skippedBytes += int(e["bytes"].(float64))
		case "call":
			called[e["id"].(float64)] = true
			shown++
		case "result":
			if !called[e["id"].(float64)] {
				t.Errorf("result %v arrived without its call", e["id"])
			}
		}
	}
	if skippedCalls+shown != calls || shown == 0 || skippedCalls == 0 {
		t.Errorf("%d calls shown and %d skipped; want %d in all, some of each", shown, skippedCalls, calls)
	}
	if !called[calls] {
		t.Errorf("the newest call was left out")
	}
	if skippedBytes == 0 {
		t.Errorf("no output was left out")
	}
}

// TestSinkWritesAStopAtOnce: a stop is written, with the events before it,
// before add returns.
func TestSinkWritesAStopAtOnce(t *testing.T) {
	var mu sync.Mutex
	var batches int
	s := newSink(func(b []byte) error { mu.Lock(); batches++; mu.Unlock(); return nil }, func() bool { return true })
	s.add(engine.Event{Type: engine.TypeCall, ID: 1, Text: "accept(3)"})
	s.add(engine.Event{Type: engine.TypePaused, Line: 3})
	mu.Lock()
	defer mu.Unlock()
	if batches == 0 {
		t.Errorf("the stop was not written when add returned")
	}
}
