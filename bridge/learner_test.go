package bridge

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/engine"
	"github.com/sockstep/sockstep/wasm/relay"
)

// engineOverWebSocket runs learner programs through the real engine, whose
// calls cross a real WebSocket to the bridge, as in the browser but with the
// engine built for the host.
func engineOverWebSocket(t *testing.T, tb *testBridge, emit func(engine.Event)) *engine.Engine {
	t.Helper()
	return engine.New(dialRelay(t, "127.0.0.1:"+tb.port).Call, emit)
}

// dialRelay opens a session at addr (host:port) as the page does, and
// returns a relay over it, closed at the end of the test.
func dialRelay(t testing.TB, addr string) *relay.Relay {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+testToken, http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		t.Fatal(err)
	}
	// The relay sends one frame at a time: it is the only writer.
	r := relay.New(func(frame []byte) error { return ws.WriteMessage(websocket.BinaryMessage, frame) })
	go func() {
		for {
			_, frame, err := ws.ReadMessage()
			if err != nil {
				r.Close(err)
				return
			}
			r.Deliver(frame)
		}
	}()
	t.Cleanup(func() { ws.Close(); r.Close(nil) })
	return r
}

// events collects a program's output for a test.
type events struct {
	mu     sync.Mutex
	stdout strings.Builder
	exit   []string
}

func (e *events) emit(ev engine.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev := ev.(type) {
	case engine.OutputEvent:
		e.stdout.WriteString(ev.Text)
	case engine.ExitEvent:
		e.exit = append(e.exit, ev.Error)
	}
}

func (e *events) output() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stdout.String()
}

// hostile closes, reads and writes every descriptor from 0 to 1023, then
// opens sockets until the bridge refuses one.
const hostile = `package main

import (
	"fmt"
	"syscall"
)

func main() {
	buf := make([]byte, 16)
	closed, read, wrote := 0, 0, 0
	for fd := 0; fd < 1024; fd++ {
		if syscall.Close(fd) == nil {
			closed++
		}
		if _, err := syscall.Read(fd, buf); err == nil {
			read++
		}
		if _, err := syscall.Write(fd, []byte("x")); err == nil {
			wrote++
		}
	}
	fmt.Printf("on 0…1023: %d closed, %d read, %d written\n", closed, read, wrote)
	opened := 0
	for opened < 100000 {
		if _, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0); err != nil {
			fmt.Printf("socket %d: %v\n", opened+1, err)
			break
		}
		opened++
	}
	fmt.Printf("opened %d sockets\n", opened)
}
`

// TestHostileProgramReachesOnlyItsOwnSockets runs hostile through the
// engine against a live bridge: every number is a bad descriptor (none names
// the bridge's own, nor another session's), sockets stop at --max-sockets,
// and the bridge keeps serving its page, other sessions and their sockets.
func TestHostileProgramReachesOnlyItsOwnSockets(t *testing.T) {
	tb := newTestBridge(t, nil)
	// Another page, with a listening socket of its own, and a file of the bridge's process.
	other := dialSession(t, tb)
	otherAddr := listenOnFreePort(t, other)
	own, err := os.CreateTemp(t.TempDir(), "bridge-file")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()

	var ev events
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := engineOverWebSocket(t, tb, ev.emit).Run(ctx, hostile); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, ev.output())
	}
	out := ev.output()
	t.Logf("the program's output:\n%s", out)
	if !strings.Contains(out, "on 0…1023: 0 closed, 0 read, 0 written") {
		t.Errorf("a learner's program reached a descriptor it did not open:\n%s", out)
	}
	if !strings.Contains(out, "socket 65: refused by the bridge's policy (max-sockets)") || !strings.Contains(out, "--max-sockets") || !strings.Contains(out, "opened 64 sockets") {
		t.Errorf("sockets until refused: want the 65th refused by max-sockets, naming --max-sockets:\n%s", out)
	}

	// The bridge's own file, its page, the other session and its socket are all fine.
	if _, err := own.WriteString("still mine"); err != nil {
		t.Errorf("the bridge's own file after the program: %v", err)
	}
	resp, err := http.Get(tb.base + "/?token=" + testToken)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the bridge's page after the program: %v %v", resp, err)
	}
	resp.Body.Close()
	checkListens(t, otherAddr.String())
	if r := do(t, other, wire.Call{ID: 50, Op: wire.OpGetsockname, FD: 3}); r.Failed() || r.Addr != otherAddr {
		t.Errorf("the other session's listener: got %+v; want %s", r, otherAddr)
	}
	third := dialSession(t, tb)
	if r := do(t, third, wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}); r.Failed() || r.Ret != 3 {
		t.Errorf("a new session after the program: got %+v; want descriptor 3", r)
	}
}

// checkListens connects to addr, which must accept.
func checkListens(t *testing.T, addr string) {
	t.Helper()
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("%s does not accept: %v", addr, err)
	}
	c.Close()
}
