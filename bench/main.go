// Command bench measures sockstep end to end — the page in headless
// Chromium, the learner's program in a runner process the bridge starts
// (the host runner, the default) and in the page's worker (the in-page
// runner, relaying each call over the WebSocket), the bridge on the host
// kernel — against native Go on the same machine, and prints one table.
// Every figure comes from this one run. `make bench` builds what it needs
// and runs it.
//
// It launches bin/sockstep as a learner does, drives the page through its
// automation hooks (data-testid — runner, pid, current-line among them —,
// window.sockstep.view, and the page's "sockstep:ready" and
// "sockstep:started" performance marks), and times the kernel's view of
// sockets from here. Loopback only; every loop is bounded.
package main

import (
	"context"
	"errors"
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
	steps    int
	verbose  bool
	runners  []string // which runners to measure, of runners
	short    bool     // leave out the figures that are not about a runner
	profile  bool     // print where the page's main thread went under the 1-client echo
}

func main() {
	var o options
	flag.StringVar(&o.bridge, "bridge", "bin/sockstep", "the bridge `binary` to measure")
	flag.StringVar(&o.chromium, "chromium", "/usr/bin/chromium", "the `browser` to drive")
	flag.IntVar(&o.loads, "loads", 5, "cold loads of the page, each with a fresh profile")
	flag.IntVar(&o.runs, "runs", 5, "presses of Run for run-to-listening, with each runner")
	flag.IntVar(&o.steps, "steps", 20, "presses of Step for step latency, with each runner (at most 20)")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "how long each throughput figure runs")
	flag.IntVar(&o.sessions, "sessions", 32, "idle sessions for the memory figure")
	flag.BoolVar(&o.verbose, "v", false, "also print the round-trip program's output panel")
	only := flag.String("runners", strings.Join(runners, ","), "the `runners` to measure, comma-separated (host, page)")
	flag.BoolVar(&o.short, "short", false, "leave out the sizes, the floor, stepping overhead and bridge memory (0 -loads leaves out page ready)")
	flag.Float64Var(&pace, "pace", 0, "hold each ping-pong client to this many `echoes` a second (0: as fast as it can)")
	flag.BoolVar(&o.profile, "profile", false, "print the page's hottest functions under the 1-client echo")
	flag.Parse()
	for _, r := range strings.Split(*only, ",") {
		if !slices.Contains(runners, r) {
			fmt.Fprintf(os.Stderr, "bench: no runner %q; there are %s\n", r, strings.Join(runners, ", "))
			os.Exit(2)
		}
		o.runners = append(o.runners, r)
	}
	o.steps = min(max(o.steps, 1), 20)

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
	t.header = fmt.Sprintf("sockstep bench — %s/%s, %d cores, %s, %s; targets are the host runner's", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))

	b, err := startBridge(ctx, o.bridge)
	if err != nil {
		return nil, err
	}
	defer b.stop()

	if !o.short {
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
		t.add(row{name: "engine.wasm, raw", host: mb(raw)})
		t.add(row{name: "engine.wasm as served (" + enc + ")", host: mb(wire), target: "≤ 3 MB", met: wire <= 3_000_000})
	}

	if o.loads > 0 {
		progress("page ready: %d loads, each in a fresh profile, with each runner", o.loads)
		hostLoads, pageLoads, err := pageReady(ctx, o, b)
		ready := latencyRow(row{name: fmt.Sprintf("page ready, open → ready (median of %d)", o.loads)}, readyTimes(hostLoads), readyTimes(pageLoads), 500*time.Millisecond)
		ready.note = perRunner(loadNote(hostLoads), loadNote(pageLoads))
		t.add(ready)
		if err != nil {
			return t, err
		}
	}

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
	// Each runner in turn; one that fails leaves its cells empty, and the
	// others are still measured.
	var errs []error
	fig := map[string]*figures{"host": {}, "page": {}}
	for _, r := range o.runners {
		f, err := measureRunner(ctx, o, p, b, r, port)
		fig[r] = f
		if err != nil {
			errs = append(errs, fmt.Errorf("%s runner: %w", r, err))
			// Leave nothing running for the next runner.
			if busy, _ := eval[bool](p, statusIs("running")+" || "+statusIs("paused")); busy && stopListening(p, port) != nil {
				p.open(b.url)
			}
		}
	}
	native, inProcess, nativeErrs := measureNative(ctx, o)
	errs = append(errs, nativeErrs...)
	host, page := fig["host"], fig["page"]

	listen := latencyRow(row{name: fmt.Sprintf("run → listening (median of %d)", o.runs)}, host.toListen, page.toListen, 50*time.Millisecond)
	if len(host.toPid) > 0 { // the runner process started, then it readied the interpreter, compiled, ran to listen
		listen.note = perRunner(spread(host.toListen)+"; the page showed the runner's pid after "+ms(median(host.toPid))+" (median)", spread(page.toListen))
	}
	t.add(listen)
	echo1 := rateRow(row{name: "echo 64 B ping-pong, 1 client"}, host.one, page.one, native.one, perSec, 0.40)
	echo1.note = withNative(perRunner(host.oneNote, page.oneNote), native.oneNote, inProcess.one, host.one, perSec)
	t.add(echo1)
	echo32 := rateRow(row{name: "echo 64 B ping-pong, 32 clients"}, host.many, page.many, native.many, perSec, 0.40)
	echo32.note = withNative(perRunner(host.manyNote, page.manyNote), native.manyNote, inProcess.many, host.many, perSec)
	t.add(echo32)
	bulkRow := rateRow(row{name: "bulk echo, 64 KiB writes, 1 client"}, host.bulk, page.bulk, native.bulk, mbPerSec, 0.30)
	bulkRow.note = withNative("", "", inProcess.bulk, host.bulk, mbPerSec)
	t.add(bulkRow)
	conn := rateRow(row{name: "connection per request: dial, 64 B, close"}, host.perRequest, page.perRequest, native.perRequest, perSec, 0.25)
	conn.note = withNative(perRunner(host.perRequestNote, page.perRequestNote), native.perRequestNote, inProcess.perRequest, host.perRequest, perSec)
	t.add(conn)
	if s := page.batching; s != nil {
		t.add(row{name: "batching, 32 clients (records per frame)", page: fmt.Sprintf("in %.2f, out %.2f", s.callsPerFrame(), s.recordsPerFrame()), note: fmt.Sprintf("in-page: %d calls in %d frames; %d records out in %d frames", s.calls, s.framesIn, s.records, s.framesOut)})
	}
	for _, l := range b.stderrLines() {
		if strings.Contains(l, "slowing its calls") {
			// The figures would measure the cap, not the runner.
			t.header += "\nWARNING: the bridge's --max-calls-per-second cap slowed a measured program"
			break
		}
	}
	rtt := row{name: "call round trip (getsockname), p50 / p99"}
	if host.rtt50 > 0 {
		rtt.host = us(host.rtt50) + " / " + us(host.rtt99)
	}
	if page.rtt50 > 0 {
		rtt.page = us(page.rtt50) + " / " + us(page.rtt99)
	}
	t.add(rtt)

	if page.rtt50 > 0 && !o.short {
		progress("the floor: a bare WebSocket round trip from a worker in the same browser")
		f50, f99, floorCPU, err := webSocketFloor(ctx, p)
		if err != nil {
			errs = append(errs, err)
		} else {
			t.add(row{name: "  floor: bare WebSocket round trip, p50 / p99", page: us(f50) + " / " + us(f99), note: fmt.Sprintf("a worker and a Go server ping-pong 64 bytes, no engine: what a call relayed from the page cannot beat; the worker's CPU per round trip: %s", us(floorCPU))})
			// An echo is a read and a write in turn: two round trips at the least.
			t.add(row{name: "  ceiling: 1-client echo at the floor", page: perSec(float64(time.Second) / float64(2*f50)), note: "two bare round trips an echo (read, then write): what the in-page runner's 1-client figure cannot beat"})
		}
	}
	p.close()

	t.add(latencyRow(row{name: fmt.Sprintf("step latency, Step → line moved (p50 of %d)", o.steps)}, host.steps, page.steps, 30*time.Millisecond))
	mem := row{name: "runner memory, idle in accept (RSS)", target: "≤ 40 MB"}
	if host.rssIdle > 0 {
		mem.host = mb(int64(host.rssIdle) << 10)
		mem.met = int64(host.rssIdle)<<10 <= 40_000_000
		mem.note = fmt.Sprintf("the runner process %s; %s after the 1-client echo", host.process, mb(int64(host.rssAfter)<<10))
	}
	t.add(mem)

	if o.short {
		return t, errors.Join(errs...)
	}
	progress("stepping overhead, natively and under js/wasm")
	t.add(stepping(ctx))

	progress("bridge memory: %d idle sessions on a fresh bridge", o.sessions)
	if mem, err := memoryPerSession(ctx, o); err != nil {
		errs = append(errs, err)
	} else {
		t.add(mem)
	}
	return t, errors.Join(errs...)
}

// pageReady opens the page o.loads times with each runner, each time in a
// browser with a fresh profile (an empty cache): with the host runner, a
// fresh profile's choice, and with the in-page runner, chosen in the
// browser before and remembered.
func pageReady(ctx context.Context, o options, b *bridgeProc) (host, page []loadTimes, err error) {
	for range o.loads {
		l, stored, err := coldLoad(ctx, o, b, "{}", "host")
		if err != nil {
			return host, page, err
		}
		if slices.Contains(o.runners, "host") {
			host = append(host, l)
		}
		if !slices.Contains(o.runners, "page") {
			continue
		}
		if l, _, err = coldLoad(ctx, o, b, stored, "page"); err != nil {
			return host, page, err
		}
		page = append(page, l)
	}
	return host, page, nil
}

// coldLoad opens the page in a browser with a fresh profile whose
// localStorage holds stored (JSON), checks that the page's runner is
// runner, and returns the load's timings and what the page remembers once
// the in-page runner is chosen.
func coldLoad(ctx context.Context, o options, b *bridgeProc, stored, runner string) (loadTimes, string, error) {
	p, err := openBrowser(ctx, o.chromium)
	if err != nil {
		return loadTimes{}, "", err
	}
	defer p.close()
	l, err := p.openRemembering(b.url, stored)
	if err != nil {
		return l, "", err
	}
	if choice, err := eval[string](p, `document.querySelector('[data-testid="runner"]')?.value ?? "none"`); err != nil || choice != runner {
		return l, "", fmt.Errorf("page ready: the page's runner is %q, not %s (%v)", choice, runner, err)
	}
	if err := p.useRunner("page"); err != nil {
		return l, "", err
	}
	stored, err = p.storage()
	return l, stored, err
}

func readyTimes(loads []loadTimes) []time.Duration {
	ds := make([]time.Duration, len(loads))
	for i, l := range loads {
		ds[i] = l.ready
	}
	return ds
}

// loadNote says how ready's time was spent in the median load.
func loadNote(loads []loadTimes) string {
	if len(loads) == 0 {
		return ""
	}
	ready := readyTimes(loads)
	l := loads[slices.Index(ready, median(ready))]
	return fmt.Sprintf("%s; the median load: scripts ran (DOMContentLoaded) at %s, the engine connected at %s", spread(ready), ms(l.scripts), ms(l.engine))
}

// perRunner is a row's note from each runner's, a line each when both
// have one.
func perRunner(host, page string) string {
	var lines []string
	if host != "" {
		lines = append(lines, "host: "+host)
	}
	if page != "" {
		lines = append(lines, "in-page: "+page)
	}
	if len(lines) < 2 {
		return strings.Join(lines, "")
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

// withNative adds to a rate row's note a line on native Go: what the
// compiled program's process spent (cpu), and the rate of Go's net server in
// the bench's own process, with the host runner's share of it.
func withNative(note, cpu string, inProcess, host float64, format func(float64) string) string {
	line := cpu
	if inProcess > 0 {
		if line != "" {
			line += "; "
		}
		line += "Go's net server in the bench's own process: " + format(inProcess)
		if host > 0 {
			line += " (the host runner " + pct(host/inProcess) + " of it)"
		}
	}
	if line == "" {
		return note
	}
	if note == "" {
		return "native: " + line
	}
	if !strings.HasPrefix(note, "\n") {
		note = "\n    " + note
	}
	return note + "\n    native: " + line
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
	return row{name: "bridge memory per idle session (RSS)", host: fmt.Sprintf("%.0f KiB", per), note: fmt.Sprintf("%.1f MB with none, %.1f MB with %d", float64(before)/1024, float64(after)/1024, o.sessions)}, nil
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

// mbPerSec formats a throughput in MB/s, with a decimal below 100.
func mbPerSec(f float64) string {
	if f < 100 {
		return fmt.Sprintf("%.1f MB/s", f)
	}
	return fmt.Sprintf("%.0f MB/s", f)
}

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
