package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// profilePage starts the V8 profiler of p's page; the returned function
// stops it and writes the functions that took the most of the page's main
// thread meanwhile to w (-profile: where the page's CPU per echo goes).
func profilePage(p *page, w io.Writer) (stop func(), err error) {
	_, err = chromedp.Run(p.ctx, func(ctx context.Context, t *chromedp.Target) (cdp.Empty, error) {
		if _, err := cdp.Call(ctx, t, profiler.Enable, cdp.Empty{}); err != nil {
			return cdp.Empty{}, err
		}
		if _, err := cdp.Call(ctx, t, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 200}); err != nil {
			return cdp.Empty{}, err
		}
		return cdp.Call(ctx, t, profiler.Start, cdp.Empty{})
	})
	if err != nil {
		return nil, err
	}
	return func() {
		res, err := chromedp.Run(p.ctx, func(ctx context.Context, t *chromedp.Target) (profiler.StopResult, error) {
			return cdp.Call(ctx, t, profiler.Stop, cdp.Empty{})
		})
		if err != nil {
			fmt.Fprintln(w, "bench: profile:", err)
			return
		}
		printProfile(w, res.Profile)
	}, nil
}

// printProfile writes a V8 CPU profile's top functions by self time.
func printProfile(w io.Writer, prof *profiler.Profile) {
	byID := map[int64]*profiler.ProfileNode{}
	for _, n := range prof.Nodes {
		byID[n.ID] = n
	}
	self := map[string]time.Duration{}
	var total time.Duration
	for i, id := range prof.Samples {
		if i >= len(prof.TimeDeltas) {
			break
		}
		d := time.Duration(prof.TimeDeltas[i]) * time.Microsecond
		n := byID[id]
		if n == nil {
			continue
		}
		name := n.CallFrame.FunctionName
		if name == "" {
			name = "(anonymous)"
		}
		key := fmt.Sprintf("%s %s:%d:%d", name, path.Base(n.CallFrame.URL), n.CallFrame.LineNumber+1, n.CallFrame.ColumnNumber+1)
		self[key] += d
		total += d
	}
	type fn struct {
		name string
		d    time.Duration
	}
	var fns []fn
	for k, d := range self {
		fns = append(fns, fn{k, d})
	}
	slices.SortFunc(fns, func(a, b fn) int { return cmp.Compare(b.d, a.d) })
	fmt.Fprintf(w, "page profile, %s sampled:\n", total.Round(time.Millisecond))
	for _, f := range fns[:min(len(fns), 30)] {
		fmt.Fprintf(w, "  %5.1f%%  %s\n", 100*float64(f.d)/float64(total), f.name)
	}
}
