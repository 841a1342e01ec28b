package bridge

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/runner"
	"github.com/sockstep/sockstep/wasm/engine"
)

// The page's engine behind the bridge (/engine): the page sends requests of
// the page⇄engine protocol as text frames, one JSON object each, and reads
// JSON arrays of engine events back, answers included. Each Run starts a
// runner process (package runner) that runs the program on its own
// native.Session; this session relays between the page and it, answers the
// client panel itself, and adds the clients' sockets and the leftovers to
// the program's own in the sockets table. The bridge never runs learner
// code.

// errNotRunning answers step, pause and setBreakpoints while no program runs.
var errNotRunning = errors.New("no program is running")

// stopWait bounds how long Run waits for the previous program to end: its
// grace period after SIGTERM, then SIGKILL, which ends any process.
const stopWait = 5 * time.Second

// request performs one request from the page.
func (s *session) request(data []byte) {
	req, err := engine.ParseRequest(data)
	if err != nil {
		s.log.Printf("refused a request: %v", err)
		s.answer(req.ID, nil, err)
		return
	}
	switch req.Method {
	case engine.MethodRun:
		go s.startRun(req)
	case engine.MethodStop:
		p := s.program()
		if p == nil {
			s.answer(req.ID, nil, errNotRunning)
			return
		}
		p.Stop()
		s.answer(req.ID, nil, nil)
	case engine.MethodStep, engine.MethodPause, engine.MethodSetBreakpoints:
		p := s.program()
		if p == nil {
			s.answer(req.ID, nil, errNotRunning)
			return
		}
		if err := p.Request(req); err != nil {
			s.answer(req.ID, nil, err)
		}
	case engine.MethodClient:
		s.client(req)
	default:
		s.answer(req.ID, nil, fmt.Errorf("%s is answered by the page's own engine, not the bridge", req.Method))
	}
}

// startRun ends the program that runs, if any, then starts req's in a
// runner process of its own, and answers {pid}.
func (s *session) startRun(req engine.Request) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if prev := s.program(); prev != nil {
		prev.Stop()
		select {
		case <-prev.Done():
		case <-time.After(stopWait):
			prev.Kill()
			<-prev.Done()
		}
	}
	if s.ctx.Err() != nil {
		return // the page has gone meanwhile
	}
	prog := &runner.Program{
		Source: req.Source, Name: req.Name, Debug: req.Debug, Breakpoints: req.Breakpoints,
		Policy: s.cfg.runnerPolicy(), MaxMemory: s.cfg.maxMemory, MaxStack: maxStack,
	}
	handlers := runner.Handlers{Events: s.pushEvents, Own: s.programSockets, Exit: s.programEnded}
	var p *runner.Process
	select {
	case p = <-s.spare:
	default:
	}
	var err error
	if p == nil || p.Run(prog, handlers) != nil { // no spare, or it died waiting
		p, err = runner.Start(s.cfg.runner, prog, handlers)
	}
	if err != nil {
		s.log.Printf("%v", err)
		s.answer(req.ID, nil, err)
		return
	}
	s.procMu.Lock()
	s.proc, s.lastProc, s.procOwn = p, p, nil
	s.procMu.Unlock()
	s.runs.Add(1)
	s.log.Printf("runner %d runs %s", p.Pid, p.Name)
	s.pushEvent(engine.ProcessEvent{Pid: p.Pid, Name: p.Name})
	s.answer(req.ID, map[string]int{"pid": p.Pid}, nil)
}

// keepSpare keeps a runner started and waiting for the page's next Run,
// until the page goes away: Run then hands it the program and does not
// wait for a process to start.
func (s *session) keepSpare() {
	defer s.runs.Done()
	for s.ctx.Err() == nil {
		p, err := runner.Spawn(s.cfg.runner)
		if err != nil {
			s.log.Printf("a spare runner: %v", err)
			return // each Run starts its own
		}
		select {
		case s.spare <- p:
		case <-s.ctx.Done():
			p.Discard()
		}
	}
}

// maxStack bounds one goroutine's stack in a runner: a runaway recursion
// ends there, with a sentence, long before the memory cap.
const maxStack = 128 << 20

// program is the runner that runs now, or nil.
func (s *session) program() *runner.Process {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	return s.proc
}

// programOwn is a copy of the runner's own sockets, as it last said; none
// while no runner runs.
func (s *session) programOwn() []wire.SocketInfo {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	return append([]wire.SocketInfo(nil), s.procOwn...)
}

// programSockets keeps the runner's own sockets for the table, and has the
// session look for leftovers on their ports.
func (s *session) programSockets(o *runner.Own) {
	s.procMu.Lock()
	s.procOwn = o.Sockets
	s.procMu.Unlock()
	s.native.Watch(o.Ports...)
	if o.Leftovers {
		s.sockets.touchLeftovers()
	} else {
		s.sockets.touch()
	}
}

// programEnded tells the page how the program ended; the kernel has closed
// its sockets, so the table's leftovers are read again.
func (s *session) programEnded(p *runner.Process, status string) {
	s.procMu.Lock()
	if s.proc == p {
		s.proc, s.procOwn = nil, nil
	}
	s.procMu.Unlock()
	s.sockets.touchLeftovers()
	s.pushEvent(engine.ExitEvent{Error: status})
	s.runs.Done()
}

// endProgram kills the runner as the page goes away, and waits for it.
func (s *session) endProgram() {
	if p := s.program(); p != nil {
		p.Kill()
	}
	s.runs.Wait()
}

// trace is what a lesson's checker reads: the calls of the page's program
// as its session recorded them — the runner's, in engine mode, while it
// runs and after it has ended.
func (s *session) trace() []native.TraceEntry {
	if !s.engineMode {
		return s.native.Trace()
	}
	s.procMu.Lock()
	p := s.lastProc
	s.procMu.Unlock()
	if p == nil {
		return nil
	}
	return p.Trace()
}

// client performs one of the client panel's operations on the session's
// own native.Session, as for the relay, and answers it.
func (s *session) client(req engine.Request) {
	call, err := req.ClientCall()
	if err != nil {
		s.answer(req.ID, nil, err)
		return
	}
	held := s.dataOf(call)
	if !s.holdData(held) {
		return // the session is ending
	}
	ok := s.calls.tryGo(func() {
		defer s.data.give(held)
		res, err := s.native.Client(s.ctx, call, s.notify)
		s.sockets.touchLeftovers()
		if err == nil {
			err = engine.ClientError(res)
		}
		if err != nil {
			if res != nil && res.Refused != nil {
				s.log.Printf("refused %s: %v", wire.FormatCall(call), res.Refused)
			}
			s.answer(req.ID, nil, err)
			return
		}
		switch call.Op {
		case wire.OpClientOpen:
			s.answer(req.ID, map[string]any{"id": res.Ret, "local": res.Addr.String()}, nil)
		case wire.OpClientSend:
			s.answer(req.ID, res.Ret, nil)
		default:
			s.answer(req.ID, nil, nil)
		}
	})
	if !ok {
		s.data.give(held)
		s.answer(req.ID, nil, fmt.Errorf("too many operations waiting at once (the limit is %d; start the bridge with --max-pending-calls to change it)", s.calls.limit()))
	}
}

// answer settles the page's request id.
func (s *session) answer(id uint64, value any, err error) {
	s.pushEvent(engine.Answer(id, value, err))
}

// pushEvent sends one event of the bridge's own to the page.
func (s *session) pushEvent(e engine.Event) {
	s.pushEvents(append(e.AppendJSON([]byte{'['}), ']'))
}

// pushEvents queues a JSON array of events for the write pump. It waits
// while the page reads slowly: a runner whose events wait leaves out what
// the page cannot take (runner's sink), so nothing grows without bound.
func (s *session) pushEvents(json []byte) {
	select {
	case s.events <- append([]byte(nil), json...):
	case <-s.ctx.Done():
	}
}

// writeEngine is the write pump of an engine session: it joins the event
// arrays that are ready into one text frame, and pings the page.
func (s *session) writeEngine() {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	var frame []byte
	for {
		var first []byte
		select {
		case first = <-s.events: // answers and events first: a table never delays them
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
			case first = <-s.events:
			case table := <-s.sockets.tables:
				ev, _ := engine.FromBridge(table)
				first = append(ev.AppendJSON([]byte{'['}), ']')
			}
		}
		frame = append(frame[:0], first...)
		s.recordsOut++
		for len(frame) < wire.MaxFrame {
			var more []byte
			select {
			case more = <-s.events:
			default:
			}
			if more == nil {
				break
			}
			// [a,b] and [c] make [a,b,c].
			frame = append(append(frame[:len(frame)-1], ','), more[1:]...)
			s.recordsOut++
		}
		s.ws.SetWriteDeadline(time.Now().Add(writeWait))
		if err := s.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			s.cancel()
			return
		}
		s.framesOut++
	}
}

// runnerPolicy is the policy of a runner's session: the page's, but for the
// calls-per-second cap, which guards the bridge against a page's relayed
// calls; a runner's calls never reach the bridge.
func (c sessionConfig) runnerPolicy() native.Policy {
	p := c.policy
	p.CallsPerSecond = 0
	return p
}
