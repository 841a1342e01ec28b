//go:build !js

// A real native.Session serves these tests: they run on the host only (the
// benchmarks in bench_test.go also run under js/wasm).

package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockstep/sockstep/examples"
	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/relay"
)

// hostRelay is the whole path a browser call takes, minus the WebSocket: a
// relay whose frames are decoded and performed by a real native.Session, one
// goroutine per call, as the bridge does.
func hostRelay(t *testing.T) *relay.Relay {
	t.Helper()
	s := native.NewSession(native.DefaultPolicy())
	var r *relay.Relay
	r = relay.New(func(frame []byte) error {
		records, err := wire.DecodeFrame(bytes.Clone(frame)) // answered later: the relay reuses frame
		if err != nil {
			return err
		}
		for _, rec := range records {
			c := rec.Call
			go func() {
				out := wire.Record{}
				res, err := s.Do(context.Background(), c)
				if err != nil {
					out.Problem = &wire.Problem{ID: c.ID, Message: err.Error()}
				} else {
					out.Result = res
				}
				f, err := wire.EncodeFrame(out)
				if err != nil {
					t.Errorf("encode: %v", err)
					return
				}
				r.Deliver(f)
			}()
		}
		return nil
	})
	t.Cleanup(func() {
		s.Close()
		r.Close(nil)
	})
	return r
}

// start runs src in the background and waits until it prints want.
func start(t *testing.T, src, want string) *recorder {
	t.Helper()
	_, rec := debugRun(t, src, Options{})
	rec.waitFor(t, fmt.Sprintf("%q on stdout", want), func() bool {
		if len(find[ExitEvent](rec)) > 0 {
			t.Fatalf("program ended early: %v", rec.all())
		}
		return strings.Contains(rec.stdout(), want)
	})
	return rec
}

func echoOnce(t *testing.T, addr, msg string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
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
}

func TestEchoExampleServesARealClient(t *testing.T) {
	port := strconv.Itoa(testnet.FreePort(t))
	src := strings.ReplaceAll(examples.Echo, "9000", port)
	rec := start(t, src, "listening on 127.0.0.1:"+port)

	addr := "127.0.0.1:" + port
	echoOnce(t, addr, "hello, sockstep\n")
	echoOnce(t, addr, strings.Repeat("x", 5000)+"\n") // several reads and writes
	rec.waitFor(t, "the second client to leave", func() bool {
		return strings.Count(rec.stdout(), "client left") == 2
	})

	var calls []string
	for _, e := range find[CallEvent](rec) {
		calls = append(calls, e.Text)
	}
	trace := strings.Join(calls, "\n")
	for _, want := range []string{"socket(AF_INET, SOCK_STREAM, 0)", "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, 1)", "bind(3, 127.0.0.1:" + port + ")", "listen(3, 5)", "accept(3)", `write(4, "hello, sockstep\n")`, "close(4)"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %s:\n%s", want, trace)
		}
	}
	if got, want := len(find[ResultEvent](rec)), len(calls)-1; got < want {
		t.Errorf("%d results for %d calls (one accept may wait)", got, len(calls))
	}
}

func TestRunClosesWhatTheProgramLeftOpen(t *testing.T) {
	port := strconv.Itoa(testnet.FreePort(t))
	// Two runs on one relay, as two presses of Run in one page: the second
	// binds the port the first left bound.
	r := hostRelay(t)
	src := strings.ReplaceAll(`package main

import (
	"fmt"
	"syscall"
)

func main() {
	fd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: PORT, Addr: [4]byte{127, 0, 0, 1}})
	fmt.Println("bind:", err)
	syscall.Listen(fd, 1)
}
`, "PORT", port)
	for i := range 2 {
		rec := newRecorder()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := New(r.Call, rec.emit).Run(ctx, src)
		cancel()
		if err != nil || rec.stdout() != "bind: <nil>\n" {
			t.Fatalf("run %d: %v, %q", i, err, rec.stdout())
		}
	}
}

const perClient = `package main

import (
	"fmt"
	"syscall"
)

func serve(conn int) {
	defer syscall.Close(conn)
	buf := make([]byte, 64)
	for {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		syscall.Write(conn, buf[:n])
	}
}

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: PORT, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		panic(err)
	}
	syscall.Listen(fd, syscall.SOMAXCONN)
	fmt.Println("ready")
	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			return
		}
		go serve(conn)
	}
}
`

func TestAGoroutinePerClient(t *testing.T) {
	port := strconv.Itoa(testnet.FreePort(t))
	start(t, strings.ReplaceAll(perClient, "PORT", port), "ready")
	addr := "127.0.0.1:" + port

	// Hold several clients open at once: each waits in its own read on the
	// bridge while the others are served.
	const clients = 8
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		conns[i] = c
	}
	var wg sync.WaitGroup
	for i := clients - 1; i >= 0; i-- { // the last to connect is served first
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("client %d\n", i)
			if _, err := io.WriteString(conns[i], msg); err != nil {
				t.Error(err)
				return
			}
			line, err := bufio.NewReader(conns[i]).ReadString('\n')
			if err != nil || line != msg {
				t.Errorf("client %d: got %q, %v", i, line, err)
			}
		}()
	}
	wg.Wait()
}
