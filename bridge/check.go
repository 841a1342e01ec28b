package bridge

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sockstep/sockstep/lessons"
)

// runCheck is `sockstep check LESSON [--addr host:port]`: the lesson's
// checker against a program the learner runs natively (go run), with the
// same steps and messages as the page. There is no trace outside the
// playground, so trace steps are reported skipped, and a check that passes
// with steps skipped says which ones it could not verify rather than print
// a plain PASS.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sockstep check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "`host:port` of the server to check (default: 127.0.0.1 and the lesson's port)")
	seed := fs.Uint64("seed", 0, "the check's random `seed` — words, sizes, where writes are cut —, to replay a failure (default: a new one each run)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sockstep check LESSON [--addr host:port] [--seed N]\n\nChecks a server you run yourself (go run main.go) with the lesson's checker.\nLESSON is a number (2) or a lesson's id (02-binding). Lessons:")
		if all, err := lessons.All(); err == nil {
			for _, l := range all {
				fmt.Fprintf(stderr, "  %-14s %s (port %d)\n", l.ID, l.Title, l.Port)
			}
		}
		fs.PrintDefaults()
	}
	// The lesson may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
	}
	if name == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	l, ok := findLesson(name)
	if !ok {
		fmt.Fprintf(stderr, "sockstep check: no lesson %q (sockstep check -h lists them)\n", name)
		return 2
	}
	target := *addr
	if target == "" {
		target = l.Addr()
	}
	fmt.Fprintf(stdout, "Checking lesson %d, %s, against %s\n\n", l.Number, l.Title, target)
	steps, passed := l.Check(ctx, lessons.Target{Addr: target, Seed: *seed})
	var all int
	var skipped []string
	for s := range steps {
		printStep(stdout, s)
		all++
		if s.Skipped {
			skipped = append(skipped, s.Name)
		}
	}
	if !passed() {
		fmt.Fprintf(stdout, "\nFAIL: lesson %s\n", l.ID)
		return 1
	}
	if len(skipped) == 0 {
		fmt.Fprintf(stdout, "\nPASS: lesson %s\n", l.ID)
		return 0
	}
	// Not a plain PASS: a program that skips what the lesson is about can
	// look right from outside, and only the playground's trace tells.
	need := "need"
	if len(skipped) == 1 {
		need = "needs"
	}
	fmt.Fprintf(stdout, "\nPASS — %d of %d steps %s the playground's trace: lesson %s passed every step a client can check from outside\n", len(skipped), all, need, l.ID)
	fmt.Fprintf(stdout, "      not verified here (check in the playground to verify them):\n")
	for _, name := range skipped {
		fmt.Fprintf(stdout, "        %s\n", name)
	}
	return 0
}

// findLesson accepts "2", "02", "02-binding" or "binding".
func findLesson(name string) (lessons.Lesson, bool) {
	all, err := lessons.All()
	if err != nil {
		return lessons.Lesson{}, false
	}
	n, numErr := strconv.Atoi(name)
	for _, l := range all {
		if l.ID == name || (numErr == nil && l.Number == n) || strings.TrimLeft(l.ID, "0123456789-") == name {
			return l, true
		}
	}
	return lessons.Lesson{}, false
}

func printStep(w io.Writer, s lessons.Step) {
	mark := "ok  "
	switch {
	case s.Skipped:
		mark = "skip"
	case !s.OK:
		mark = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s\n", mark, s.Name)
	if !s.OK || s.Skipped {
		for _, line := range strings.Split(s.Message, "\n") {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
	if !s.OK && s.Reproduce != "" {
		fmt.Fprintf(w, "      try: %s\n", s.Reproduce)
	}
}
