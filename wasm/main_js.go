// Command wasm is engine.wasm, the engine of the page's Web Workers. This
// file is its boundary with JavaScript: one global, sockstepEngine, mirrored
// by site/src/engine.d.ts (SockstepEngine): change both together.
//
// A worker has one of two roles, chosen by start. The in-page runner
// connects to the bridge and runs the learner's program; the editor's tools
// have no bridge and answer check and format while the learner types (and
// the binary workspace helpers of files_js.go). Both speak the page⇄engine
// protocol of wasm/engine/protocol.go: the page hands request a Request as
// JSON, and every answer is an event in the stream onEvents receives, after
// the events its request caused.
package main

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/engine"
	"github.com/sockstep/sockstep/wasm/relay"
)

// dialTimeout bounds start's wait for the bridge.
const dialTimeout = 15 * time.Second

// maxStack bounds a goroutine's stack below the depth at which the
// browser's own call stack overflows (in Chromium between 2 and 4 MB of Go
// stack): a learner's runaway recursion then dies as Go's "stack overflow",
// which the worker can name, rather than as a JavaScript RangeError that
// tears through the runtime. Interpreted recursion stays fine to well over a
// thousand calls deep.
const maxStack = 2 << 20

func main() {
	debug.SetMaxStack(maxStack)
	b := &boundary{}
	js.Global().Set("sockstepEngine", js.ValueOf(map[string]any{
		"start":       promise(b.start),
		"request":     js.FuncOf(b.request),
		"zip":         promise(zipFiles),
		"unzip":       promise(unzipFiles),
		"legacyFiles": promise(legacyFiles),
	}))
	select {} // the worker lives as long as the page wants it
}

// boundary holds what start sets up for the requests.
type boundary struct {
	events  atomic.Pointer[engine.Batch] // set by start; every answer goes through it
	mu      sync.Mutex
	engine  *engine.Engine // nil in the tools role
	relay   *relay.Relay
	running atomic.Bool // a run was answered and has not ended
}

// promise wraps f as a JavaScript function returning a Promise. f runs in
// its own goroutine, since it may block (on the bridge, on IndexedDB) and a
// JavaScript callback must not.
func promise(f func(args []js.Value) (any, error)) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) any {
		var handler js.Func
		handler = js.FuncOf(func(this js.Value, pr []js.Value) any {
			resolve, reject := pr[0], pr[1]
			go func() {
				defer handler.Release()
				v, err := safely(func() (any, error) { return f(args) })
				settle(resolve, reject, v, err)
			}()
			return nil
		})
		return js.Global().Get("Promise").New(handler)
	})
}

func settle(resolve, reject js.Value, v any, err error) {
	defer func() { recover() }() // a throwing then-handler is the page's to report
	if err != nil {
		reject.Invoke(js.Global().Get("Error").New(err.Error()))
		return
	}
	resolve.Invoke(v)
}

// safely calls f, turning a panic (a JavaScript exception raised through
// syscall/js, or a bug of ours) into an error.
func safely(f func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			if jsErr, ok := r.(js.Error); ok {
				err = fmt.Errorf("javascript: %s", jsErr.Value.Get("message").String())
				return
			}
			err = fmt.Errorf("engine: %v", r)
		}
	}()
	return f()
}

// start({onEvents, bridgeURL?}) readies the engine. onEvents receives its
// events in batches, each a JSON array. With bridgeURL (ws:// or wss://)
// this is the in-page runner and start resolves once connected; without,
// these are the editor's tools, which need no bridge.
func (b *boundary) start(args []js.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return nil, errors.New("start needs {onEvents, bridgeURL?}")
	}
	opts := args[0]
	url := opts.Get("bridgeURL")
	onEvents := opts.Get("onEvents")
	if onEvents.Type() != js.TypeFunction {
		return nil, errors.New("onEvents must be a function")
	}
	if !url.IsUndefined() && (url.Type() != js.TypeString || url.String() == "") {
		return nil, errors.New("bridgeURL must be a ws:// or wss:// URL")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.events.Load() != nil {
		return nil, errors.New("the engine is already started")
	}
	events := engine.NewBatch(func(json []byte) {
		defer func() { recover() }() // an exception in the page's handler must not kill the engine
		onEvents.Invoke(string(json))
	})
	if url.IsUndefined() {
		b.events.Store(events)
		return nil, nil
	}

	started := make(chan bool, 1) // whether start succeeded: a close is news only after a success
	emit := events.Add
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	r, err := relay.Dial(ctx, url.String(),
		relay.WithEvents(func(e *wire.Event) {
			if ev, ok := engine.FromBridge(e); ok {
				emit(ev)
			}
		}),
		relay.WithProblems(func(p *wire.Problem) {
			emit(engine.OutputEvent{Stream: "stderr", Text: p.Error() + "\n"})
		}),
		relay.WithClose(func(err error) {
			go func() { // wait until start has returned
				if <-started {
					emit(engine.DisconnectedEvent{Message: err.Error()})
				}
			}()
		}))
	started <- err == nil
	if err != nil {
		return nil, err
	}
	b.engine = engine.New(r.Call, emit)
	b.relay = r
	b.events.Store(events)
	return nil, nil
}

// request(json) takes one engine.Request, encoded; it returns nothing and
// its answer event follows in onEvents. A request before start has nowhere
// to be answered: the worker sends none.
func (b *boundary) request(this js.Value, args []js.Value) any {
	var data string
	if len(args) > 0 && args[0].Type() == js.TypeString {
		data = args[0].String()
	}
	go b.serve(data) // it may block (on the bridge, on a paused program)
	return nil
}

// serve performs one request and answers it.
func (b *boundary) serve(data string) {
	events := b.events.Load()
	if events == nil {
		return
	}
	r, err := engine.ParseRequest([]byte(data))
	if err != nil {
		events.Add(engine.Answer(r.ID, nil, err))
		return
	}
	if r.Method == engine.MethodRun {
		b.run(r, events)
		return
	}
	v, err := safely(func() (any, error) { return b.perform(r) })
	events.Add(engine.Answer(r.ID, v, err))
}

// perform does what r asks, other than run, and returns its answer's value.
func (b *boundary) perform(r engine.Request) (any, error) {
	switch r.Method {
	case engine.MethodCheck:
		return engine.Check(r.Source)
	case engine.MethodFormat:
		return engine.Format(r.Source)
	case engine.MethodStop:
		return nil, errors.New("stop: the in-page runner is stopped by ending its worker")
	}
	e, rl, err := b.runner(r.Method)
	if err != nil {
		return nil, err
	}
	if r.Method == engine.MethodClient {
		return client(rl, r)
	}
	return nil, e.Control(r)
}

// runner is the engine that runs programs and its bridge, or why this
// worker has none.
func (b *boundary) runner(method string) (*engine.Engine, *relay.Relay, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.engine == nil {
		return nil, nil, fmt.Errorf("%s: this engine serves the editor (check, format) and is connected to no bridge", method)
	}
	return b.engine, b.relay, nil
}

// run answers {pid: 0} as soon as the program starts, before any event of
// its run; the exit event says how it ended, whenever that is.
func (b *boundary) run(r engine.Request, events *engine.Batch) {
	e, _, err := b.runner(r.Method)
	if err == nil && !b.running.CompareAndSwap(false, true) {
		err = engine.ErrBusy
	}
	if err != nil {
		events.Add(engine.Answer(r.ID, nil, err))
		return
	}
	defer b.running.Store(false)
	events.Add(engine.Answer(r.ID, map[string]int{"pid": 0}, nil))
	_, err = safely(func() (any, error) {
		e.RunWith(context.Background(), r.Source, engine.Options{Debug: r.Debug, Breakpoints: r.Breakpoints})
		return nil, nil
	})
	if err != nil { // a bug of ours: the run must still end
		events.Add(engine.ExitEvent{Error: err.Error()})
	}
}

// client performs one of the client panel's operations through the bridge:
// open answers {id, local}, send the number of bytes sent, shutdown and
// close null. A refusal or a kernel error is the answer's error, in words
// for the client's terminal.
func client(r *relay.Relay, req engine.Request) (any, error) {
	c, err := req.ClientCall()
	if err != nil {
		return nil, err
	}
	res, err := r.Call(context.Background(), c)
	if err != nil {
		return nil, err
	}
	if err := engine.ClientError(res); err != nil {
		return nil, err
	}
	switch c.Op {
	case wire.OpClientOpen:
		return map[string]any{"id": res.Ret, "local": res.Addr.String()}, nil
	case wire.OpClientSend:
		return res.Ret, nil
	}
	return nil, nil
}
