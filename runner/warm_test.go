package runner

import (
	"testing"

	"github.com/sockstep/sockstep/wasm/engine"
)

// TestWarmUpRunsItsProgram: the spare's warm-up program compiles with the
// stepper's hooks, as a learner's does, makes its calls and ends without a
// word; one that no longer compiled would warm nothing, silently.
func TestWarmUpRunsItsProgram(t *testing.T) {
	var calls int
	var said []engine.Event
	err := warm(func(e engine.Event) {
		switch e.(type) {
		case engine.CallEvent:
			calls++
		case engine.ResultEvent, engine.ExitEvent:
		default:
			said = append(said, e)
		}
	})
	if err != nil || len(said) > 0 {
		t.Fatalf("the warm-up program ended with %v, and said %v", err, said)
	}
	if calls < 4 { // socket, setsockopt, getsockname, close
		t.Errorf("the warm-up program made %d calls, want 4", calls)
	}
}
