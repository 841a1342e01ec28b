// Package lessons is the guided course: seventeen lessons from a first
// socket to a small HTTP server, then what real servers need (an event
// loop, framing, a graceful end, addresses, UDP). Each lesson is one
// folder, lessons/NN-slug/:
//
//	lesson.md         the text (its first "# " heading is the title)
//	starter/main.go   where the learner starts; it builds and runs, and fails the check
//	solution/main.go  a reference solution; it passes the check
//	check.go          the checker: real clients against the running server,
//	                  and questions about the session's call trace
//	testdata/*.go     wrong programs a hurried learner writes, each of which
//	                  the check must fail with a message that teaches (its
//	                  "// want:" line); see flow_test.go
//
// The programs are ordinary Go that builds natively (`go build ./...` builds
// them all) and runs in the playground's interpreter. Lesson NN's server
// listens on 127.0.0.1:90NN.
package lessons

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	socket "github.com/sockstep/sockstep/lessons/01-socket"
	binding "github.com/sockstep/sockstep/lessons/02-binding"
	listening "github.com/sockstep/sockstep/lessons/03-listening"
	accepting "github.com/sockstep/sockstep/lessons/04-accepting"
	talking "github.com/sockstep/sockstep/lessons/05-talking"
	iterative "github.com/sockstep/sockstep/lessons/06-iterative"
	telnet "github.com/sockstep/sockstep/lessons/07-telnet"
	ending "github.com/sockstep/sockstep/lessons/08-ending"
	reuseaddr "github.com/sockstep/sockstep/lessons/09-reuseaddr"
	service "github.com/sockstep/sockstep/lessons/10-service"
	concurrent "github.com/sockstep/sockstep/lessons/11-concurrent"
	http "github.com/sockstep/sockstep/lessons/12-http"
	eventloop "github.com/sockstep/sockstep/lessons/13-eventloop"
	framing "github.com/sockstep/sockstep/lessons/14-framing"
	shutdown "github.com/sockstep/sockstep/lessons/15-shutdown"
	address "github.com/sockstep/sockstep/lessons/16-address"
	datagrams "github.com/sockstep/sockstep/lessons/17-datagrams"
	"github.com/sockstep/sockstep/lessons/kit"
)

//go:embed */lesson.md */starter/main.go */solution/main.go
var content embed.FS

// checker is the checker of the lesson in folder id, or nil.
func checker(id string) func(*kit.C) {
	switch id {
	case "01-socket":
		return socket.Check
	case "02-binding":
		return binding.Check
	case "03-listening":
		return listening.Check
	case "04-accepting":
		return accepting.Check
	case "05-talking":
		return talking.Check
	case "06-iterative":
		return iterative.Check
	case "07-telnet":
		return telnet.Check
	case "08-ending":
		return ending.Check
	case "09-reuseaddr":
		return reuseaddr.Check
	case "10-service":
		return service.Check
	case "11-concurrent":
		return concurrent.Check
	case "12-http":
		return http.Check
	case "13-eventloop":
		return eventloop.Check
	case "14-framing":
		return framing.Check
	case "15-shutdown":
		return shutdown.Check
	case "16-address":
		return address.Check
	case "17-datagrams":
		return datagrams.Check
	}
	return nil
}

// BasePort plus a lesson's number is the port its server listens on.
const BasePort = 9000

// Lesson is one lesson's content.
type Lesson struct {
	ID       string // the folder: "02-binding"
	Number   int    // 2
	Title    string // the first "# " heading of lesson.md
	Text     string // lesson.md, markdown
	Starter  string // starter/main.go
	Solution string // solution/main.go
	Port     int    // where the lesson's server listens: BasePort + Number
	check    func(*kit.C)
}

// Step is one finished step of a check.
type Step = kit.Step

// Target is what a check tests: an address, and the session's trace when
// the program runs in the playground.
type Target = kit.Target

// Process is the program's process, which a check may signal: its runner
// in the playground.
type Process = kit.Process

// All returns the lessons in order. It fails only if the embedded content
// is malformed, which the package's tests rule out.
func All() ([]Lesson, error) {
	dirs, err := fs.ReadDir(content, ".")
	if err != nil {
		return nil, err
	}
	var out []Lesson
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		l, err := load(d.Name())
		if err != nil {
			return nil, fmt.Errorf("lesson %s: %w", d.Name(), err)
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// ByID returns the lesson in folder id.
func ByID(id string) (Lesson, bool) {
	all, err := All()
	if err != nil {
		return Lesson{}, false
	}
	for _, l := range all {
		if l.ID == id {
			return l, true
		}
	}
	return Lesson{}, false
}

func load(id string) (Lesson, error) {
	num, _, ok := strings.Cut(id, "-")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 {
		return Lesson{}, fmt.Errorf("folder name should be NN-slug")
	}
	l := Lesson{ID: id, Number: n, Port: BasePort + n, check: checker(id)}
	if l.check == nil {
		return Lesson{}, fmt.Errorf("no checker registered")
	}
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(content, id+"/"+name)
		return string(b), err
	}
	if l.Text, err = read("lesson.md"); err != nil {
		return Lesson{}, err
	}
	if l.Starter, err = read("starter/main.go"); err != nil {
		return Lesson{}, err
	}
	if l.Solution, err = read("solution/main.go"); err != nil {
		return Lesson{}, err
	}
	first, _, _ := strings.Cut(l.Text, "\n")
	title, ok := strings.CutPrefix(first, "# ")
	if !ok || strings.TrimSpace(title) == "" {
		return Lesson{}, fmt.Errorf("lesson.md should start with a \"# Title\" line")
	}
	l.Title = strings.TrimSpace(title)
	return l, nil
}

// Addr is where the lesson's server listens on this machine.
func (l Lesson) Addr() string { return "127.0.0.1:" + strconv.Itoa(l.Port) }

// Check runs the lesson's checker against target and streams its steps;
// the channel closes when the check ends, and passed then says whether
// every step passed. Cancel ctx to end a check early.
func (l Lesson) Check(ctx context.Context, target Target) (steps <-chan Step, passed func() bool) {
	out := make(chan Step)
	var ok bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		ok = kit.Run(ctx, target, l.check, out)
	}()
	return out, func() bool { <-done; return ok }
}
