package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/chromedp/chromedp"
)

// page is one headless Chromium, with a profile (and so an HTTP cache) of
// its own, showing the playground.
type page struct {
	ctx    context.Context
	cancel func()
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
	return p, nil
}

func (p *page) close() { p.cancel() }

// open navigates to url and waits until the page is ready (an engine is up
// and the editor holds a program), then returns how long that took from the
// start of navigation, as the page's own clock measured it (the
// sockstep:ready performance mark).
func (p *page) open(url string) (time.Duration, error) {
	if err := navigate(p, url); err != nil {
		return 0, fmt.Errorf("open the page: %w", err)
	}
	if err := p.waitFor(`performance.getEntriesByName("sockstep:ready").length > 0`, 30*time.Second); err != nil {
		return 0, fmt.Errorf("the page never became ready: %w", err)
	}
	ms, err := eval[float64](p, `performance.getEntriesByName("sockstep:ready")[0].startTime`)
	return time.Duration(ms * float64(time.Millisecond)), err
}

// navigate opens url in the page and waits for it to load.
func navigate(p *page, url string) error {
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

func eval[T any](p *page, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
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

// engines is how many engine workers have come up on this page so far.
func (p *page) engines() (int, error) {
	return eval[int](p, `performance.getEntriesByName("sockstep:started").length`)
}

// stop presses Stop and waits until the fresh worker the page starts is
// connected, so the next Run is not held up by its boot.
func (p *page) stop() error {
	before, err := p.engines()
	if err != nil {
		return err
	}
	if err := p.press("stop"); err != nil {
		return err
	}
	return p.waitFor(`performance.getEntriesByName("sockstep:started").length > `+strconv.Itoa(before), 30*time.Second)
}

// output is the text of the output panel.
func (p *page) output() (string, error) {
	return eval[string](p, `document.querySelector('[data-testid="output"]').textContent`)
}
