// Command sockstep is the bridge: it serves the playground's page and performs,
// on this machine's kernel, the socket calls of the learner's program running
// in that page. Only the page it served, holding the token it printed, can
// drive it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sockstep:", err)
		}
		os.Exit(2)
	}
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
	fmt.Fprintf(stdout, "sockstep is ready. Open this URL in your browser:\n\n    %s\n\nPress Ctrl-C to stop.\n", b.url())
	return b.serve(ctx)
}
