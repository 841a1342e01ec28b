package bridge

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/runner"
	"github.com/sockstep/sockstep/wasm/relay"
)

// BenchmarkRelayedEcho measures what the bridge spends on each relayed call
// under the load of issue 7: a learner's goroutine-per-client echo server
// (made of the calls the page would relay, sent through wasm/relay used
// natively) and 32 real TCP clients ping-ponging 64 bytes. The bridge runs in
// a process of its own (this test binary, started again), so its CPU time is
// read apart from the clients' and the relay's: bridge-cpu-ns/call is that
// process's CPU time over the relayed calls; ns/call is wall time. One op is
// one echo (two calls: a read and a write).
//
// flat-out: the clients ping-pong as fast as they can. paced: each client
// pings every 16 ms, 4,000 calls a second in all, about what the page's
// engine makes in Chromium: the per-second costs (the sockets table's
// reads) and the little batching at that rate count as they do there.
//
//	go test -run '^$' -bench RelayedEcho -benchtime 20000x ./bridge -bridgeprofile /tmp/bridge.prof
//	go tool pprof -top /tmp/bridge.prof
//
// The throttle stays on at a rate the load never reaches, so its per-call
// cost is counted but it delays nothing.
func BenchmarkRelayedEcho(b *testing.B) {
	b.Run("flat-out", func(b *testing.B) { relayedEcho(b, 0) })
	b.Run("paced", func(b *testing.B) { relayedEcho(b, 16*time.Millisecond) })
}

// relayedEcho is BenchmarkRelayedEcho with each client pinging every pace
// (0: as fast as it can).
func relayedEcho(b *testing.B, pace time.Duration) {
	const clients = 32
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	br := startBenchBridge(b)

	rl := dialRelay(b, br.addr)

	srv := &learnerEcho{ctx: ctx, relay: rl}
	port, err := srv.listen()
	if err != nil {
		b.Fatal(err)
	}
	serving := make(chan error, 1)
	go func() { serving <- srv.serve(clients) }()
	conns := make([]net.Conn, clients)
	for i := range conns {
		if conns[i], err = net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second); err != nil {
			b.Fatal(err)
		}
		defer conns[i].Close()
		conns[i].SetDeadline(time.Now().Add(2 * time.Minute))
	}
	if err := <-serving; err != nil {
		b.Fatal(err)
	}
	pingPong := func(n int) error {
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ping, pong := make([]byte, 64), make([]byte, 64)
				start := time.Now().Add(pace * time.Duration(i) / clients) // spread evenly
				for j := range n/clients + btoi(i < n%clients) {
					if pace > 0 {
						time.Sleep(time.Until(start.Add(pace * time.Duration(j))))
					}
					ping[0] = byte(j)
					if _, err := c.Write(ping); err != nil {
						errs <- err
						return
					}
					if _, err := io.ReadFull(c, pong); err != nil {
						errs <- err
						return
					}
					if pong[0] != byte(j) {
						errs <- fmt.Errorf("client %d: echo %d came back as %d", i, j, pong[0])
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	if err := pingPong(4 * clients); err != nil { // warm up every connection
		b.Fatal(err)
	}

	srv.calls.Store(0)
	cpu0, err := br.cpu()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := pingPong(b.N); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1, err := br.cpu()
	if err != nil {
		b.Fatal(err)
	}
	calls := float64(srv.calls.Load())
	b.ReportMetric(float64(elapsed.Nanoseconds())/calls, "ns/call")
	b.ReportMetric(float64(cpu1-cpu0)/calls, "bridge-cpu-ns/call")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "echoes/s")

	for _, c := range conns {
		c.Close()
	}
	if err := srv.wait(10 * time.Second); err != nil {
		b.Error(err)
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// learnerEcho makes the calls a learner's goroutine-per-client echo server
// makes, each relayed to the bridge.
type learnerEcho struct {
	ctx   context.Context
	relay *relay.Relay
	calls atomic.Int64
	fd    int
	conns sync.WaitGroup
	errs  chan error
}

func (l *learnerEcho) call(c wire.Call) (*wire.Result, error) {
	l.calls.Add(1)
	ctx, cancel := context.WithTimeout(l.ctx, time.Minute)
	defer cancel()
	res, err := l.relay.Call(ctx, &c)
	if err == nil && res.Failed() {
		err = fmt.Errorf("%s: %s%v", c.Op, res.Errno, res.Refused)
	}
	return res, err
}

// listen makes the listening socket and returns its port.
func (l *learnerEcho) listen() (int, error) {
	res, err := l.call(wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"})
	if err != nil {
		return 0, err
	}
	l.fd = res.Ret
	for _, c := range []wire.Call{
		{Op: wire.OpSetsockopt, FD: l.fd, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1},
		{Op: wire.OpBind, FD: l.fd, Addr: netip.MustParseAddrPort("127.0.0.1:0")},
		{Op: wire.OpListen, FD: l.fd, Value: 128},
		{Op: wire.OpGetsockname, FD: l.fd},
	} {
		if res, err = l.call(c); err != nil {
			return 0, err
		}
	}
	return int(res.Addr.Port()), nil
}

// serve accepts n connections, each served by a goroutine of its own, and
// returns once all are accepted.
func (l *learnerEcho) serve(n int) error {
	l.errs = make(chan error, n)
	for range n {
		res, err := l.call(wire.Call{Op: wire.OpAccept, FD: l.fd})
		if err != nil {
			return err
		}
		l.conns.Add(1)
		go func(fd int) {
			defer l.conns.Done()
			for {
				res, err := l.call(wire.Call{Op: wire.OpRead, FD: fd, Size: 32 << 10})
				if err != nil || res.Ret == 0 {
					if err != nil {
						l.errs <- err
					}
					l.call(wire.Call{Op: wire.OpClose, FD: fd})
					return
				}
				if _, err := l.call(wire.Call{Op: wire.OpWrite, FD: fd, Data: res.Data}); err != nil {
					l.errs <- err
					return
				}
			}
		}(res.Ret)
	}
	return nil
}

// wait waits for every connection's goroutine to end, at most d.
func (l *learnerEcho) wait(d time.Duration) error {
	done := make(chan struct{})
	go func() { l.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		return errors.New("the echo server's goroutines did not end")
	}
	close(l.errs)
	return <-l.errs
}

var bridgeProfile = flag.String("bridgeprofile", "", "BenchmarkRelayedEcho: write the bridge process's CPU profile to `file`")

// benchBridgeEnv tells this test binary, started again, to be the bridge of
// a benchmark (see TestMain).
const benchBridgeEnv = "SOCKSTEP_BENCH_BRIDGE"

// benchBridge is the bridge of a benchmark, in a process of its own.
type benchBridge struct {
	cmd  *exec.Cmd
	addr string
}

// startBenchBridge starts this test binary again as a bridge, which lives
// until the benchmark ends (its stdin closes).
func startBenchBridge(b *testing.B) *benchBridge {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), benchBridgeEnv+"=1")
	if *bridgeProfile != "" {
		path, err := filepath.Abs(*bridgeProfile)
		if err != nil {
			b.Fatal(err)
		}
		cmd.Env = append(cmd.Env, benchBridgeEnv+"_CPUPROFILE="+path)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			b.Error("the benchmark's bridge did not stop within 10s")
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Scan()
		line <- sc.Text()
		io.Copy(io.Discard, stdout)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			b.Fatal("the benchmark's bridge did not start")
		}
		return &benchBridge{cmd: cmd, addr: addr}
	case <-time.After(10 * time.Second):
		b.Fatal("the benchmark's bridge did not start within 10s")
	}
	return nil
}

// cpu is the bridge process's CPU time so far, in nanoseconds: the sum over
// its threads (Go keeps its threads to the end).
func (br *benchBridge) cpu() (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", br.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("the bridge's CPU time: no /proc/%d/task/*/schedstat (%v)", br.cmd.Process.Pid, err)
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t, err)
		}
		sum += ns
	}
	return sum, nil
}

// runBenchBridge is the bridge process of a benchmark: it prints its address
// and serves until stdin closes.
func runBenchBridge() int {
	cfg, err := parseFlags([]string{"--port", "0", "--max-calls-per-second", "100000000"}, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg.token = testToken
	b, err := listen(cfg, sessionStats{os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if path := os.Getenv(benchBridgeEnv + "_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Println("127.0.0.1:" + b.port)
	if err := b.serve(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// sessionStats passes on the log lines that end sessions, which count the
// frames each way: they show how well calls and results are batched.
type sessionStats struct{ w io.Writer }

func (s sessionStats) Write(p []byte) (int, error) {
	if strings.Contains(string(p), " closed after ") {
		s.w.Write(p)
	}
	return len(p), nil
}

// TestMain serves as the runner too, as the sockstep binary does: the
// bridge under test starts this binary with the argument "runner".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "runner" {
		os.Exit(runner.Main())
	}
	if os.Getenv(benchBridgeEnv) != "" {
		os.Exit(runBenchBridge())
	}
	os.Exit(m.Run())
}
