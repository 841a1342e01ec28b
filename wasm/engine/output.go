package engine

import (
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Output batching: a program printing in a loop sends one event per batch,
// not one per Println.
const (
	flushAfter = 20 * time.Millisecond // longest a printed byte waits
	flushAt    = 8 << 10               // bytes that are sent at once
)

// output batches what the program prints into output events. Other events
// flush it first, so the page sees prints and calls in the order they
// happened.
type output struct {
	emit func(Event)

	mu     sync.Mutex
	stream string
	buf    []byte
	timer  *time.Timer
	last   time.Time // when the buffer was last emitted
	closed bool
}

func (o *output) writer(stream string) *streamWriter { return &streamWriter{o, stream} }

type streamWriter struct {
	o      *output
	stream string
}

func (w *streamWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return len(p), nil // the program has ended; a leftover goroutine prints into the void
	}
	if o.stream != w.stream {
		o.flushLocked(true)
		o.stream = w.stream
	}
	o.buf = append(o.buf, p...)
	// A whole line after a quiet spell goes at once: in engine.wasm a
	// program that then spins (for {}) never yields to the timer, and its
	// last words would never reach the page.
	lineAfterQuiet := len(p) > 0 && p[len(p)-1] == '\n' && time.Since(o.last) >= flushAfter
	if len(o.buf) >= flushAt || lineAfterQuiet {
		o.flushLocked(false)
	} else if o.timer == nil {
		o.timer = time.AfterFunc(flushAfter, o.flush)
	}
	return len(p), nil
}

func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked(true)
}

// flushLocked emits the buffer. Unless all is set it keeps back an
// unfinished UTF-8 sequence, so no event ends in half a character.
func (o *output) flushLocked(all bool) {
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	n := len(o.buf)
	if !all {
		for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
			if utf8.RuneStart(o.buf[i]) {
				if !utf8.FullRune(o.buf[i:]) {
					n = i
				}
				break
			}
		}
	}
	if n == 0 {
		return
	}
	o.emit(OutputEvent{Stream: o.stream, Text: string(o.buf[:n])})
	o.last = time.Now()
	o.buf = append(o.buf[:0], o.buf[n:]...)
	if len(o.buf) > 0 {
		o.timer = time.AfterFunc(flushAfter, o.flush)
	}
}

// event flushes the output, then emits e.
func (o *output) event(e Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.flushLocked(true)
	o.emit(e)
}

// close flushes, and drops what is printed later.
func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked(true)
	o.closed = true
}

// panicLine matches what yaegi v0.16.1 prints to the interpreter's stderr
// for each frame a panic unwinds, innermost first: `6:8: panic: main.f(...)`
// (or `_.go:6:8: …` for a named source).
var panicLine = regexp.MustCompile(`^(?:\S*\.go:)?(\d+):(\d+): panic: (\S+)\(\.\.\.\)\n$`)

// place is a position yaegi reported for a panicking frame.
type place struct {
	line, column int
	function     string
}

func parsePanicLine(p []byte) (place, bool) {
	m := panicLine.FindSubmatch(p)
	if m == nil {
		return place{}, false
	}
	line, _ := strconv.Atoi(string(m[1]))
	col, _ := strconv.Atoi(string(m[2]))
	return place{line, col, string(m[3])}, true
}
