package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

const (
	// socketsPoll is how often the sockets table is read while it can change
	// without a call: something in flight, or any socket listed (a client
	// connecting into a backlog, a TIME_WAIT counting down). With nothing
	// listed and nothing in flight it is not read at all.
	socketsPoll = 500 * time.Millisecond
	// socketsGap is the least time between two reads of the table, so a
	// program making thousands of calls a second costs at most 20 reads a
	// second (touches in between coalesce into one).
	socketsGap = 50 * time.Millisecond
)

// socketsWatch reads a session's sockets table when it may have changed,
// and hands the write pump the newest one that differs from the last.
type socketsWatch struct {
	native *native.Session
	own    func() []wire.SocketInfo // the runner's own sockets, as it last said (a copy)
	busy   func() bool              // calls are in flight, which may change the table without a touch

	changed chan struct{}    // capacity 1: the table may have changed
	tables  chan *wire.Event // capacity 1: the newest table not yet sent; the write pump reads it
	// leftoversSince is when a call that may change the table's leftovers
	// (native.ChangesLeftovers) was made, in Unix nanoseconds, if one was
	// since they were last read; 0 otherwise.
	leftoversSince atomic.Int64
}

func newSocketsWatch(n *native.Session, own func() []wire.SocketInfo, busy func() bool) *socketsWatch {
	return &socketsWatch{native: n, own: own, busy: busy, changed: make(chan struct{}, 1), tables: make(chan *wire.Event, 1)}
}

// touchLeftovers says the sockets table may have changed, its leftovers
// included.
func (w *socketsWatch) touchLeftovers() {
	w.leftoversSince.CompareAndSwap(0, time.Now().UnixNano())
	w.touch()
}

// touch says the sockets table may have changed, but not its leftovers
// unless touchLeftovers says so too.
func (w *socketsWatch) touch() {
	select {
	case w.changed <- struct{}{}:
	default: // already due
	}
}

// run sends the sockets table when it differs from the last one sent:
// after calls (touch), and every socketsPoll while it can change without
// one. It returns when ctx ends.
//
// The leftovers part of the table (native.Session.LeftoversSince) costs the
// kernel a walk of its whole connection hash, so it is asked for again only
// when a call may have changed it, or when it is socketsPoll old: a stream
// of reads and writes does not change it, and what changes it without a
// call shows within socketsPoll, as it does in a session that makes no
// calls. One read serves every session that wants it (native/table.go).
func (w *socketsWatch) run(ctx context.Context) {
	var last []byte
	var poll <-chan time.Time
	var left []wire.SocketInfo
	var leftErr error
	var leftAt time.Time // when the read of left started
	for {
		polled := false
		select {
		case <-ctx.Done():
			return
		case <-w.changed:
		case <-poll:
			polled = true
		}
		table := w.own() // the program's, when a runner runs it
		table = append(table, w.native.OwnSockets()...)
		if since := w.leftoversSince.Swap(0); since != 0 {
			left, leftAt, leftErr = w.native.LeftoversSince(time.Unix(0, since))
		} else if polled || time.Since(leftAt) >= socketsPoll {
			left, leftAt, leftErr = w.native.LeftoversSince(time.Now().Add(-socketsGap))
		}
		table = append(table, left...)
		ev := &wire.Event{Kind: wire.EventSockets, Sockets: table}
		if leftErr != nil {
			ev.Message = leftErr.Error()
		}
		if len(table) > wire.MaxSockets {
			ev.Sockets = table[:wire.MaxSockets]
			ev.Message = strings.TrimPrefix(ev.Message+fmt.Sprintf("; %d more sockets not shown", len(table)-wire.MaxSockets), "; ")
		}
		if enc, _ := json.Marshal(ev); !bytes.Equal(enc, last) {
			last = enc
			w.offer(ev)
		}
		poll = nil
		if len(table) > 0 || w.busy() {
			poll = time.After(socketsPoll)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(socketsGap):
		}
	}
}

// offer hands the write pump the newest table, replacing one it has not
// sent yet: a page that reads slowly gets the latest table, not a backlog.
func (w *socketsWatch) offer(ev *wire.Event) {
	for {
		select {
		case w.tables <- ev:
			return
		default:
		}
		select {
		case <-w.tables: // stale
		default:
		}
	}
}
