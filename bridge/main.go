// Package bridge is the sockstep command's server: it serves the playground's
// page, starts a runner process per Run (package runner) and performs on this
// machine's kernel the socket calls of a program the page runs itself. Only
// the page it served, holding the token it printed, can drive it. The command
// (cmd/sockstep) is a thin main around Main.
package bridge

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// Main runs one command line and returns the exit status: 0 done (or a check
// passed), 1 a check failed, 2 a usage or start-up error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		return runCheck(ctx, args[1:], stdout, stderr)
	}
	if err := run(ctx, args, stdout, stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "sockstep:", err)
		}
		return 2
	}
	return 0
}

// run parses the command line, serves until ctx ends, then closes every
// session.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	b, err := listen(cfg, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sockstep is ready. Open this URL in your browser:\n\n    %s\n\n", b.url())
	if links := b.courseLinks(); len(links) > 0 {
		// Each link on a line of its own, starting with its origin, so that a
		// script (or a learner's eye) finds it by the course's address.
		fmt.Fprintf(stdout, "Or use the page your course hosts, allowed with --allow-origin; open:\n\n")
		for _, link := range links {
			fmt.Fprintf(stdout, "%s\n", link)
		}
		fmt.Fprintln(stdout)
		for _, o := range cfg.allowOrigins {
			if insecureOrigin(o) {
				fmt.Fprintf(stderr, "sockstep: note: %s is plain http: Chrome lets only https pages (and localhost) ask to reach programs on this computer, so a page from there cannot reach the bridge in Chrome; host it over https\n", o)
			}
		}
	}
	fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n")
	return b.serve(ctx)
}
