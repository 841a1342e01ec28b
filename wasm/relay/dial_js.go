package relay

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/sockstep/sockstep/native/wire"
)

// Dial opens a browser WebSocket to url and returns a relay over it once the
// socket is open. When the socket closes or fails, the relay closes with an
// error that says the bridge went away.
func Dial(ctx context.Context, url string, opts ...Option) (_ *Relay, err error) {
	defer catch(&err)
	// Looked up once: every frame needs them.
	uint8Array := js.Global().Get("Uint8Array")
	ws := js.Global().Get("WebSocket").New(url)
	ws.Set("binaryType", "arraybuffer")

	opened := make(chan error, 1)
	var funcs []js.Func
	on := func(name string, f func(ev js.Value)) {
		fn := js.FuncOf(func(this js.Value, args []js.Value) any {
			var ev js.Value
			if len(args) > 0 {
				ev = args[0]
			}
			f(ev)
			return nil
		})
		funcs = append(funcs, fn)
		ws.Set(name, fn)
	}
	// Calls gather for one turn of the worker's event loop: a message posted
	// to ourselves is delivered after the bridge's messages that already
	// wait, and the calls their results lead to join the same frame. Under
	// load this turns a frame per call into a frame per burst of calls (and
	// so the bridge's answers too), for a task's hop when it is idle.
	turn := make(chan struct{}, 1)
	ports := js.Global().Get("MessageChannel").New()
	tick := js.FuncOf(func(js.Value, []js.Value) any {
		select {
		case turn <- struct{}{}:
		default:
		}
		return nil
	})
	funcs = append(funcs, tick)
	ports.Get("port1").Set("onmessage", tick)

	release := func() {
		ports.Get("port1").Call("close") // no tick after its func is gone
		for _, fn := range funcs {
			fn.Release()
		}
	}

	// Every frame crosses into JavaScript several times; bound once, send
	// is one call rather than a property lookup and a call.
	wsSend := ws.Get("send").Call("bind", ws)
	send := func(frame []byte) (err error) {
		defer catch(&err)
		buf := uint8Array.New(len(frame))
		js.CopyBytesToJS(buf, frame)
		wsSend.Invoke(buf)
		return nil
	}
	post := ports.Get("port2")
	done := make(chan struct{})
	gather := func() {
		post.Call("postMessage", nil)
		select {
		case <-turn:
		case <-done:
		}
	}
	// Not the named result: a failed Dial returns nil, and the socket's
	// close handler, which runs later, still closes this relay.
	r := New(send, append(opts, WithGather(gather))...)
	go func() {
		<-r.Done()
		close(done)
	}()

	on("onopen", func(js.Value) {
		select {
		case opened <- nil:
		default:
		}
	})
	on("onerror", func(js.Value) {
		select {
		case opened <- errors.New("the bridge is unreachable at " + url):
		default:
		}
	})
	on("onclose", func(ev js.Value) {
		err := fmt.Errorf("the bridge closed the connection (code %d)", ev.Get("code").Int())
		if reason := ev.Get("reason").String(); reason != "" {
			err = fmt.Errorf("%w: %s", err, reason)
		}
		select {
		case opened <- err:
		default:
		}
		release()
		r.Close(err)
	})
	on("onmessage", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeObject { // with binaryType "arraybuffer", text arrives as a string
			r.problem(&wire.Problem{Message: "the bridge sent a text message; frames are binary"})
			return
		}
		arr := uint8Array.New(data)
		frame := make([]byte, arr.Length())
		js.CopyBytesToGo(frame, arr)
		r.Deliver(frame)
	})

	select {
	case err := <-opened:
		if err != nil {
			r.Close(err)
			closeSocket(ws)
			return nil, err
		}
		return r, nil
	case <-ctx.Done():
		err := fmt.Errorf("connect to the bridge: %w", ctx.Err())
		r.Close(err)
		closeSocket(ws)
		return nil, err
	}
}

func closeSocket(ws js.Value) {
	defer catch(new(error))
	ws.Call("close")
}

// catch turns a JavaScript exception, which syscall/js raises as a Go panic,
// into an error.
func catch(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if jsErr, ok := r.(js.Error); ok {
		*err = fmt.Errorf("javascript: %s", jsErr.Value.Get("message").String())
		return
	}
	*err = fmt.Errorf("javascript: %v", r)
}
