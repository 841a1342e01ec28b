package engine

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// batches collects what a Batch sends, decoded.
type batches struct {
	mu   sync.Mutex
	sent [][]map[string]any
}

func (s *batches) send(t *testing.T) func([]byte) {
	return func(b []byte) {
		var evs []map[string]any
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Errorf("batch %s: %v", b, err)
		}
		s.mu.Lock()
		s.sent = append(s.sent, evs)
		s.mu.Unlock()
	}
}

func (s *batches) get() [][]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]map[string]any(nil), s.sent...)
}

func TestBatchGathersRoutineEventsAndKeepsOrder(t *testing.T) {
	var s batches
	b := NewBatch(s.send(t))
	b.Add(CallEvent{ID: 1, Text: "accept(3)"}) // after a quiet spell: at once
	if got := s.get(); len(got) != 1 || got[0][0]["text"] != "accept(3)" {
		t.Fatalf("first event: got %v; want it sent at once", got)
	}
	b.Add(ResultEvent{ID: 1, Text: `4 (peer 127.0.0.1:5000)`})
	b.Add(OutputEvent{Stream: "stdout", Text: "hi\n"})
	if got := s.get(); len(got) != 1 {
		t.Fatalf("routine events right after: got %d batches; want them held", len(got))
	}
	b.Add(ExitEvent{}) // not routine: goes at once, after the ones held
	got := s.get()
	if len(got) != 2 || len(got[1]) != 3 {
		t.Fatalf("after exit: got %v; want a second batch of result, output, exit", got)
	}
	for i, typ := range []string{TypeResult, TypeOutput, TypeExit} {
		if got[1][i]["type"] != typ {
			t.Errorf("batch 2 event %d: got %v; want type %s", i, got[1][i], typ)
		}
	}
}

func TestBatchTimerSendsHeldEvents(t *testing.T) {
	var s batches
	b := NewBatch(s.send(t))
	b.Add(CallEvent{ID: 1, Text: "read(4, 1024)"})
	b.Add(CallEvent{ID: 2, Text: "read(5, 1024)"}) // held
	deadline := time.Now().Add(5 * time.Second)
	for len(s.get()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := s.get(); len(got) != 2 || got[1][0]["id"] != float64(2) {
		t.Fatalf("got %v; want the held call sent by the timer", got)
	}
}

func TestBatchSendsWhenFull(t *testing.T) {
	var s batches
	b := NewBatch(s.send(t))
	b.Add(OutputEvent{Stream: "stdout", Text: "start\n"})
	big := string(make([]byte, 1024))
	n := 0
	for len(s.get()) < 2 && n < 2*batchBytes/1024 {
		b.Add(OutputEvent{Stream: "stdout", Text: big})
		n++
	}
	if len(s.get()) < 2 {
		t.Fatalf("%d KiB of output held: want a batch sent at %d KiB", n, batchBytes>>10)
	}
}
