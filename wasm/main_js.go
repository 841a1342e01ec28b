// Command wasm is engine.wasm, the engine of the page's Web Worker. This
// file is its whole boundary with JavaScript: one global, sockstepEngine,
// whose methods check their arguments and return Promises. Mirrored by
// site/src/engine.d.ts: change both together.
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

	"sockstep/native/wire"
	"sockstep/wasm/engine"
	"sockstep/wasm/relay"
	"sockstep/wasm/workspace"
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
		"start":          b.method(b.start),
		"run":            b.method(b.run),
		"step":           b.method(b.step),
		"pause":          b.method(b.pause),
		"setBreakpoints": b.method(b.setBreakpoints),
		"load":           b.method(b.load),
		"save":           b.method(b.save),
		"client":         b.method(b.client),
		// exportArchive() resolves to the whole workspace as a zip (a Uint8Array).
		"exportArchive": b.method(b.exportArchive),
		// importArchive(bytes) writes a zip made by exportArchive; resolves to the names written.
		"importArchive": b.method(b.importArchive),
	}))
	select {} // the worker lives as long as the page wants it
}

// boundary holds what start sets up for run, load and save.
type boundary struct {
	mu      sync.Mutex
	engine  *engine.Engine
	relay   *relay.Relay
	events  atomic.Pointer[engine.Batch] // set by start; read by every method as it settles
	files   *workspace.Workspace
	filesMu sync.Mutex
}

// method wraps f as a JavaScript method returning a Promise. f runs in its
// own goroutine, since it may block (on the bridge, on IndexedDB) and a JS
// callback must not. The events f caused are sent before it settles, so the
// page never learns that a run ended before it sees the run's last events.
func (b *boundary) method(f func(args []js.Value) (any, error)) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) any {
		var handler js.Func
		handler = js.FuncOf(func(this js.Value, pr []js.Value) any {
			resolve, reject := pr[0], pr[1]
			go func() {
				defer handler.Release()
				v, err := safely(func() (any, error) { return f(args) })
				b.flushEvents()
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

func stringArg(args []js.Value, i int, name string) (string, error) {
	if len(args) <= i || args[i].Type() != js.TypeString {
		return "", fmt.Errorf("%s must be a string", name)
	}
	return args[i].String(), nil
}

func (b *boundary) flushEvents() {
	if events := b.events.Load(); events != nil {
		events.Flush()
	}
}

// start({bridgeURL, onEvents}) connects to the bridge. onEvents receives
// the engine's events in batches, each a JSON array.
func (b *boundary) start(args []js.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return nil, errors.New("start needs {bridgeURL, onEvents}")
	}
	opts := args[0]
	url := opts.Get("bridgeURL")
	onEvents := opts.Get("onEvents")
	if url.Type() != js.TypeString || url.String() == "" {
		return nil, errors.New("bridgeURL must be a ws:// or wss:// URL")
	}
	if onEvents.Type() != js.TypeFunction {
		return nil, errors.New("onEvents must be a function")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.engine != nil {
		return nil, errors.New("the engine is already started")
	}

	started := make(chan bool, 1) // whether start succeeded: a close is news only after a success
	events := engine.NewBatch(func(json []byte) {
		defer func() { recover() }() // an exception in the page's handler must not kill the engine
		onEvents.Invoke(string(json))
	})
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
			emit(engine.Event{Type: engine.TypeOutput, Stream: "stderr", Text: p.Error() + "\n"})
		}),
		relay.WithClose(func(err error) {
			go func() { // wait until start has returned
				if <-started {
					emit(engine.Event{Type: engine.TypeDisconnected, Message: err.Error()})
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

// client(op, {addr, id, data}) performs one of the client panel's
// operations through the bridge: open resolves to {id, local}, send to the
// number of bytes sent, shutdown and close to undefined. A refusal or a
// kernel error rejects, with words for the client's terminal.
func (b *boundary) client(args []js.Value) (any, error) {
	op, err := stringArg(args, 0, "op")
	if err != nil {
		return nil, err
	}
	var opts js.Value
	if len(args) > 1 && args[1].Type() == js.TypeObject {
		opts = args[1]
	} else {
		return nil, errors.New("client needs its arguments as an object: {addr} or {id, data}")
	}
	var addr, data string
	var id uint64
	if v := opts.Get("addr"); v.Type() == js.TypeString {
		addr = v.String()
	}
	if v := opts.Get("id"); v.Type() == js.TypeNumber {
		if v.Int() < 1 || float64(v.Int()) != v.Float() {
			return nil, fmt.Errorf("client: id must be a client's number (a whole number from 1), not %v", v.Float())
		}
		id = uint64(v.Int())
	}
	if v := opts.Get("data"); v.Type() == js.TypeString {
		data = v.String()
	}
	c, err := engine.ClientCall(op, addr, id, []byte(data))
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	r := b.relay
	b.mu.Unlock()
	if r == nil {
		return nil, errors.New("not connected to the bridge: call start first")
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

// run(source, {debug, breakpoints}) runs a program and resolves when it
// ends, however it ends: how is in the exit event. It rejects only when the
// program cannot start. debug stops it at its first line.
func (b *boundary) run(args []js.Value) (any, error) {
	source, err := stringArg(args, 0, "source")
	if err != nil {
		return nil, err
	}
	var opts engine.Options
	if len(args) > 1 && args[1].Type() == js.TypeObject {
		o := args[1]
		if d := o.Get("debug"); d.Type() == js.TypeBoolean {
			opts.Debug = d.Bool()
		}
		if bp := o.Get("breakpoints"); !bp.IsUndefined() {
			if opts.Breakpoints, err = lines(bp, "breakpoints"); err != nil {
				return nil, err
			}
		}
	}
	e, err := b.started()
	if err != nil {
		return nil, err
	}
	if err := e.RunWith(context.Background(), source, opts); errors.Is(err, engine.ErrBusy) {
		return nil, err
	}
	return nil, nil
}

func (b *boundary) started() (*engine.Engine, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.engine == nil {
		return nil, errors.New("not connected to the bridge: call start first")
	}
	return b.engine, nil
}

// lines reads an array of positive line numbers.
func lines(v js.Value, name string) ([]int, error) {
	if !v.InstanceOf(js.Global().Get("Array")) {
		return nil, fmt.Errorf("%s must be an array of line numbers", name)
	}
	out := make([]int, 0, v.Length())
	for i := range v.Length() {
		n := v.Index(i)
		if n.Type() != js.TypeNumber || n.Int() < 1 || float64(n.Int()) != n.Float() {
			return nil, fmt.Errorf("%s must be an array of line numbers (1-based)", name)
		}
		out = append(out, n.Int())
	}
	return out, nil
}

// step(kind, goroutine) resumes a paused program: kind is step, into, out,
// call or continue; goroutine 0 (or absent) is the one that stopped.
func (b *boundary) step(args []js.Value) (any, error) {
	kind, err := stringArg(args, 0, "kind")
	if err != nil {
		return nil, err
	}
	g := 0
	if len(args) > 1 && args[1].Type() == js.TypeNumber {
		g = args[1].Int()
	}
	e, err := b.started()
	if err != nil {
		return nil, err
	}
	return nil, e.Step(kind, g)
}

// pause() stops the running program at the next line a goroutine reaches.
func (b *boundary) pause(args []js.Value) (any, error) {
	e, err := b.started()
	if err != nil {
		return nil, err
	}
	return nil, e.Pause()
}

// setBreakpoints(lines) replaces the running program's breakpoints.
func (b *boundary) setBreakpoints(args []js.Value) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("setBreakpoints needs an array of line numbers")
	}
	ls, err := lines(args[0], "lines")
	if err != nil {
		return nil, err
	}
	e, err := b.started()
	if err != nil {
		return nil, err
	}
	return nil, e.SetBreakpoints(ls)
}

// workspace opens the IndexedDB workspace on first use.
func (b *boundary) workspace() (*workspace.Workspace, error) {
	b.filesMu.Lock()
	defer b.filesMu.Unlock()
	if b.files == nil {
		w, err := workspace.OpenBrowser(context.Background())
		if err != nil {
			return nil, err
		}
		b.files = w
	}
	return b.files, nil
}

// load(name) resolves to the file's text, or null when there is none.
func (b *boundary) load(args []js.Value) (any, error) {
	name, err := stringArg(args, 0, "name")
	if err != nil {
		return nil, err
	}
	w, err := b.workspace()
	if err != nil {
		return nil, err
	}
	text, ok, err := w.Load(name)
	if err != nil || !ok {
		return nil, err
	}
	return text, nil
}

// save(name, source) writes a file.
func (b *boundary) save(args []js.Value) (any, error) {
	name, err := stringArg(args, 0, "name")
	if err != nil {
		return nil, err
	}
	source, err := stringArg(args, 1, "source")
	if err != nil {
		return nil, err
	}
	w, err := b.workspace()
	if err != nil {
		return nil, err
	}
	return nil, w.Save(name, source)
}

// exportArchive() resolves to the workspace as a zip archive, a Uint8Array.
func (b *boundary) exportArchive(args []js.Value) (any, error) {
	w, err := b.workspace()
	if err != nil {
		return nil, err
	}
	archive, err := w.Export()
	if err != nil {
		return nil, err
	}
	u8 := js.Global().Get("Uint8Array").New(len(archive))
	js.CopyBytesToJS(u8, archive)
	return u8, nil
}

// importArchive(bytes) takes a Uint8Array holding a zip made by exportArchive
// and resolves to the names it wrote. A bad archive rejects and changes nothing.
func (b *boundary) importArchive(args []js.Value) (any, error) {
	if len(args) < 1 || !args[0].InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, errors.New("importArchive needs the archive as a Uint8Array")
	}
	if n := args[0].Length(); n > workspace.MaxArchiveBytes {
		return nil, fmt.Errorf("the archive is %d bytes; the most a workspace may be is %d", n, workspace.MaxArchiveBytes)
	}
	archive := make([]byte, args[0].Length())
	js.CopyBytesToGo(archive, args[0])
	w, err := b.workspace()
	if err != nil {
		return nil, err
	}
	names, err := w.Import(archive)
	if err != nil {
		return nil, err
	}
	return stringsValue(names), nil
}

// stringsValue is names as a JavaScript array (js.ValueOf takes []any, not []string).
func stringsValue(names []string) js.Value {
	a := make([]any, len(names))
	for i, n := range names {
		a[i] = n
	}
	return js.ValueOf(a)
}
