package bridge

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime"
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
)

// sessionConfig is what a session needs of the bridge's configuration.
type sessionConfig struct {
	policy          native.Policy // the page's calls and its client panel's
	maxPending      int           // --max-pending-calls
	maxDataInFlight int64         // --max-data-in-flight, in bytes
	runner          runner.Config // how a Run starts its runner process
	maxMemory       int64         // bytes of memory one runner's program may use
}

func (c config) session() sessionConfig {
	return sessionConfig{policy: c.policy, maxPending: c.maxPending, maxDataInFlight: c.maxDataInFlight, runner: c.runner, maxMemory: c.maxMemory}
}

// sessionLog is the bridge's log as a session writes to it: each line
// starts "session from PEER: ", and is of the kind it would be without the
// prefix, counted across sessions (logs.go).
type sessionLog struct {
	log  *bridgeLog
	peer string
}

// Printf writes a line of the kind named by its format.
func (l sessionLog) Printf(format string, args ...any) {
	l.log.Printf("session from %s: "+format, append([]any{l.peer}, args...)...)
}

// Kindf writes a line of the named kind.
func (l sessionLog) Kindf(kind, format string, args ...any) {
	l.log.Kindf(kind, "session from %s: "+format, append([]any{l.peer}, args...)...)
}

// session is one page's WebSocket and the native session that performs its
// calls. It ends when the page goes away, and takes every socket with it.
type session struct {
	id       string      // random; the page names its session with it in the HTTP API
	checking atomic.Bool // a lesson check runs over this session: one at a time
	cfg      sessionConfig
	log      sessionLog
	peer     string
	started  time.Time
	ws       *websocket.Conn
	native   *native.Session
	ctx      context.Context
	cancel   context.CancelFunc
	out      chan wire.Record // answers for the write pump
	calls    *pool            // runs the page's calls and client operations
	sockets  *socketsWatch    // the sockets table, for the write pump
	data     *budget          // bytes of call data the page's calls hold (--max-data-in-flight)
	slowed   atomic.Bool      // the policy's calls-per-second cap has delayed a call, and the log said so
	waited   atomic.Bool      // a call has waited for the budget, and the log said so

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
	s := newSession(ws, r.RemoteAddr, engineMode, b.cfg.session(), b.log)
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
		s.run()
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

// newSession is the session of the page at peer over ws: an engine
// session, or a relay session.
func newSession(ws *websocket.Conn, peer string, engineMode bool, cfg sessionConfig, log *bridgeLog) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		id:      randomHex(),
		cfg:     cfg,
		log:     sessionLog{log, peer},
		ws:      ws,
		native:  native.NewSession(cfg.policy),
		ctx:     ctx,
		cancel:  cancel,
		out:     make(chan wire.Record, resultBacklog),
		calls:   newPool(cfg.maxPending, ctx.Done()),
		peer:    peer,
		started: time.Now(),

		engineMode: engineMode,
		events:     make(chan []byte, resultBacklog),
		spare:      make(chan *runner.Process),
		data:       newBudget(cfg.maxDataInFlight),
	}
	s.sockets = newSocketsWatch(s.native, s.programOwn, func() bool { return s.calls.busy() > 0 })
	return s
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
func (s *session) run() {
	s.send(wire.Record{Event: &wire.Event{Kind: wire.EventHello, Message: "sockstep bridge", Session: s.id}})
	if s.engineMode {
		s.runs.Add(1)
		go s.keepSpare()
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
		s.sockets.run(s.ctx)
		close(watched)
	}()
	s.sockets.touchLeftovers() // the previous run's leftovers, if any
	s.readPump()
	s.cancel()
	s.endProgram()
	s.native.Close()
	s.calls.wait()
	<-pumped
	<-watched
	s.ws.Close()
}

// readPump reads frames of calls and starts each call. It returns when the
// connection fails or the session's context ends.
func (s *session) readPump() {
	s.ws.SetReadLimit(wire.MaxFrame)
	// The deadline is pushed back as the page shows it is alive, and set to
	// now to unblock ReadMessage when the session ends; once it ends, it is
	// never pushed back again (a frame read just before the end would
	// otherwise keep the session, and a bridge shutting down, waiting).
	var deadlineMu sync.Mutex
	ending := false
	alive := func() error {
		deadlineMu.Lock()
		defer deadlineMu.Unlock()
		if ending {
			return nil
		}
		return s.ws.SetReadDeadline(time.Now().Add(pongWait))
	}
	alive()
	s.ws.SetPongHandler(func(string) error { return alive() })
	stop := context.AfterFunc(s.ctx, func() {
		deadlineMu.Lock()
		defer deadlineMu.Unlock()
		ending = true
		s.ws.SetReadDeadline(time.Now())
	})
	defer stop()
	for {
		kind, frame, err := s.ws.ReadMessage()
		if err != nil {
			if s.ctx.Err() == nil && !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				s.log.Printf("%v", err)
			}
			return
		}
		alive() // any frame shows the page is alive
		if s.engineMode {
			if kind != websocket.TextMessage {
				s.problem("refused: not a request", 0, "expected a text frame holding one request, got a binary message")
				continue
			}
			s.framesIn++
			s.callsIn++
			s.request(frame)
			alive() // the request may have waited for the data budget
			continue
		}
		if kind != websocket.BinaryMessage {
			s.problem("refused: not a frame of calls", 0, "expected a binary frame of call records, got a text message")
			continue
		}
		records, err := wire.DecodeFrame(frame)
		s.framesIn++
		s.callsIn += len(records)
		for _, rec := range records {
			s.start(rec)
		}
		alive() // its calls may have waited for the data budget
		if err != nil {
			s.problem("refused: malformed frames", 0, "malformed frame: "+err.Error())
		}
	}
}

// start runs one call in its own goroutine, so a blocked accept does not
// hold up the calls of other goroutines of the learner's program.
func (s *session) start(rec wire.Record) {
	if rec.Call == nil {
		s.problem("refused: the page may only send calls", 0, "the page may only send calls")
		return
	}
	call := *rec.Call
	held := s.dataOf(&call)
	if !s.holdData(held) {
		return // the session is ending
	}
	call.Data = append([]byte(nil), call.Data...) // the frame's buffer is reused by the next read
	ok := s.calls.tryGo(func() {
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
			s.sockets.touchLeftovers()
		} else {
			s.sockets.touch()
		}
		if err != nil {
			s.problem("refused: malformed calls", call.ID, err.Error())
			return
		}
		keep = min(int64(len(res.Data)), held)
		if res.Refused != nil {
			s.log.Kindf(refusedCallKind(call.Op, res.Refused), "refused %s: %v", wire.FormatCall(&call), res.Refused)
		}
		if s.native.Slowed() > 0 && s.slowed.CompareAndSwap(false, true) {
			s.log.Printf("slowing its calls to %d a second (start the bridge with --max-calls-per-second to change it)", s.cfg.policy.CallsPerSecond)
		}
		s.send(wire.Record{Result: res})
	})
	if !ok {
		s.data.give(held)
		s.problem("refused: --max-pending-calls", call.ID, fmt.Sprintf("too many calls waiting at once (the limit is %d; start the bridge with --max-pending-calls to change it)", s.calls.limit()))
	}
}

// dataOf is the bytes a call holds in the bridge: its data, or for a read
// (or recvfrom) the most it may return.
func (s *session) dataOf(c *wire.Call) int64 {
	if c.Op == wire.OpRead || c.Op == wire.OpRecvfrom {
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
func (s *session) holdData(n int64) bool {
	if s.data.tryTake(n) {
		return true // the usual case: no timer
	}
	for {
		ctx, cancel := context.WithTimeout(s.ctx, peerCheck)
		waited, err := s.data.take(ctx, n)
		cancel()
		if waited && s.waited.CompareAndSwap(false, true) {
			s.log.Kindf("calls waiting: --max-data-in-flight", "its calls wait: their data in the bridge reached %d MiB, the most allowed (start the bridge with --max-data-in-flight to change it)", s.cfg.maxDataInFlight>>20)
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
	s.sockets.touchLeftovers()
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
func (s *session) problem(kind string, id uint64, message string) {
	s.log.Kindf(kind, "refused a record: %s", message)
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
			case table := <-s.sockets.tables:
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
