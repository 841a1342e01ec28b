package engine

import (
	"context"
	"errors"
	"fmt"
	"go/format"
	"go/scanner"

	"github.com/sockstep/sockstep/native/wire"
)

// The editor's tools: Check and Format, asked by the page while the learner
// types, long before (and whether or not) the program runs.

// errCheckRunsNothing answers a socket call made during a check, which
// compiles only and so should never make one.
var errCheckRunsNothing = errors.New("a check compiles the program and runs nothing")

// Check compiles source as Run does — the same interpreter, the same
// exports — without running any of it (no init, no main, no package
// variable's initializer), and returns its diagnostics: none when it
// compiles. Run reports the errors of the learner's own source, so does
// Check, and the editor shows the messages Run would.
func Check(source string) ([]DiagnosticEvent, error) {
	refuse := func(context.Context, *wire.Call) (*wire.Result, error) { return nil, errCheckRunsNothing }
	return check(source, refuse, func(Event) {})
}

// check is Check with the program's host and events given, for a test to
// see that nothing reaches them.
func check(source string, call Host, emit func(Event)) ([]DiagnosticEvent, error) {
	e := New(call, emit)
	r := &run{e: e, ctx: context.Background(), open: map[int]bool{}, exited: make(chan string, 1)}
	r.out = &output{emit: e.emit}
	i, err := r.interpreter(nil)
	if err != nil {
		return nil, fmt.Errorf("set up the interpreter: %w", err)
	}
	if _, err := compile(i, source); err != nil {
		if ds := diagnose(err); len(ds) > 0 {
			return ds, nil
		}
		// Run reports such an error (a construct the interpreter does not
		// support) only as its exit; the editor needs a place for it.
		return []DiagnosticEvent{{Kind: KindCompile, Line: 1, Message: err.Error()}}, nil
	}
	return []DiagnosticEvent{}, nil
}

// Format returns source as gofmt formats it. Source that does not parse is
// refused with the first error's line and column.
func Format(source string) (string, error) {
	out, err := format.Source([]byte(source))
	if err != nil {
		var list scanner.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return "", fmt.Errorf("%d:%d: %s", list[0].Pos.Line, list[0].Pos.Column, list[0].Msg)
		}
		return "", err
	}
	return string(out), nil
}
