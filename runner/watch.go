package runner

import (
	"bytes"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/sockstep/sockstep/native"
)

const (
	// socketsGap is the least time between two looks at the program's
	// sockets: a program making thousands of calls a second costs at most
	// 20 looks a second.
	socketsGap = 50 * time.Millisecond
	// socketsPoll is how often they are looked at while any is open: a
	// queue fills, a peer's bytes arrive, without a call.
	socketsPoll = 500 * time.Millisecond
)

// watcher tells the bridge about the program's own sockets when they
// change: after calls, and every socketsPoll while any is open.
type watcher struct {
	session   *native.Session
	send      func(*Own)
	changed   chan struct{} // capacity 1: a call was made
	leftovers atomic.Bool   // a call since the last look may have changed the leftovers
	quit      chan struct{}
	stopped   chan struct{}
}

func newWatcher(s *native.Session, send func(*Own)) *watcher {
	return &watcher{session: s, send: send, changed: make(chan struct{}, 1), quit: make(chan struct{}), stopped: make(chan struct{})}
}

// touch says a call was made; leftovers, that it may have changed them.
func (w *watcher) touch(leftovers bool) {
	if leftovers {
		w.leftovers.Store(true)
	}
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// stop ends run after one last look, so the bridge has the final table.
func (w *watcher) stop() {
	close(w.quit)
	<-w.stopped
}

func (w *watcher) run() {
	defer close(w.stopped)
	var last []byte
	var poll <-chan time.Time
	for {
		quit := false
		select {
		case <-w.changed:
		case <-poll:
		case <-w.quit:
			quit = true
		}
		own := &Own{Sockets: w.session.OwnSockets(), Ports: w.session.Ports(), Leftovers: w.leftovers.Swap(false)}
		if enc, _ := json.Marshal(own); own.Leftovers || !bytes.Equal(enc, last) {
			last = enc
			w.send(own)
		}
		if quit {
			return
		}
		poll = nil
		if len(own.Sockets) > 0 {
			poll = time.After(socketsPoll)
		}
		select {
		case <-w.quit:
			return
		case <-time.After(socketsGap):
		}
	}
}
