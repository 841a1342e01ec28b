// Command sockstep serves the playground: the page, a runner process per Run
// beside this machine's kernel, and the lessons' checks.
//
//	sockstep [flags]                      serve the playground
//	sockstep check LESSON [--addr H:P]    check a natively run program against a lesson
//	sockstep runner                       (started by sockstep itself) run one learner's program
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/sockstep/sockstep/bridge"
	"github.com/sockstep/sockstep/runner"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "runner" {
		os.Exit(runner.Main()) // a program's own process: all the threads it wants
	}
	// One thread runs the bridge's goroutines unless GOMAXPROCS says
	// otherwise. The bridge mostly waits on sockets and does little work per
	// call; on one thread the answers to a page's frame of calls are ready
	// together when the write pump looks, where on two the call goroutines
	// spread over threads that keep waking each other (measured with make
	// bench's 32-client echo: less bridge CPU per echo, more echoes a second).
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bridge.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
