package bridge

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/runner"
	"github.com/sockstep/sockstep/wasm/engine"
)

const (
	// writeWait is how long one frame may take to reach the page.
	writeWait = 10 * time.Second
	// pongWait is how long the page may stay silent before it is presumed gone.
	pongWait = 30 * time.Second
	// pingPeriod must be shorter than pongWait, so a live page always answers in time.
	pingPeriod = pongWait * 9 / 10
	// resultBacklog is how many answers may wait for the write pump.
	resultBacklog = 64
	// socketsPoll is how often the sockets table is read while it can change
	// without a call: something in flight, or any socket listed (a client
	// connecting into a backlog, a TIME_WAIT counting down). With nothing
	// listed and nothing in flight it is not read at all.
	socketsPoll = 500 * time.Millisecond
	// socketsGap is the least time between two reads of the table, so a
	// program making thousands of calls a second costs at most 20 reads a
	// second (touches in between coalesce into one).
	socketsGap = 50 * time.Millisecond
	// maxIdleWorkers bounds the goroutines that ran a call and wait for the
	// next (see spawn).
	maxIdleWorkers = 64
)

// session is one page's WebSocket and the native session that performs its
// calls. It ends when the page goes away, and takes every socket with it.
type session struct {
	id       string      // random; the page names its session with it in the HTTP API
	checking atomic.Bool // a lesson check runs over this session: one at a time
	ws       *websocket.Conn
	native   *native.Session
	ctx      context.Context
	cancel   context.CancelFunc
	out      chan wire.Record // answers for the write pump
	calls    sync.WaitGroup
	slots    chan struct{} // one token per call in flight
	idle     chan func()   // unbuffered: a call handed to a worker waiting for one
	idlers   atomic.Int32  // workers waiting on idle, or about to
	peer     string
	started  time.Time
	changed  chan struct{}    // capacity 1: the sockets table may have changed
	tables   chan *wire.Event // capacity 1: the newest sockets table not yet sent
	slowed   atomic.Bool      // the policy's calls-per-second cap has delayed a call, and the log said so
	data     *budget          // bytes of call data the page's calls hold (--max-data-in-flight)
	waited   atomic.Bool      // a call has waited for the budget, and the log said so
	// leftoversSince is when a call that may change the table's leftovers
	// (native.ChangesLeftovers) was made, in Unix nanoseconds, if one was
	// since they were last read; 0 otherwise.
	leftoversSince atomic.Int64

	// An engine session (/engine) runs the page's programs in runner
	// processes (engine.go) and speaks JSON events; a relay session (/ws)
	// performs the calls of the program in the page's worker.
	engineMode bool
	events     chan []byte          // engine mode: JSON arrays of events for the write pump
	runMu      sync.Mutex           // one Run starts at a time
	spare      chan *runner.Process // a runner waiting for the next Run (keepSpare)
	runs       sync.WaitGroup
	procMu     sync.Mutex
	proc       *runner.Process   // the runner that runs now
	lastProc   *runner.Process   // the last one started: a check reads its trace after it ended
	procOwn    []wire.SocketInfo // proc's own sockets, as it last said

	// Frame counts, logged when the session ends: they show how well calls
	// and results are batched (make bench reads them). Each is written by
	// one pump only and read after both have stopped.
	framesIn, callsIn, framesOut, recordsOut int
}

// serveWebSocket upgrades an authorised request (Host and token were checked
// by ServeHTTP; the upgrader checks Origin) into a session: an engine
// session for /engine, a relay session for /ws.
func (b *bridge) serveWebSocket(w http.ResponseWriter, r *http.Request, engineMode bool) {
	if !b.originAllowed(r) {
		origin := r.Header.Get("Origin")
		switch origin {
		case "":
			origin = "no Origin"
		case "null":
			origin = "Origin null (a sandboxed frame or a file:// page)"
		default:
			origin = "Origin " + quoted(origin)
		}
		b.refuse(w, r, http.StatusForbidden, origin+" may not open a session: only the bridge's own page may (start the bridge with --allow-origin to add one)")
		return
	}
	b.mu.Lock()
	full := len(b.sessions)+b.opening >= b.cfg.maxSessions
	closing := b.closing
	if !full && !closing {
		b.opening++      // the slot is ours while the upgrade runs, so pages arriving together cannot all pass
		b.running.Add(1) // before closeSessions can run: serve's Wait waits for this session too
	}
	b.mu.Unlock()
	if closing {
		b.refuse(w, r, http.StatusServiceUnavailable, "the bridge is shutting down")
		return
	}
	if full {
		b.refuse(w, r, http.StatusServiceUnavailable, fmt.Sprintf("too many pages connected (the limit is %d; start the bridge with --max-sessions to change it)", b.cfg.maxSessions))
		return
	}
	ws, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		b.mu.Lock()
		b.opening--
		b.mu.Unlock()
		b.running.Done()
		b.log.Printf("refused websocket from %s: %v", r.RemoteAddr, err)
		return // the upgrader has answered
	}
	if b.afterUpgrade != nil {
		b.afterUpgrade()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		id:      randomHex(),
		ws:      ws,
		native:  native.NewSession(b.cfg.policy),
		ctx:     ctx,
		cancel:  cancel,
		out:     make(chan wire.Record, resultBacklog),
		slots:   make(chan struct{}, b.cfg.maxPending),
		idle:    make(chan func()),
		peer:    r.RemoteAddr,
		started: time.Now(),
		changed: make(chan struct{}, 1),
		tables:  make(chan *wire.Event, 1),

		engineMode: engineMode,
		events:     make(chan []byte, resultBacklog),
		spare:      make(chan *runner.Process),
		data:       newBudget(b.cfg.maxDataInFlight),
	}
	s.native.Watch(b.recent.list(time.Now())...)
	b.mu.Lock()
	b.opening--
	b.sessions[s] = struct{}{}
	if b.closing {
		s.cancel() // upgraded as the bridge shut down, after closeSessions
	}
	b.mu.Unlock()
	b.log.Kindf("sessions opened", "session from %s opened", s.peer)
	go func() {
		defer b.running.Done()
		s.run(b)
		b.recent.add(s.native.Ports(), time.Now())
		b.mu.Lock()
		delete(b.sessions, s)
		b.mu.Unlock()
		if s.data.highWater() >= memoryBackAfter {
			b.giveMemoryBack()
		}
		b.log.Kindf("sessions closed", "session from %s closed after %s: %d calls in %d frames, %d records out in %d frames",
			s.peer, time.Since(s.started).Round(time.Millisecond), s.callsIn, s.framesIn, s.recordsOut, s.framesOut)
	}()
}

// sessionByID finds an open session by its id, or nil.
func (b *bridge) sessionByID(id string) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.sessions {
		if subtle.ConstantTimeCompare([]byte(s.id), []byte(id)) == 1 {
			return s
		}
	}
	return nil
}

// closeSessions ends every session, and every one still opening, and the
// requests in progress (lesson checks), as on shutdown. No session starts
// after it.
func (b *bridge) closeSessions() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closing = true
	b.stopBase()
	for s := range b.sessions {
		s.cancel()
	}
}

// run pumps frames both ways until the page goes away or the bridge stops,
// then closes every socket of the session and waits for its calls to return.
func (s *session) run(b *bridge) {
	s.send(wire.Record{Event: &wire.Event{Kind: wire.EventHello, Message: "sockstep bridge", Session: s.id}})
	if s.engineMode {
		s.runs.Add(1)
		go s.keepSpare(b)
	}
	pumped := make(chan struct{})
	go func() {
		if s.engineMode {
			s.writeEngine()
		} else {
			s.writePump()
		}
		close(pumped)
	}()
	watched := make(chan struct{})
	go func() {
		s.watchSockets()
		close(watched)
	}()
	s.touchLeftovers() // the previous run's leftovers, if any
	s.readPump(b)
	s.cancel()
	s.endProgram()
	s.native.Close()
	s.calls.Wait()
	<-pumped
	<-watched
	s.ws.Close()
}

// touchLeftovers says the sockets table may have changed, its leftovers
// included.
func (s *session) touchLeftovers() {
	s.leftoversSince.CompareAndSwap(0, time.Now().UnixNano())
	s.touch()
}

// touch says the sockets table may have changed, but not its leftovers
// unless touchLeftovers says so too.
func (s *session) touch() {
	select {
	case s.changed <- struct{}{}:
	default: // already due
	}
}

// watchSockets sends the sockets table when it differs from the last one
// sent: after calls (touch), and every socketsPoll while it can change
// without one. It returns when the session ends.
//
// The leftovers part of the table (native.Session.LeftoversSince) costs the
// kernel a walk of its whole connection hash, so it is asked for again only
// when a call may have changed it, or when it is socketsPoll old: a stream
// of reads and writes does not change it, and what changes it without a
// call shows within socketsPoll, as it does in a session that makes no
// calls. One read serves every session that wants it (native/table.go).
func (s *session) watchSockets() {
	var last []byte
	var poll <-chan time.Time
	var left []wire.SocketInfo
	var leftErr error
	var leftAt time.Time // when the read of left started
	for {
		polled := false
		select {
		case <-s.ctx.Done():
			return
		case <-s.changed:
		case <-poll:
			polled = true
		}
		s.procMu.Lock()
		table := append([]wire.SocketInfo(nil), s.procOwn...) // the program's, when a runner runs it
		s.procMu.Unlock()
		table = append(table, s.native.OwnSockets()...)
		if since := s.leftoversSince.Swap(0); since != 0 {
			left, leftAt, leftErr = s.native.LeftoversSince(time.Unix(0, since))
		} else if polled || time.Since(leftAt) >= socketsPoll {
			left, leftAt, leftErr = s.native.LeftoversSince(time.Now().Add(-socketsGap))
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
			s.offerTable(ev)
		}
		poll = nil
		if len(table) > 0 || len(s.slots) > 0 {
			poll = time.After(socketsPoll)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(socketsGap):
		}
	}
}

// offerTable hands the write pump the newest table, replacing one it has not
// sent yet: a page that reads slowly gets the latest table, not a backlog.
func (s *session) offerTable(ev *wire.Event) {
	for {
		select {
		case s.tables <- ev:
			return
		default:
		}
		select {
		case <-s.tables: // stale
		default:
		}
	}
}

// readPump reads frames of calls and starts each call. It returns when the
// connection fails or the session's context ends.
func (s *session) readPump(b *bridge) {
	s.ws.SetReadLimit(wire.MaxFrame)
	s.ws.SetReadDeadline(time.Now().Add(pongWait))
	s.ws.SetPongHandler(func(string) error { return s.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	stop := context.AfterFunc(s.ctx, func() { s.ws.SetReadDeadline(time.Now()) }) // unblock ReadMessage
	defer stop()
	for {
		kind, frame, err := s.ws.ReadMessage()
		if err != nil {
			if s.ctx.Err() == nil && !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				b.log.Printf("session from %s: %v", s.peer, err)
			}
			return
		}
		s.ws.SetReadDeadline(time.Now().Add(pongWait)) // any frame shows the page is alive
		if s.engineMode {
			if kind != websocket.TextMessage {
				s.problem(b, "refused: not a request", 0, "expected a text frame holding one request, got a binary message")
				continue
			}
			s.framesIn++
			s.callsIn++
			s.request(b, frame)
			s.ws.SetReadDeadline(time.Now().Add(pongWait)) // the request may have waited for the data budget
			continue
		}
		if kind != websocket.BinaryMessage {
			s.problem(b, "refused: not a frame of calls", 0, "expected a binary frame of call records, got a text message")
			continue
		}
		records, err := wire.DecodeFrame(frame)
		s.framesIn++
		s.callsIn += len(records)
		for _, rec := range records {
			s.start(b, rec)
		}
		s.ws.SetReadDeadline(time.Now().Add(pongWait)) // its calls may have waited for the data budget
		if err != nil {
			s.problem(b, "refused: malformed frames", 0, "malformed frame: "+err.Error())
		}
	}
}

// start runs one call in its own goroutine, so a blocked accept does not
// hold up the calls of other goroutines of the learner's program.
func (s *session) start(b *bridge, rec wire.Record) {
	if rec.Call == nil {
		s.problem(b, "refused: the page may only send calls", 0, "the page may only send calls")
		return
	}
	call := *rec.Call
	held := s.dataOf(&call)
	if !s.holdData(b, held) {
		return // the session is ending
	}
	call.Data = append([]byte(nil), call.Data...) // the frame's buffer is reused by the next read
	select {
	case s.slots <- struct{}{}:
	default:
		s.data.give(held)
		s.problem(b, "refused: --max-pending-calls", call.ID, fmt.Sprintf("too many calls waiting at once (the limit is %d; start the bridge with --max-pending-calls to change it)", cap(s.slots)))
		return
	}
	s.calls.Add(1)
	s.spawn(func() {
		defer s.calls.Done()
		defer func() { <-s.slots }()
		keep := int64(0) // a read's bytes, held until the write pump has sent them
		defer func() { s.data.give(held - keep) }()
		var res *wire.Result
		var err error
		if call.Op.IsClient() {
			res, err = s.native.Client(s.ctx, &call, s.notify)
		} else {
			res, err = s.native.Do(s.ctx, &call)
		}
		if native.ChangesLeftovers(call.Op) {
			s.touchLeftovers()
		} else {
			s.touch()
		}
		if err != nil {
			s.problem(b, "refused: malformed calls", call.ID, err.Error())
			return
		}
		keep = min(int64(len(res.Data)), held)
		if res.Refused != nil {
			b.log.Kindf(refusedCallKind(call.Op, res.Refused), "session from %s: refused %s: %v", s.peer, wire.FormatCall(&call), res.Refused)
		}
		if s.native.Slowed() > 0 && s.slowed.CompareAndSwap(false, true) {
			b.log.Printf("session from %s: slowing its calls to %d a second (start the bridge with --max-calls-per-second to change it)", s.peer, b.cfg.policy.CallsPerSecond)
		}
		s.send(wire.Record{Result: res})
	})
}

// spawn runs call on a goroutine of its own: an idle worker if one waits,
// else a new one. A worker keeps its grown stack from call to call, where
// a fresh goroutine per call grew (copied) its stack on every call; none is
// ever shared by two calls at once, so a blocked call holds up no other.
func (s *session) spawn(call func()) {
	select {
	case s.idle <- call:
	default:
		go s.work(call)
	}
}

// work runs call, then the calls spawn hands it, until the session ends.
// Past maxIdleWorkers waiting at once, a worker ends instead of waiting.
func (s *session) work(call func()) {
	for {
		call()
		if s.idlers.Add(1) > maxIdleWorkers {
			s.idlers.Add(-1)
			return
		}
		select {
		case call = <-s.idle:
			s.idlers.Add(-1)
		case <-s.ctx.Done():
			return
		}
	}
}

// dataOf is the bytes a call holds in the bridge: its data, or for a read
// the most it may return.
func (s *session) dataOf(c *wire.Call) int64 {
	if c.Op == wire.OpRead {
		return int64(min(max(c.Size, 0), wire.MaxData))
	}
	return int64(len(c.Data))
}

// holdData takes n bytes of the session's data budget for a call, waiting
// while the page's earlier calls hold it all (the page's next frames wait
// meanwhile), and says once in the log that the page's calls wait. It
// reports false when the session ended first.
//
// While it waits the page's frames are not read, so every peerCheck it
// looks whether the page has gone: by its connection's state (the page's
// close, or its reset), and by a ping, which a closed page answers with a
// reset (its close may wait behind frames the bridge has not read).
func (s *session) holdData(b *bridge, n int64) bool {
	if s.data.tryTake(n) {
		return true // the usual case: no timer
	}
	for {
		ctx, cancel := context.WithTimeout(s.ctx, peerCheck)
		waited, err := s.data.take(ctx, n)
		cancel()
		if waited && s.waited.CompareAndSwap(false, true) {
			b.log.Kindf("calls waiting: --max-data-in-flight", "session from %s: its calls wait: their data in the bridge reached %d MiB, the most allowed (start the bridge with --max-data-in-flight to change it)", s.peer, b.cfg.maxDataInFlight>>20)
		}
		switch {
		case err == nil:
			return true
		case s.ctx.Err() != nil:
			return false
		case native.PeerGone(s.ws.NetConn().(syscall.Conn)),
			s.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(peerCheck)) != nil:
			s.cancel()
			return false
		}
	}
}

// peerCheck is how often a session whose calls wait for the data budget
// looks whether its page is still there.
const peerCheck = 250 * time.Millisecond

// notify passes a client's event to the page.
func (s *session) notify(e *wire.Event) {
	s.send(wire.Record{Event: e})
	s.touchLeftovers()
}

// refusedCallKind is the log's kind for a call the policy refused: one per
// op and rule, so a flood of one refusal does not hide another.
func refusedCallKind(op wire.Op, r *wire.Refusal) string {
	if r.Flag == "" {
		return fmt.Sprintf("refused %s: %s", op, r.Rule)
	}
	return fmt.Sprintf("refused %s: %s (%s)", op, r.Rule, r.Flag)
}

// problem answers a record the bridge could not accept, and logs it under
// kind (logs.go).
func (s *session) problem(b *bridge, kind string, id uint64, message string) {
	b.log.Kindf(kind, "session from %s: refused a record: %s", s.peer, message)
	s.send(wire.Record{Problem: &wire.Problem{ID: id, Message: message}})
}

// send queues a record for the write pump, unless the session is ending.
// An engine session's page reads events: a record becomes one, if the page
// is told of it.
func (s *session) send(rec wire.Record) {
	if s.engineMode {
		switch {
		case rec.Event != nil:
			if ev, ok := engine.FromBridge(rec.Event); ok {
				s.pushEvent(ev)
			}
		case rec.Problem != nil:
			s.answer(rec.Problem.ID, nil, rec.Problem)
		}
		return
	}
	select {
	case s.out <- rec:
	case <-s.ctx.Done():
	}
}

// writePump writes answers, batching every answer that is ready into one
// frame, and pings the page so a silent one is noticed.
func (s *session) writePump() {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	var frame []byte
	var sent int64 // bytes of reads' data in the frame, held in the data budget
	for {
		var first wire.Record
		select {
		case first = <-s.out: // answers first: the hello and results never wait behind a table
		default:
			select {
			case <-s.ctx.Done():
				s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "session ended"), time.Now().Add(time.Second))
				return
			case <-ping.C:
				if err := s.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
					s.cancel()
					return
				}
				continue
			case first = <-s.out:
			case table := <-s.tables:
				first = wire.Record{Event: table}
			}
		}
		// Answers that are a moment away join this frame: the calls of one
		// frame from the page mostly finish together, and one frame costs
		// the page far less than one per answer.
		for n := len(s.out); ; n = len(s.out) {
			runtime.Gosched()
			if len(s.out) == n {
				break
			}
		}
		frame = frame[:0]
		for rec := first; ; rec = <-s.out {
			if rec.Result != nil {
				sent += int64(len(rec.Result.Data))
			}
			var err error
			if frame, err = wire.AppendRecord(frame, rec); err != nil {
				frame, _ = wire.AppendRecord(frame, wire.Record{Problem: &wire.Problem{Message: err.Error()}})
			}
			s.recordsOut++
			if len(frame) >= wire.MaxFrame-wire.MaxData-wire.MaxHeader || len(s.out) == 0 {
				break
			}
		}
		s.ws.SetWriteDeadline(time.Now().Add(writeWait))
		err := s.ws.WriteMessage(websocket.BinaryMessage, frame)
		s.data.give(sent) // the reads' bytes have left, or will never
		sent = 0
		if err != nil {
			s.cancel()
			return
		}
		s.framesOut++
	}
}
