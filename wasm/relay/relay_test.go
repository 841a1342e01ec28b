package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// echoBridge answers every call in each frame with a result whose Ret is
// the call's FD, and records how many records each frame held.
type echoBridge struct {
	t       *testing.T
	relay   *Relay
	mu      sync.Mutex
	frames  []int
	release chan struct{} // if set, the bridge waits on it before answering
}

func (b *echoBridge) send(frame []byte) error {
	recs, err := wire.DecodeFrame(bytes.Clone(frame)) // answered later: the relay reuses frame
	if err != nil {
		b.t.Errorf("relay sent a bad frame: %v", err)
		return err
	}
	b.mu.Lock()
	b.frames = append(b.frames, len(recs))
	b.mu.Unlock()
	go func() {
		if b.release != nil {
			<-b.release
		}
		var out []wire.Record
		for _, rec := range recs {
			c := rec.Call
			out = append(out, wire.Record{Result: &wire.Result{ID: c.ID, Ret: c.FD, Data: c.Data}})
		}
		f, err := wire.EncodeFrame(out...)
		if err != nil {
			b.t.Error(err)
			return
		}
		b.relay.Deliver(f)
	}()
	return nil
}

func newEcho(t *testing.T, opts ...Option) (*Relay, *echoBridge) {
	t.Helper()
	b := &echoBridge{t: t}
	b.relay = New(b.send, opts...)
	t.Cleanup(func() { b.relay.Close(nil) })
	return b.relay, b
}

func timeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConcurrentCallsGetTheirOwnResults(t *testing.T) {
	r, _ := newEcho(t)
	ctx := timeout(t)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := []byte(fmt.Sprint("data ", i))
			res, err := r.Call(ctx, &wire.Call{Op: wire.OpWrite, FD: i, Data: data})
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			if res.Ret != i || !bytes.Equal(res.Data, data) {
				t.Errorf("call %d: got ret %d data %q", i, res.Ret, res.Data)
			}
		}()
	}
	wg.Wait()
}

// TestGatherOnlyWhileOthersWait: a lone call leaves at once; while one
// waits for its result, the calls made meanwhile gather into one frame.
func TestGatherOnlyWhileOthersWait(t *testing.T) {
	b := &echoBridge{t: t, release: make(chan struct{})}
	var gathers atomic.Int32
	b.relay = New(b.send, WithGather(func() {
		gathers.Add(1)
		if !waitQueued(b.relay, 2) {
			t.Error("the second call was never queued")
		}
	}))
	defer b.relay.Close(nil)
	var wg sync.WaitGroup
	call := closer(t, b.relay, &wg)
	wg.Add(1)
	go call(1) // held by the bridge until release
	for deadline := time.Now().Add(5 * time.Second); b.frameCount() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := gathers.Load(); n != 0 {
		t.Errorf("a lone call gathered %d times; want it sent at once", n)
	}
	wg.Add(2)
	go call(2)
	go call(3)
	for deadline := time.Now().Add(5 * time.Second); b.frameCount() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(b.release)
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) != 2 || b.frames[1] != 2 {
		t.Errorf("frames held %v records; want [1 2]", b.frames)
	}
}

// closer returns a func that closes fd through r and marks wg done.
func closer(t *testing.T, r *Relay, wg *sync.WaitGroup) func(fd int) {
	ctx := timeout(t)
	return func(fd int) {
		defer wg.Done()
		if _, err := r.Call(ctx, &wire.Call{Op: wire.OpClose, FD: fd}); err != nil {
			t.Error(err)
		}
	}
}

// waitQueued waits, 5 s at most, until n calls wait in r's queue.
func waitQueued(r *Relay, n int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		r.mu.Lock()
		queued := len(r.queue)
		r.mu.Unlock()
		if queued == n {
			return true
		}
	}
	return false
}

func (b *echoBridge) frameCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.frames)
}

func TestCallsReadyTogetherShareAFrame(t *testing.T) {
	b := &echoBridge{t: t, release: make(chan struct{})}
	// A send that blocks on the first frame lets the next calls pile up.
	first := make(chan struct{})
	var once sync.Once
	b.relay = New(func(frame []byte) error {
		err := b.send(frame)
		once.Do(func() { close(first); <-b.release })
		return err
	})
	defer b.relay.Close(nil)
	var wg sync.WaitGroup
	call := closer(t, b.relay, &wg)
	wg.Add(1)
	go call(1)
	<-first
	for fd := 2; fd <= 6; fd++ {
		wg.Add(1)
		go call(fd)
	}
	waitQueued(b.relay, 5) // then let the first send return
	close(b.release)
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) != 2 || b.frames[0] != 1 || b.frames[1] != 5 {
		t.Errorf("records per frame: got %v; want [1 5]", b.frames)
	}
}

func TestBigWritesSplitAcrossFrames(t *testing.T) {
	r, b := newEcho(t)
	ctx := timeout(t)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Call(ctx, &wire.Call{Op: wire.OpWrite, FD: i, Data: make([]byte, wire.MaxData)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	total := 0
	for _, n := range b.frames {
		total += n
	}
	if total != 12 {
		t.Errorf("records sent: got %d; want 12 (frames %v)", total, b.frames)
	}
}

func TestProblemFailsItsCall(t *testing.T) {
	var r *Relay
	r = New(func(frame []byte) error {
		recs, _ := wire.DecodeFrame(frame)
		f, _ := wire.EncodeFrame(wire.Record{Problem: &wire.Problem{ID: recs[0].Call.ID, Message: "no"}})
		go r.Deliver(f)
		return nil
	})
	defer r.Close(nil)
	_, err := r.Call(timeout(t), &wire.Call{Op: wire.OpClose, FD: 3})
	var p *wire.Problem
	if !errors.As(err, &p) || p.Message != "no" {
		t.Errorf("got %v; want the problem", err)
	}
}

func TestEventsAndStrayRecordsGoToHandlers(t *testing.T) {
	var events []string
	var problems []string
	r := New(func([]byte) error { return nil },
		WithEvents(func(e *wire.Event) { events = append(events, e.Kind) }),
		WithProblems(func(p *wire.Problem) { problems = append(problems, p.Message) }))
	defer r.Close(nil)
	f, err := wire.EncodeFrame(
		wire.Record{Event: &wire.Event{Kind: wire.EventHello}},
		wire.Record{Problem: &wire.Problem{Message: "general"}},
		wire.Record{Result: &wire.Result{ID: 77}},
	)
	if err != nil {
		t.Fatal(err)
	}
	r.Deliver(f)
	r.Deliver([]byte{0xff})
	if len(events) != 1 || events[0] != wire.EventHello {
		t.Errorf("events: got %v", events)
	}
	if len(problems) != 3 {
		t.Errorf("problems: got %q; want general, stray result, undecodable", problems)
	}
}

func TestCloseFailsPendingAndFutureCalls(t *testing.T) {
	closed := make(chan error, 1)
	r := New(func([]byte) error { return nil }, WithClose(func(err error) { closed <- err }))
	cause := errors.New("bridge went away")
	errc := make(chan error, 1)
	go func() {
		_, err := r.Call(timeout(t), &wire.Call{Op: wire.OpAccept, FD: 3})
		errc <- err
	}()
	for {
		r.mu.Lock()
		n := len(r.pending)
		r.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.Close(cause)
	r.Close(errors.New("second close is ignored"))
	if err := <-errc; err != cause {
		t.Errorf("pending call: got %v; want %v", err, cause)
	}
	if _, err := r.Call(timeout(t), &wire.Call{Op: wire.OpClose}); err != cause {
		t.Errorf("later call: got %v; want %v", err, cause)
	}
	if err := <-closed; err != cause {
		t.Errorf("close handler: got %v", err)
	}
}

func TestSendFailureClosesTheRelay(t *testing.T) {
	r := New(func([]byte) error { return errors.New("socket is gone") })
	defer r.Close(nil)
	_, err := r.Call(timeout(t), &wire.Call{Op: wire.OpClose})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("socket is gone")) {
		t.Errorf("got %v; want the send error", err)
	}
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Error("relay not closed after a failed send")
	}
}

func TestCancelledCallReturns(t *testing.T) {
	r := New(func([]byte) error { return nil })
	defer r.Close(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Call(ctx, &wire.Call{Op: wire.OpAccept}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled", err)
	}
}

// TestAbandonedCallIsNotSent: a call whose caller gave up while another
// gathered its frame leaves the queue, and a late answer to a call that was
// sent and then abandoned is dropped without a word.
func TestAbandonedCallIsNotSent(t *testing.T) {
	gate := make(chan struct{})
	var problems []string
	var mu sync.Mutex
	var sent []wire.Op
	r := New(func(frame []byte) error {
		recs, err := wire.DecodeFrame(frame)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		for _, rec := range recs {
			sent = append(sent, rec.Call.Op)
		}
		mu.Unlock()
		return nil
	}, WithGather(func() { <-gate }), WithProblems(func(p *wire.Problem) { problems = append(problems, p.Message) }))
	defer r.Close(nil)

	waitPending := func(n int) {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			r.mu.Lock()
			got := len(r.pending)
			r.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d calls pending; want %d", got, n)
			}
		}
	}
	go r.Call(timeout(t), &wire.Call{Op: wire.OpAccept, FD: 3}) // sent at once: none waited
	waitPending(1)
	go r.Call(timeout(t), &wire.Call{Op: wire.OpRead, FD: 4}) // gathers, held at the gate
	waitPending(2)
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := &wire.Call{Op: wire.OpWrite, FD: 5}
	errc := make(chan error, 1)
	go func() { _, err := r.Call(ctx, abandoned); errc <- err }() // rides in the gathered frame
	waitPending(3)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned call: %v", err)
	}
	close(gate)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(sent)
		mu.Unlock()
		if n >= 2 {
			break
		}
	}
	time.Sleep(10 * time.Millisecond) // room for a wrongly sent third
	mu.Lock()
	if fmt.Sprint(sent) != "[accept read]" {
		t.Errorf("sent %v; want [accept read], without the abandoned write", sent)
	}
	mu.Unlock()

	f, _ := wire.EncodeFrame(wire.Record{Result: &wire.Result{ID: abandoned.ID}})
	r.Deliver(f)
	if len(problems) != 0 {
		t.Errorf("an answer to an abandoned call was reported: %q", problems)
	}
}
