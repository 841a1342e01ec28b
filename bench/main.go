// Command bench measures sockstep end to end — the page in headless
// Chromium, the relay over the WebSocket, the bridge on the host kernel —
// against native Go on the same machine, and prints one table. Every figure
// comes from this one run. `make bench` builds what it needs and runs it.
//
// It launches bin/sockstep as a learner does, drives the page through its
// automation hooks (data-testid, window.sockstep.view, and the page's
// "sockstep:ready" and "sockstep:started" performance marks), and times the kernel's view of
// sockets from here. Loopback only; every loop is bounded.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	bridge   string
	chromium string
	loads    int
	runs     int
	duration time.Duration
	sessions int
	verbose  bool
}

func main() {
	var o options
	flag.StringVar(&o.bridge, "bridge", "bin/sockstep", "the bridge `binary` to measure")
	flag.StringVar(&o.chromium, "chromium", "/usr/bin/chromium", "the `browser` to drive")
	flag.IntVar(&o.loads, "loads", 5, "cold loads of the page, each with a fresh profile")
	flag.IntVar(&o.runs, "runs", 5, "presses of Run for run-to-listening")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "how long each throughput figure runs")
	flag.IntVar(&o.sessions, "sessions", 32, "idle sessions for the memory figure")
	flag.BoolVar(&o.verbose, "v", false, "also print the round-trip program's output panel")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute) // the whole run, however it goes
	defer cancel()
	loadBefore := loadAverage()
	t, err := measure(ctx, o)
	if t != nil {
		// Other work on the machine skews every figure; say how busy it was.
		t.header += fmt.Sprintf("\nload average (1 min) %s before, %s after", loadBefore, loadAverage())
		t.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// progress tells the person waiting what is being measured.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// measure takes every figure in turn. On an error it returns the figures it
// has so far with it.
func measure(ctx context.Context, o options) (*table, error) {
	t := &table{}
	t.header = fmt.Sprintf("sockstep bench — %s/%s, %d cores, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))

	b, err := startBridge(ctx, o.bridge)
	if err != nil {
		return nil, err
	}
	defer b.stop()

	progress("sizes of engine.wasm as served")
	raw, _, err := b.served("engine.wasm", "identity")
	if err != nil {
		return t, err
	}
	// What Chromium sends.
	wire, enc, err := b.served("engine.wasm", "gzip, deflate, br, zstd")
	if err != nil {
		return t, err
	}
	if enc == "" {
		enc = "uncompressed"
	}
	t.add(row{name: "engine.wasm, raw", value: mb(raw)})
	t.add(row{name: "engine.wasm as served (" + enc + ")", value: mb(wire), target: "≤ 3 MB", met: wire <= 3_000_000})

	progress("cold start: %d loads, each with a fresh profile", o.loads)
	var starts []time.Duration
	for range o.loads {
		p, err := openBrowser(ctx, o.chromium)
		if err != nil {
			return t, err
		}
		d, err := p.open(b.url)
		p.close()
		if err != nil {
			return t, err
		}
		starts = append(starts, d)
	}
	cold := median(starts)
	t.add(row{name: fmt.Sprintf("cold start, open → ready (median of %d)", o.loads), value: ms(cold), note: "min " + ms(slices.Min(starts)) + ", max " + ms(slices.Max(starts)), target: "≤ 1 s", met: cold <= time.Second})

	p, err := openBrowser(ctx, o.chromium)
	if err != nil {
		return t, err
	}
	defer p.close()
	if _, err := p.open(b.url); err != nil {
		return t, err
	}

	port, err := freePort()
	if err != nil {
		return t, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	progress("run to listening: %d runs of the echo server on %s", o.runs, addr)
	if err := p.setSource(echoOn(port)); err != nil {
		return t, err
	}
	var toListen []time.Duration
	for i := range o.runs {
		if i > 0 {
			if err := p.stop(); err != nil {
				return t, err
			}
			if _, err := waitListening(port, false, 5*time.Second); err != nil {
				return t, err
			}
		}
		start := time.Now()
		if err := p.press("run"); err != nil {
			return t, err
		}
		at, err := waitListening(port, true, 20*time.Second)
		if err != nil {
			return t, err
		}
		toListen = append(toListen, at.Sub(start))
	}
	listen := median(toListen)
	t.add(row{name: fmt.Sprintf("run → listening (median of %d)", o.runs), value: ms(listen), note: "min " + ms(slices.Min(toListen)) + ", max " + ms(slices.Max(toListen)), target: "≤ 150 ms", met: listen <= 150*time.Millisecond})

	native, err := startNativeEcho()
	if err != nil {
		return t, err
	}
	defer native.close()

	progress("echo, 1 client, %s each: the learner's echo server, then native", o.duration)
	cpuBefore, cpuErr := readCPU(b.pid())
	one, err := pingPong(ctx, addr, 1, o.duration)
	if err != nil {
		return t, err
	}
	oneCPU := cpuNote(cpuBefore, cpuErr, b.pid(), one*o.duration.Seconds())
	oneNative, err := pingPong(ctx, native.addr(), 1, o.duration)
	if err != nil {
		return t, err
	}
	t.add(row{name: "echo 64 B ping-pong, 1 client", value: perSec(one), native: perSec(oneNative), ratio: pct(one / oneNative), target: "≥ 3,000/s", met: one >= 3000, note: oneCPU})

	progress("echo, 32 clients, and bulk: a goroutine-per-client echo server, then native")
	if err := p.stop(); err != nil {
		return t, err
	}
	if _, err := waitListening(port, false, 5*time.Second); err != nil {
		return t, err
	}
	if err := p.setSource(concurrentEchoOn(port)); err != nil {
		return t, err
	}
	if err := p.press("run"); err != nil {
		return t, err
	}
	if _, err := waitListening(port, true, 20*time.Second); err != nil {
		return t, err
	}
	cpuBefore, cpuErr = readCPU(b.pid())
	many, err := pingPong(ctx, addr, 32, o.duration)
	if err != nil {
		return t, err
	}
	manyCPU := cpuNote(cpuBefore, cpuErr, b.pid(), many*o.duration.Seconds())
	bulkRate, err := bulk(ctx, addr, o.duration)
	if err != nil {
		return t, err
	}
	closedBefore := len(sessionStats(b.stderrLines()))
	if err := p.stop(); err != nil {
		return t, err
	}
	manyNative, err := pingPong(ctx, native.addr(), 32, o.duration)
	if err != nil {
		return t, err
	}
	bulkNative, err := bulk(ctx, native.addr(), o.duration)
	if err != nil {
		return t, err
	}
	t.add(row{name: "echo 64 B ping-pong, 32 clients", value: perSec(many), native: perSec(manyNative), ratio: pct(many / manyNative), target: "≥ 25% of native", met: many/manyNative >= 0.25, note: manyCPU})
	t.add(row{name: "bulk echo, 64 KiB writes, 1 client", value: fmt.Sprintf("%.1f MB/s", bulkRate), native: fmt.Sprintf("%.0f MB/s", bulkNative), ratio: pct(bulkRate / bulkNative)})
	// The session of the 32 clients logs its frame counts when Stop ends it.
	deadline := time.Now().Add(5 * time.Second)
	for len(sessionStats(b.stderrLines())) <= closedBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if stats := sessionStats(b.stderrLines()); len(stats) > closedBefore {
		s := stats[len(stats)-1]
		t.add(row{name: "batching under that load (records per frame)", value: fmt.Sprintf("in %.2f, out %.2f", s.callsPerFrame(), s.recordsPerFrame()), note: fmt.Sprintf("%d calls in %d frames; %d records out in %d frames", s.calls, s.framesIn, s.records, s.framesOut)})
	}

	for _, l := range b.stderrLines() {
		if strings.Contains(l, "slowing its calls") {
			// The figures would measure the cap, not the relay.
			t.header += "\nWARNING: the bridge's --max-calls-per-second cap slowed a measured program"
			break
		}
	}

	progress("call round trip: relayed getsockname timed inside the interpreter")
	if err := p.setSource(roundTrip); err != nil {
		return t, err
	}
	if err := p.press("run"); err != nil {
		return t, err
	}
	if err := p.waitFor(`/round trip p50=\d+ p99=\d+ ns|getsockname:|socket:/.test(document.querySelector('[data-testid="output"]').textContent)`, 2*time.Minute); err != nil {
		return t, fmt.Errorf("round trip program: %w", err)
	}
	out, err := p.output()
	if err != nil {
		return t, err
	}
	if o.verbose {
		fmt.Fprintln(os.Stderr, out)
	}
	m := regexp.MustCompile(`round trip p50=(\d+) p99=(\d+) ns`).FindStringSubmatch(out)
	if m == nil {
		return t, fmt.Errorf("round trip program printed: %s", out)
	}
	p50, _ := strconv.ParseInt(m[1], 10, 64)
	p99, _ := strconv.ParseInt(m[2], 10, 64)
	t.add(row{name: "call round trip (getsockname), p50 / p99", value: us(time.Duration(p50)) + " / " + us(time.Duration(p99)), target: "p50 ≤ 250 µs", met: time.Duration(p50) <= 250*time.Microsecond})

	progress("the floor: a bare WebSocket round trip from a worker in the same browser")
	f50, f99, floorCPU, err := webSocketFloor(ctx, p)
	if err != nil {
		return t, err
	}
	t.add(row{name: "  floor: bare WebSocket round trip, p50 / p99", value: us(f50) + " / " + us(f99), note: fmt.Sprintf("a worker and a Go server ping-pong 64 bytes, no engine: what a relayed call cannot beat; the worker's CPU per round trip: %s", us(floorCPU))})
	// An echo is a read and a write in turn: two round trips at the least.
	t.add(row{name: "  ceiling: 1-client echo at the floor", value: perSec(float64(time.Second) / float64(2*f50)), note: "two bare round trips an echo (read, then write): what the 1-client figure cannot beat"})
	p.close()

	progress("stepping overhead, natively and under js/wasm")
	for _, r := range stepping(ctx) {
		t.add(r)
	}

	progress("bridge memory: %d idle sessions on a fresh bridge", o.sessions)
	mem, err := memoryPerSession(ctx, o)
	if err != nil {
		return t, err
	}
	t.add(mem)
	return t, nil
}

// cpuNote says how much CPU each part spent per echo since before.
func cpuNote(before cpuTimes, err error, bridgePid int, echoes float64) string {
	if err == nil {
		var after cpuTimes
		if after, err = readCPU(bridgePid); err == nil {
			return "CPU per echo: " + perEcho(before, after, echoes)
		}
	}
	return "CPU per echo unknown: " + err.Error()
}

// memoryPerSession compares a fresh bridge's resident memory with none and
// with o.sessions connected, idle sessions.
func memoryPerSession(ctx context.Context, o options) (row, error) {
	b, err := startBridge(ctx, o.bridge, "--max-sessions", strconv.Itoa(o.sessions+1))
	if err != nil {
		return row{}, err
	}
	defer b.stop()
	// One session opened and closed first, so code paths are paged in for both readings.
	ws, err := b.idleSession()
	if err != nil {
		return row{}, err
	}
	ws.Close()
	time.Sleep(300 * time.Millisecond)
	before, err := rssKiB(b.pid())
	if err != nil {
		return row{}, err
	}
	for range o.sessions {
		ws, err := b.idleSession()
		if err != nil {
			return row{}, err
		}
		defer ws.Close()
	}
	time.Sleep(500 * time.Millisecond)
	after, err := rssKiB(b.pid())
	if err != nil {
		return row{}, err
	}
	per := float64(after-before) / float64(o.sessions)
	return row{name: "bridge memory per idle session (RSS)", value: fmt.Sprintf("%.0f KiB", per), note: fmt.Sprintf("%.1f MB with none, %.1f MB with %d", float64(before)/1024, float64(after)/1024, o.sessions)}, nil
}

// sessionStat is what the bridge logs about a session's frames when it ends.
type sessionStat struct{ framesIn, calls, framesOut, records int }

func (s sessionStat) callsPerFrame() float64 { return float64(s.calls) / float64(max(s.framesIn, 1)) }
func (s sessionStat) recordsPerFrame() float64 {
	return float64(s.records) / float64(max(s.framesOut, 1))
}

var sessionLine = regexp.MustCompile(`(\d+) calls in (\d+) frames, (\d+) records out in (\d+) frames`)

func sessionStats(lines []string) []sessionStat {
	var stats []sessionStat
	for _, l := range lines {
		if m := sessionLine.FindStringSubmatch(l); m != nil {
			n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
			stats = append(stats, sessionStat{calls: n(1), framesIn: n(2), records: n(3), framesOut: n(4)})
		}
	}
	return stats
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func pct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// perSec formats a rate with thousands separators: 12,345/s.
func perSec(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + "/s"
}

// loadAverage is the machine's 1-minute load average, from /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}
