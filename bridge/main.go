// Command sockstep is the bridge: it serves the playground's page and performs,
// on this machine's kernel, the socket calls of the learner's program running
// in that page. Only the page it served, holding the token it printed, can
// drive it.
//
//	sockstep [flags]                      serve the playground
//	sockstep check LESSON [--addr H:P]    check a natively run program against a lesson
//
// The bridge also starts itself as `sockstep runner`, a process per Run that
// interprets the learner's program beside the kernel (package runner).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"sockstep/runner"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "runner" {
		os.Exit(runner.Main()) // a program's own process: all the threads it wants
	}
	// One thread runs the bridge's goroutines unless GOMAXPROCS says
	// otherwise. The bridge mostly waits on sockets and does little work per
	// call; on one thread the answers to a page's frame of calls are ready
	// together when the write pump looks, where on two the call goroutines
	// spread over threads that keep waking each other. Measured side by side
	// (32-client echo), the bridge's CPU per echo is 15-40% lower, and the
	// echoes a second from the same to 60% more.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli runs one command line and returns the exit status: 0 done (or a check
// passed), 1 a check failed, 2 a usage or start-up error.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
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
