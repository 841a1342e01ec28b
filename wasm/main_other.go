//go:build !js

// Natively, this command runs a learner's program through the same engine,
// with the bridge's native.Session in-process instead of a WebSocket: a way
// to see what the browser would show, from a terminal.
//
//	go run ./wasm examples/echo/main.go
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/wasm/engine"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./wasm FILE.go\n(in the browser this program is engine.wasm; natively it runs FILE.go as the page would, socket calls traced on stderr)")
		os.Exit(2)
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s := native.NewSession(native.DefaultPolicy())
	defer s.Close()

	calls := map[uint64]string{}
	show := func(e engine.Event) {
		switch e := e.(type) {
		case engine.OutputEvent:
			if e.Stream == "stderr" {
				fmt.Fprint(os.Stderr, e.Text)
			} else {
				fmt.Print(e.Text)
			}
		case engine.CallEvent:
			calls[e.ID] = e.Text
		case engine.ResultEvent:
			fmt.Fprintf(os.Stderr, "  %s = %s\n", calls[e.ID], e.Text)
			delete(calls, e.ID)
		case engine.DiagnosticEvent:
			fmt.Fprintf(os.Stderr, "%s:%d:%d: %s: %s\n", os.Args[1], e.Line, e.Column, e.Kind, e.Message)
		}
	}
	if err := engine.New(s.Do, show).Run(ctx, string(src)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
