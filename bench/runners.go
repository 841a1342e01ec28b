package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The runners a learner can choose in the page, measured the same way one
// after the other in the same page: the host runner (the default: the
// bridge starts a runner process per Run) and the in-page runner (the
// engine in the page's worker, relaying each call to the bridge).
var runners = []string{"host", "page"}

// figures is what one runner (or native Go: only the echo figures)
// measured. A figure not taken, because an error ended the runner's turn,
// stays zero and its cell empty.
type figures struct {
	toListen       []time.Duration // Run pressed → the kernel lists the socket in LISTEN
	toPid          []time.Duration // Run pressed → the page shows the runner's pid (host runner)
	one, many      float64         // echoes a second with 1 and with 32 clients
	bulk           float64         // MB a second echoed back
	perRequest     float64         // echoes a second, each on a connection of its own
	perRequestNote string          // CPU per echo of each part
	oneNote        string          // CPU per echo of each part, and what the trace panel showed
	manyNote       string          // CPU per echo of each part
	batching       *sessionStat    // the in-page runner's session, as the bridge logged it
	rtt50, rtt99   time.Duration   // getsockname, timed inside the interpreter
	steps          []time.Duration // Step pressed → the current line moved
	rssIdle        int             // KiB, the runner process waiting in accept (host runner)
	rssAfter       int             // KiB, the same after the 1-client load
	process        string          // the runner process's name and pid (host runner)
}

// measureRunner takes every per-runner figure with the runner chosen in p,
// the learner's programs listening on port. On an error it returns the
// figures it has so far with it.
func measureRunner(ctx context.Context, o options, p *page, b *bridgeProc, runner string, port int) (*figures, error) {
	f := &figures{}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := p.useRunner(runner); err != nil {
		return f, err
	}

	progress("%s runner: run to listening, %d runs of the echo server on %s", runner, o.runs, addr)
	if err := p.setSource(echoOn(port)); err != nil {
		return f, err
	}
	for i := range o.runs + 1 { // the first, not counted, warms up
		if i > 0 {
			if err := stopListening(p, port); err != nil {
				return f, err
			}
		}
		start := time.Now()
		if err := p.pressRunWatchingPid(); err != nil {
			return f, err
		}
		at, err := waitListening(port, true, 20*time.Second)
		if err != nil {
			return f, err
		}
		if i == 0 {
			continue
		}
		f.toListen = append(f.toListen, at.Sub(start))
		if runner == "host" {
			d, err := p.pidShown()
			if err != nil {
				return f, err
			}
			f.toPid = append(f.toPid, d)
		}
	}

	pid := 0 // the runner process; none for the in-page runner
	if runner == "host" {
		var err error
		if pid, err = p.runnerPID(); err != nil {
			return f, err
		}
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		f.process = fmt.Sprintf("%q, pid %d", strings.TrimSpace(string(comm)), pid)
		time.Sleep(500 * time.Millisecond) // settled, waiting in accept
		if f.rssIdle, err = rssKiB(pid); err != nil {
			return f, err
		}
	}
	progress("%s runner: echo, 1 client, %s", runner, o.duration)
	stopProfile := func() {}
	if o.profile {
		var err error
		if stopProfile, err = profilePage(p, os.Stderr); err != nil {
			return f, err
		}
	}
	cpuBefore, cpuErr := readCPU(p, b.pid(), pid)
	one, err := pingPong(ctx, addr, 1, o.duration)
	if err != nil {
		return f, err
	}
	stopProfile()
	f.one = one
	f.oneNote = cpuNote(p, cpuBefore, cpuErr, b.pid(), pid, one*o.duration.Seconds())
	trace, err := p.traceSummary() // what the learner saw of that load
	if err != nil {
		return f, err
	}
	f.oneNote += "; " + trace
	if pid != 0 {
		time.Sleep(200 * time.Millisecond) // back in accept
		f.rssAfter, _ = rssKiB(pid)
	}

	progress("%s runner: connection per request, 1 client, %s", runner, o.duration)
	cpuBefore, cpuErr = readCPU(p, b.pid(), pid)
	n, rate, err := perRequest(ctx, addr, o.duration)
	if err != nil {
		return f, err
	}
	f.perRequest = rate
	f.perRequestNote = cpuNote(p, cpuBefore, cpuErr, b.pid(), pid, float64(n))
	if err := stopListening(p, port); err != nil {
		return f, err
	}

	progress("%s runner: echo, 32 clients, and bulk, %s each: a goroutine-per-client echo server", runner, o.duration)
	if err := p.setSource(concurrentEchoOn(port)); err != nil {
		return f, err
	}
	if err := p.press("run"); err != nil {
		return f, err
	}
	if _, err := waitListening(port, true, 20*time.Second); err != nil {
		return f, err
	}
	if runner == "host" {
		if pid, err = p.runnerPID(); err != nil {
			return f, err
		}
	}
	cpuBefore, cpuErr = readCPU(p, b.pid(), pid)
	many, err := pingPong(ctx, addr, 32, o.duration)
	if err != nil {
		return f, err
	}
	f.many = many
	f.manyNote = cpuNote(p, cpuBefore, cpuErr, b.pid(), pid, many*o.duration.Seconds())
	if f.bulk, err = bulk(ctx, addr, o.duration); err != nil {
		return f, err
	}
	closedBefore := len(sessionStats(b.stderrLines()))
	if err := stopListening(p, port); err != nil {
		return f, err
	}
	if runner == "page" {
		// The session of the 32 clients logs its frame counts when Stop ends it.
		deadline := time.Now().Add(5 * time.Second)
		for len(sessionStats(b.stderrLines())) <= closedBefore && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if stats := sessionStats(b.stderrLines()); len(stats) > closedBefore {
			f.batching = &stats[len(stats)-1]
		}
	}

	progress("%s runner: call round trip, getsockname timed inside the interpreter", runner)
	if f.rtt50, f.rtt99, err = roundTripIn(p, o.verbose); err != nil {
		return f, err
	}

	progress("%s runner: step latency, %d steps", runner, o.steps)
	if err := p.setSource(stepLoop); err != nil {
		return f, err
	}
	if f.steps, err = p.stepLatency(o.steps); err != nil {
		return f, err
	}
	return f, p.stop()
}

// stopListening presses Stop and waits until the program's socket has left
// LISTEN.
func stopListening(p *page, port int) error {
	if err := p.stop(); err != nil {
		return err
	}
	_, err := waitListening(port, false, 5*time.Second)
	return err
}

// roundTripIn runs the round-trip program and reads its p50 and p99 from
// the output panel.
func roundTripIn(p *page, verbose bool) (p50, p99 time.Duration, err error) {
	if err := p.setSource(roundTrip); err != nil {
		return 0, 0, err
	}
	if err := p.press("run"); err != nil {
		return 0, 0, err
	}
	if err := p.waitFor(`/round trip p50=\d+ p99=\d+ ns|getsockname:|socket:/.test(document.querySelector('[data-testid="output"]').textContent)`, 2*time.Minute); err != nil {
		return 0, 0, fmt.Errorf("round trip program: %w", err)
	}
	out, err := p.output()
	if err != nil {
		return 0, 0, err
	}
	if verbose {
		fmt.Fprintln(os.Stderr, out)
	}
	m := regexp.MustCompile(`round trip p50=(\d+) p99=(\d+) ns`).FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("round trip program printed: %s", out)
	}
	a, _ := strconv.ParseInt(m[1], 10, 64)
	b, _ := strconv.ParseInt(m[2], 10, 64)
	// The program ends by itself; the next Run waits for that.
	return time.Duration(a), time.Duration(b), p.waitFor(statusIs("stopped"), 10*time.Second)
}

// cpuNote says how much CPU each part spent per echo since before.
func cpuNote(p *page, before cpuTimes, err error, bridgePid, runnerPid int, echoes float64) string {
	if err == nil {
		var after cpuTimes
		if after, err = readCPU(p, bridgePid, runnerPid); err == nil {
			return "CPU per echo: " + perEcho(before, after, echoes)
		}
	}
	return "CPU per echo unknown: " + err.Error()
}

// rateRow fills r's cells from a rate per runner and natively (format
// writes one), and its target: the host runner at least atLeast of native.
func rateRow(r row, host, page, native float64, format func(float64) string, atLeast float64) row {
	if atLeast > 0 {
		r.target = fmt.Sprintf("≥ %.0f%% of native", atLeast*100)
	}
	if native > 0 {
		r.native = format(native)
	}
	if page > 0 {
		r.page = format(page)
		if native > 0 {
			r.page += " (" + pct(page/native) + ")"
		}
	}
	if host > 0 {
		r.host = format(host)
		if native > 0 {
			r.ratio = pct(host / native)
			r.met = host/native >= atLeast
		}
	}
	return r
}

// latencyRow fills r's cells with the median of each runner's samples, the
// spread in its note, and its target: the host runner's median at most
// atMost.
func latencyRow(r row, host, page []time.Duration, atMost time.Duration) row {
	r.target = "≤ " + ms(atMost)
	if len(host) > 0 {
		r.host = ms(median(host))
		r.met = median(host) <= atMost
	}
	if len(page) > 0 {
		r.page = ms(median(page))
	}
	r.note = perRunner(spread(host), spread(page))
	return r
}

// spread is the smallest and the largest of samples.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return ""
	}
	return "min " + ms(slices.Min(ds)) + ", max " + ms(slices.Max(ds))
}
