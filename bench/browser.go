package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// page is one headless Chromium, with a profile (and so an HTTP cache) of
// its own, showing the playground.
type page struct {
	ctx        context.Context
	cancel     func()
	browserPid int    // Chromium's browser process, whose renderers cpu.go reads
	runner     string // the runner chosen with useRunner: "host" or "page"
}

// openBrowser starts Chromium with a fresh profile; the page is blank until
// open.
func openBrowser(ctx context.Context, chromium string) (*page, error) {
	profile, err := os.MkdirTemp("", "sockstep-bench-profile-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no background networking, …
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	p := &page{ctx: tabCtx, cancel: func() {
		cancelTab()
		cancelAlloc()
		os.RemoveAll(profile)
	}}
	if err := chromedp.Do(tabCtx); err != nil { // launch now, so launching is not timed
		p.cancel()
		return nil, fmt.Errorf("start %s: %w", chromium, err)
	}
	p.browserPid = chromedp.FromContext(tabCtx).Browser.Process().Pid
	p.settle()
	return p, nil
}

// settle waits, for at most 3 s, until the browser's processes are idle.
// A browser with a fresh profile goes on starting for a second or more after
// its first tab opens (its components, its network service); a load meanwhile
// measured that start as much as the page (page ready 613-650 ms against
// 484 ms once settled). A learner opens the page in a browser already
// running: a cold load is an empty cache, not a browser starting.
func (p *page) settle() {
	busy := func() time.Duration {
		var total time.Duration
		for _, pid := range append(descendants(p.browserPid), strconv.Itoa(p.browserPid)) {
			if cpu, err := procCPU("/proc/" + pid + "/stat"); err == nil {
				total += cpu
			}
		}
		return total
	}
	last := busy()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		now := busy()
		if now-last < 10*time.Millisecond { // under a tenth of a core
			return
		}
		last = now
	}
}

func (p *page) close() { p.cancel() }

// loadTimes are the moments of a page load, from the start of navigation,
// as the page's own clock measured them.
type loadTimes struct {
	scripts time.Duration // DOMContentLoaded: the page's scripts ran
	engine  time.Duration // the first engine connected (sockstep:started)
	ready   time.Duration // status ready: an engine is up and the editor holds a program (sockstep:ready)
}

// open navigates to url and waits until the page is ready, then returns
// when each part of that happened.
func (p *page) open(url string) (loadTimes, error) {
	if err := navigate(p, url); err != nil {
		return loadTimes{}, fmt.Errorf("open the page: %w", err)
	}
	if err := p.waitFor(`performance.getEntriesByName("sockstep:ready").length > 0`, 30*time.Second); err != nil {
		return loadTimes{}, fmt.Errorf("the page never became ready: %w", err)
	}
	ms, err := eval[[]float64](p, `[
		performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
		performance.getEntriesByName("sockstep:started")[0]?.startTime ?? 0,
		performance.getEntriesByName("sockstep:ready")[0].startTime,
	]`)
	if err != nil || len(ms) != 3 {
		return loadTimes{}, fmt.Errorf("the page's timings: %v", err)
	}
	d := func(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
	return loadTimes{d(ms[0]), d(ms[1]), d(ms[2])}, nil
}

// navigate opens url in the page and waits for it to load.
func navigate(p *page, url string) error {
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

// storage is the page's localStorage, as JSON: what it remembers, such as
// the runner chosen.
func (p *page) storage() (string, error) {
	return eval[string](p, `JSON.stringify(Object.fromEntries(Object.entries(localStorage)))`)
}

// openRemembering opens url as open does, in a page whose localStorage holds
// stored (from storage) before its own scripts run: a cold load by a learner
// who chose before, such as the in-page runner.
func (p *page) openRemembering(url, stored string) (loadTimes, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	script := `try { const s = ` + stored + `; for (const k in s) localStorage.setItem(k, s[k]); } catch {}`
	if _, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (cdppage.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, t, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: script})
	}); err != nil {
		return loadTimes{}, fmt.Errorf("set the page's localStorage: %w", err)
	}
	return p.open(url)
}

// eval evaluates a JavaScript expression; with chromedp.EvalAwaitPromise,
// it waits for the promise the expression returns.
func eval[T any](p *page, expr string, opts ...chromedp.EvaluateOption) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
}

// waitFor polls a JavaScript expression until it is true, for at most limit.
func (p *page) waitFor(expr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(p.ctx, limit+5*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(5*time.Millisecond)))
}

// setSource replaces the editor's text through the documented hook.
func (p *page) setSource(src string) error {
	_, err := eval[bool](p, `(() => { const v = window.sockstep.view; v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: `+strconv.Quote(src)+`}}); return true })()`)
	return err
}

// press clicks a button by its data-testid, without waiting for anything.
func (p *page) press(id string) error {
	_, err := eval[bool](p, `(document.querySelector('[data-testid="`+id+`"]').click(), true)`)
	return err
}

// useRunner picks where Run runs the program, with the page's runner
// select as a learner does: "host" (a runner process the bridge starts) or
// "page" (the engine in the page's worker). Nothing may be running.
func (p *page) useRunner(name string) error {
	ok, err := eval[bool](p, `(() => {
		const s = document.querySelector('[data-testid="runner"]');
		if (!s) return false;
		s.value = `+strconv.Quote(name)+`;
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return s.value === `+strconv.Quote(name)+`;
	})()`)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the page has no runner select (data-testid=\"runner\") with the choice %q", name)
	}
	p.runner = name
	return nil
}

// engines is how many engine workers have come up on this page so far.
func (p *page) engines() (int, error) {
	return eval[int](p, `performance.getEntriesByName("sockstep:started").length`)
}

// statusIs is a JavaScript test of the page's status.
func statusIs(s string) string {
	return `document.querySelector('[data-testid="status"]').textContent === ` + strconv.Quote(s)
}

// stop presses Stop and waits until the page says stopped; with the
// in-page runner, also until the fresh worker the page starts is connected,
// so the next Run is not held up by its boot.
func (p *page) stop() error {
	before, err := p.engines()
	if err != nil {
		return err
	}
	if err := p.press("stop"); err != nil {
		return err
	}
	if err := p.waitFor(statusIs("stopped"), 10*time.Second); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if p.runner != "page" {
		return nil
	}
	return p.waitFor(`performance.getEntriesByName("sockstep:started").length > `+strconv.Itoa(before), 30*time.Second)
}

// pressRunWatchingPid presses Run as press does, and has the page note when
// its pid hook then shows a process id (the host runner's process was
// started), for pidShown.
func (p *page) pressRunWatchingPid() error {
	_, err := eval[bool](p, `(() => {
		const pid = document.querySelector('[data-testid="pid"]');
		const start = performance.now();
		window.benchPidShown = new Promise((resolve) => {
			const seen = new MutationObserver(() => {
				if (!/^\d+$/.test(pid.textContent.trim())) return;
				seen.disconnect();
				resolve(performance.now() - start);
			});
			seen.observe(pid, {childList: true, characterData: true, subtree: true});
			setTimeout(() => { seen.disconnect(); resolve(-1); }, 20000);
		});
		document.querySelector('[data-testid="run"]').click();
		return true;
	})()`)
	return err
}

// pidShown is how long after the last pressRunWatchingPid the page showed
// the process id.
func (p *page) pidShown() (time.Duration, error) {
	ms, err := eval[float64](p, `window.benchPidShown`, chromedp.EvalAwaitPromise)
	if err == nil && ms < 0 {
		err = errors.New("the page's pid hook showed no process id within 20 s of Run")
	}
	return time.Duration(ms * float64(time.Millisecond)), err
}

// runnerPID is the running program's process id, from the page's pid hook
// (shown once the host runner has started it).
func (p *page) runnerPID() (int, error) {
	const hook = `(document.querySelector('[data-testid="pid"]')?.textContent ?? "").trim()`
	if err := p.waitFor(`/^\d+$/.test(`+hook+`)`, 5*time.Second); err != nil {
		return 0, fmt.Errorf("the page's pid hook shows no process id: %w", err)
	}
	s, err := eval[string](p, hook)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// stepLatency starts the editor's program stopped at its first line, as
// Step does when nothing runs, then presses Step n times (n ≤ 20) and
// returns, for each press, the time until the editor's current line moved,
// on the page's own clock. Every step of the program must change the line.
func (p *page) stepLatency(n int) ([]time.Duration, error) {
	if err := p.press("step"); err != nil {
		return nil, err
	}
	if err := p.waitFor(statusIs("paused")+` && document.querySelector('[data-testid="current-line"]') !== null`, 30*time.Second); err != nil {
		return nil, fmt.Errorf("the program never stopped at its start: %w", err)
	}
	took, err := eval[[]float64](p, `(async (n) => {
		const status = document.querySelector('[data-testid="status"]');
		const step = document.querySelector('[data-testid="step"]');
		const line = () => document.querySelector('[data-testid="current-line"]')?.dataset.line;
		const took = [];
		for (let i = 1; i <= n; i++) {
			for (const until = performance.now() + 1000; step.disabled || status.textContent !== "paused"; ) {
				if (performance.now() > until) throw new Error("step " + i + ": not paused after 1 s");
				await new Promise((r) => setTimeout(r, 1));
			}
			const from = line();
			const moved = new Promise((resolve, reject) => {
				const seen = new MutationObserver(() => {
					const l = line();
					if (l === undefined || l === from) return;
					seen.disconnect();
					clearTimeout(timer);
					resolve(performance.now());
				});
				seen.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-line"]});
				const timer = setTimeout(() => { seen.disconnect(); reject(new Error("step " + i + ": the current line stayed " + from + " for 1 s")); }, 1000);
			});
			const start = performance.now();
			step.click();
			took.push((await moved) - start);
		}
		return took;
	})(`+strconv.Itoa(n)+`)`, chromedp.EvalAwaitPromise)
	if err != nil {
		return nil, fmt.Errorf("step latency: %w", err)
	}
	ds := make([]time.Duration, len(took))
	for i, ms := range took {
		ds[i] = time.Duration(ms * float64(time.Millisecond))
	}
	return ds, nil
}

// traceSummary says what the trace panel shows: how many entries, and the
// last.
func (p *page) traceSummary() (string, error) {
	return eval[string](p, `(() => {
		const t = document.querySelector('[data-testid="trace"]');
		return "the trace panel showed " + t.children.length + " entries, the last " + JSON.stringify((t.lastElementChild?.textContent ?? "").trim());
	})()`)
}

// output is the text of the output panel.
func (p *page) output() (string, error) {
	return eval[string](p, `document.querySelector('[data-testid="output"]').textContent`)
}
