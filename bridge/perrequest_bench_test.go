package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/engine"
)

// BenchmarkConnectionPerRequest measures servers that take a connection per
// request, as lessons 6 and 12 do and any HTTP server under a load tool
// does: a client connects, sends 64 bytes, reads them back, closes, and
// does it again. One op is one such echo. Each sub-benchmark measures
// native Go first, on the same machine in the same run, and reports its
// rate beside (native-echoes/s) and the ratio (%-of-native); the bridge
// runs in a process of its own, so bridge-cpu-ns/echo is its CPU alone.
//
// The host's TCP table fills with the clients' TIME_WAIT as it runs (tens
// of thousands of connections a minute), which is what made every session
// of the bridge reread it at a cost (issue 12). crowd first leaves 5,000
// there, as a load tool run a moment before would.
//
//   - host-runner: the playground's echo example (examples/echo), one page,
//     its program in a runner process — the default, and the row `make
//     bench` shows;
//
//   - relay-16-pages: 16 pages at once, each relaying the calls of an
//     iterative echo server (accept, read, write, read, close) to the
//     bridge, one client each.
//
//     go test -run '^$' -bench ConnectionPerRequest -benchtime 5000x ./bridge
func BenchmarkConnectionPerRequest(b *testing.B) {
	crowdTable(b, 5000)
	b.Run("host-runner", func(b *testing.B) {
		br := startBenchBridge(b)
		port, stop := runEchoInRunner(b, br.addr)
		defer stop()
		perRequest(b, br, []string{"127.0.0.1:" + strconv.Itoa(port)})
	})
	b.Run("relay-16-pages", func(b *testing.B) {
		br := startBenchBridge(b)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var addrs []string
		var servers []*perRequestEcho
		for range 16 {
			srv := &perRequestEcho{learnerEcho: learnerEcho{ctx: ctx, relay: dialRelay(b, br.addr)}}
			port, err := srv.listen()
			if err != nil {
				b.Fatal(err)
			}
			go srv.serve()
			servers = append(servers, srv)
			addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
		}
		perRequest(b, br, addrs)
		cancel()
		for _, s := range servers {
			if err := s.failed(); err != nil {
				b.Error(err)
			}
		}
	})
}

// perRequest makes b.N connection-per-request echoes against addrs (one
// client each), having made as many against a native Go server first, and
// reports both rates.
func perRequest(b *testing.B, br *benchBridge, addrs []string) {
	native, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer native.Close()
	go func() {
		for {
			c, err := native.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	nativeAddrs := make([]string, len(addrs))
	for i := range nativeAddrs {
		nativeAddrs[i] = native.Addr().String()
	}
	echoes(b, addrs, 8*len(addrs)) // warm up: the server is up, its first calls are made
	nativeRate := echoes(b, nativeAddrs, b.N)

	cpu0, err := br.cpu()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rate := echoes(b, addrs, b.N)
	b.StopTimer()
	cpu1, err := br.cpu()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "echoes/s")
	b.ReportMetric(nativeRate, "native-echoes/s")
	b.ReportMetric(100*rate/nativeRate, "%-of-native")
	b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "bridge-cpu-ns/echo")
}

// echoes makes n echoes, each on a connection of its own, spread over one
// client per address, and returns the echoes a second.
func echoes(b *testing.B, addrs []string, n int) float64 {
	var wg sync.WaitGroup
	errs := make(chan error, len(addrs))
	start := time.Now()
	deadline := start.Add(3 * time.Minute)
	for i, addr := range addrs {
		wg.Go(func() {
			ping, pong := make([]byte, 64), make([]byte, 64)
			for j := range n/len(addrs) + btoi(i < n%len(addrs)) {
				if time.Now().After(deadline) {
					errs <- errors.New("the echoes did not finish within 3 minutes")
					return
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					errs <- fmt.Errorf("connection %d to %s: %w", j, addr, err)
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				ping[0] = byte(j)
				_, err = c.Write(ping)
				if err == nil {
					_, err = io.ReadFull(c, pong)
				}
				c.Close()
				if err != nil || pong[0] != byte(j) {
					errs <- fmt.Errorf("echo %d with %s: %v", j, addr, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// runEchoInRunner opens a page's engine session on the bridge at addr, runs
// the playground's echo example in a runner, reads its events as a page
// does, and returns the port it listens on; stop ends the page.
func runEchoInRunner(b *testing.B, addr string) (port int, stop func()) {
	b.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/engine?token="+testToken, http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := ws.WriteJSON(engine.Request{ID: 1, Method: engine.MethodRun, Source: echoExample(b, port), Name: "examples/echo/main.go"}); err != nil {
		b.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { // read every event, as the page does
		var once sync.Once
		for {
			_, frame, err := ws.ReadMessage()
			if err != nil {
				once.Do(func() { started <- err })
				return
			}
			var events []map[string]any
			json.Unmarshal(frame, &events)
			for _, e := range events {
				if e["type"] == "answer" && e["id"] == float64(1) {
					var err error
					if e["error"] != nil {
						err = fmt.Errorf("run: %v", e["error"])
					}
					once.Do(func() { started <- err })
				}
			}
		}
	}()
	if err := <-started; err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the echo example does not listen on %d within 10s: %v", port, err)
		}
	}
	return port, func() { ws.Close() }
}

// perRequestEcho is an iterative echo server made of relayed calls: it
// accepts a client, echoes until the client closes, closes, and accepts
// the next.
type perRequestEcho struct {
	learnerEcho
	mu  sync.Mutex
	err error
}

func (l *perRequestEcho) serve() {
	for l.ctx.Err() == nil {
		res, err := l.call(wire.Call{Op: wire.OpAccept, FD: l.fd})
		if err != nil {
			l.fail(err)
			return
		}
		fd := res.Ret
		for {
			res, err := l.call(wire.Call{Op: wire.OpRead, FD: fd, Size: 1024})
			if err != nil || res.Ret == 0 {
				break
			}
			if _, err := l.call(wire.Call{Op: wire.OpWrite, FD: fd, Data: res.Data}); err != nil {
				break
			}
		}
		if _, err := l.call(wire.Call{Op: wire.OpClose, FD: fd}); err != nil {
			l.fail(err)
			return
		}
	}
}

func (l *perRequestEcho) fail(err error) {
	if l.ctx.Err() != nil {
		return // the benchmark is over
	}
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (l *perRequestEcho) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// crowdTable leaves n connections in TIME_WAIT in the host's table, on
// ports no session watches. They linger for the kernel's 60 s.
func crowdTable(tb testing.TB, n int) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			tb.Fatalf("crowding the table, connection %d: %v", i, err)
		}
		c.Close()
	}
}

// echoExample is the playground's echo example, listening on port.
func echoExample(tb testing.TB, port int) string {
	src, err := os.ReadFile("../examples/echo/main.go")
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Replace(string(src), "Port: 9000", "Port: "+strconv.Itoa(port), 1)
}
