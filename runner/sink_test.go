package runner

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

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
		s.add(engine.CallEvent{ID: id, Text: "read(4, 64)"})
		s.add(engine.ResultEvent{ID: id, Text: "64"})
		s.add(engine.OutputEvent{Stream: "stdout", Text: "0123456789abcdef\n"})
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
	s.add(engine.CallEvent{ID: 1, Text: "accept(3)"})
	s.add(engine.PausedEvent{Line: 3})
	mu.Lock()
	defer mu.Unlock()
	if batches == 0 {
		t.Errorf("the stop was not written when add returned")
	}
}

// TestSinkSendsFewerCallsWhileFlooding: once calls are being left out, each
// batch carries at most floodCalls of them (the newest, with a skipped
// count), and a program that slows down gets maxCalls again.
func TestSinkSendsFewerCallsWhileFlooding(t *testing.T) {
	var mu sync.Mutex
	var perBatch []int // call events in each batch; -1 marks a batch with a skipped event
	s := newSink(func(b []byte) error {
		var evs []map[string]any
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Errorf("unreadable batch %q: %v", b, err)
		}
		calls, skipped := 0, false
		for _, e := range evs {
			calls += btoi(e["type"] == "call")
			skipped = skipped || e["type"] == "skipped"
		}
		mu.Lock()
		perBatch = append(perBatch, calls)
		if skipped {
			perBatch = append(perBatch, -1)
		}
		mu.Unlock()
		return nil
	}, func() bool { return false })
	flood := func(from, n uint64) {
		for id := from; id < from+n; id++ {
			s.add(engine.CallEvent{ID: id, Text: "read(4, 64)"})
			s.add(engine.ResultEvent{ID: id, Text: "64"})
		}
	}
	start := time.Now()
	for i := uint64(0); time.Since(start) < 300*time.Millisecond; i++ {
		flood(1+i*1000, 1000)
	}
	s.flush()
	mu.Lock()
	flooded := slices.Index(perBatch, -1)
	if flooded < 0 {
		t.Fatalf("no calls were left out: %v", perBatch)
	}
	for _, n := range perBatch[flooded+1:] {
		if n > floodCalls {
			t.Fatalf("a batch after calls were left out carried %d calls, over %d: %v", n, floodCalls, perBatch)
		}
	}
	perBatch = nil
	mu.Unlock()

	// The flood ends: a window with fewer calls than floodCalls goes whole,
	// and then maxCalls may wait again.
	time.Sleep(2 * floodWindow)
	flood(1e9, floodCalls/2)
	s.flush()
	time.Sleep(2 * floodWindow)
	mu.Lock()
	perBatch = nil
	mu.Unlock()
	flood(2e9, maxCalls-8)
	s.flush()
	mu.Lock()
	defer mu.Unlock()
	sent := 0
	for _, n := range perBatch {
		if n < 0 {
			t.Fatalf("after the flood ended, %d calls at once were left out of: %v", maxCalls-8, perBatch)
		}
		sent += n
	}
	if sent != maxCalls-8 {
		t.Errorf("after the flood ended, %d calls were sent of %d: %v", sent, maxCalls-8, perBatch)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
