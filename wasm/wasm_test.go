//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"sockstep/examples"
	"sockstep/native"
	"sockstep/native/wire"
)

// testBridge is the bridge's protocol in a few lines: one native session per
// WebSocket, each call in its own goroutine, answers written one at a time.
func testBridge(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }} // node sends no Origin
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		s := native.NewSession(native.DefaultPolicy())
		defer s.Close()
		var mu sync.Mutex
		send := func(rec wire.Record) {
			f, err := wire.EncodeFrame(rec)
			if err != nil {
				t.Errorf("encode: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ws.WriteMessage(websocket.BinaryMessage, f)
		}
		send(wire.Record{Event: &wire.Event{Kind: wire.EventHello, Message: "test bridge", Session: "test-session"}})
		for {
			_, frame, err := ws.ReadMessage()
			if err != nil {
				return
			}
			records, err := wire.DecodeFrame(frame)
			if err != nil {
				send(wire.Record{Problem: &wire.Problem{Message: err.Error()}})
			}
			for _, rec := range records {
				go func() {
					res, err := s.Do(context.Background(), rec.Call)
					if err != nil {
						send(wire.Record{Problem: &wire.Problem{ID: rec.Call.ID, Message: err.Error()}})
						return
					}
					send(wire.Record{Result: res})
				}()
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// nodeRun builds engine.wasm, runs src in it under node against a test
// bridge, and returns node's events, one per line of JSON.
func nodeRun(t *testing.T, ctx context.Context, src string) <-chan map[string]any {
	t.Helper()
	if testing.Short() {
		t.Skip("builds engine.wasm")
	}
	nodePath, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node")
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wasmFile := filepath.Join(dir, "engine.wasm")
	build := exec.Command("go", "build", "-o", wasmFile, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build engine.wasm: %v\n%s", err, out)
	}
	program := filepath.Join(dir, "main.go")
	if err := os.WriteFile(program, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	wasmExec := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js")
	node := exec.CommandContext(ctx, nodePath, "--experimental-websocket", "testdata/run.js", wasmExec, wasmFile, testBridge(t), program)
	stdout, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		node.Process.Kill()
		node.Wait()
	})
	events := make(chan map[string]any, 256)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				continue // the Go runtime's own text on a crash
			}
			events <- ev
		}
	}()
	return events
}

// TestEngineWasmServesARealClient builds engine.wasm, runs the echo example
// in it under node against a WebSocket bridge, and talks to it over TCP.
func TestEngineWasmServesARealClient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	events := nodeRun(t, ctx, strings.ReplaceAll(examples.Echo, "9000", port))
	var printed strings.Builder
	var calls []string
	waitFor := func(what string, done func() bool) {
		t.Helper()
		for !done() {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("node ended before %s; output %q, calls %q", what, printed.String(), calls)
				}
				switch ev["type"] {
				case "output":
					printed.WriteString(ev["text"].(string))
				case "call":
					calls = append(calls, ev["text"].(string))
				case "failed", "engineStopped", "exit", "disconnected":
					t.Fatalf("before %s: %v", what, ev)
				}
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s; output %q", what, printed.String())
			}
		}
	}
	waitFor("the server to listen", func() bool { return strings.Contains(printed.String(), "listening on") })

	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	msg := "hello from a real client\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != msg {
		t.Errorf("echo: got %q; want %q", got, msg)
	}
	c.Close()
	waitFor("the client to leave", func() bool { return strings.Contains(printed.String(), "client left") })
	if trace := strings.Join(calls, "\n"); !strings.Contains(trace, `write(4, "hello from a real client\n")`) {
		t.Errorf("trace:\n%s", trace)
	}
}

// TestEngineWasmGoroutinePanic pins down what a panic in a goroutine other
// than main does: yaegi does not recover it, so the Go program behind the
// engine ends. The engine reports where first, while it still can.
func TestEngineWasmGoroutinePanic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	events := nodeRun(t, ctx, `package main

import "fmt"

func work(n int) {
	fmt.Println("working", n)
	var m map[int]int
	m[n] = 1
}

func main() {
	go work(7)
	select {}
}
`)
	var got []string
	for ev := range events {
		if ev["type"] == "session" {
			continue // the hello's id; node 20's WebSocket may drop a message sent with the handshake
		}
		b, _ := json.Marshal(ev)
		got = append(got, string(b))
	}
	// yaegi v0.16.1 names the first statement of the function that
	// panicked (line 6); the stepper's hooks know it last reached line 8.
	// Then the Go program exits: node's go.run resolves, or a late callback
	// into the dead instance throws.
	want := []string{
		`{"stream":"stdout","text":"working 7\n","type":"output"}`,
		`{"column":0,"kind":"panic","line":8,"message":"panic in main.work","type":"diagnostic"}`,
	}
	if len(got) != 3 || !strings.Contains(got[2], "engineStopped") && !strings.Contains(got[2], "failed") ||
		strings.Join(got[:2], "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s\nthen the engine's end", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
