package lessons_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/lessons/kit"
)

// TestFlow is what a learner does in every lesson, on one port: run the
// starter and check it (it fails, saying what is missing), stop it, run the
// fixed program — the solution — and check it (it passes at once), then run
// it again and check again (a learner who reruns within a minute). The
// checks must leave nothing on the port that stops the next run from
// binding: a connection the server closed first lingers in TIME_WAIT for a
// minute, and a program without SO_REUSEADDR cannot bind past it.
//
// Once interpreted with a trace, each run a fresh session as a Run in the
// page is: every step runs, none is skipped. And once natively, built with
// go build and checked by address as `sockstep check` does: trace steps are
// skipped, and lessons 1 and 2, which have no server, must run to a clean
// end and be reported as not checkable rather than pass.
func TestFlow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, mode := range []string{"interpreted", "native"} {
		for _, l := range all(t) {
			t.Run(mode+"/"+l.ID, func(t *testing.T) {
				t.Parallel()
				needsIPv6(t, l)
				port := freePort(t)
				for i, run := range []struct {
					name, src string
					pass      bool
				}{
					{"starter", l.Starter, false},
					{"solution", l.Solution, true},
					{"solution", l.Solution, true}, // again, at once
				} {
					what := fmt.Sprintf("run %d, the %s", i+1, run.name)
					var p *program
					if mode == "native" {
						p = startNative(t, build(t, l, run.src, port, dir, l.ID+"-"+run.name), port)
					} else {
						p = startInterpreted(t, l, run.src, port)
					}
					if l.Number <= 2 {
						waitEnded(t, p) // the page checks a program that ended by itself by its trace
					}
					passed, steps := check(t, l, p.target)
					if (l.ID == "08-ending" || l.ID == "15-shutdown") && run.pass {
						select { // it was asked to shut down
						case <-p.ended:
						case <-time.After(10 * time.Second):
							t.Errorf("%s: after shutdown the program did not end within 10s", what)
						}
					}
					p.stop()
					if mode == "native" {
						nativeRun(t, l, what, run.pass, passed, steps, p)
						continue
					}
					if passed != run.pass {
						t.Fatalf("%s: passed %v, want %v:%s\nits output:\n%s", what, passed, run.pass, show(steps), p.output())
					}
					if want := starterMisses[l.ID]; !run.pass && (want == "" || !strings.Contains(steps[len(steps)-1].Message, want)) {
						t.Errorf("%s: the last step should fail with a message containing %q:%s", what, want, show(steps))
					}
					for _, s := range steps {
						if s.Skipped {
							t.Errorf("%s: step %q skipped with a trace at hand", what, s.Name)
						}
					}
				}
			})
		}
	}
}

// nativeRun judges one native run of TestFlow.
func nativeRun(t *testing.T, l lessons.Lesson, what string, wantPass, passed bool, steps []lessons.Step, p *program) {
	t.Helper()
	if l.Number <= 2 {
		if !strings.HasSuffix(p.output(), "[exit status 0]") {
			t.Errorf("%s: the program should end by itself, cleanly:\n%s", what, p.output())
		}
		if l.Number == 2 && wantPass && !strings.Contains(p.output(), "the second bind failed, as it should: address already in use") {
			t.Errorf("%s: lesson 2's program should show EADDRINUSE; it printed:\n%s", what, p.output())
		}
		// Only a trace can show these programs' calls: say so, don't pass.
		if last := steps[len(steps)-1]; passed || last.Message != kit.NothingChecked {
			t.Errorf("%s: without a trace, lesson %d's check should say it checked nothing:%s", what, l.Number, show(steps))
		}
		return
	}
	if passed != wantPass {
		t.Fatalf("%s: passed %v, want %v:%s\nits output:\n%s", what, passed, wantPass, show(steps), p.output())
	}
	for _, s := range steps {
		if s.Skipped != (s.Message == kit.NoTrace) {
			t.Errorf("%s: step %q: skipped %v with message %q", what, s.Name, s.Skipped, s.Message)
		}
	}
	if (l.ID == "08-ending" || l.ID == "15-shutdown") && wantPass && !strings.HasSuffix(p.output(), "[exit status 0]") {
		t.Errorf("%s: after shutdown the program should end cleanly:\n%s", what, p.output())
	}
}

// TestListenQueueCheckedAgainAndAgain: lesson 3's program never accepts, so
// every client a check connects stays in its listen queue (backlog 5: six
// places). Checking one running program again and again must give the same
// answer, without filling the queue it measures.
func TestListenQueueCheckedAgainAndAgain(t *testing.T) {
	t.Parallel()
	l, _ := lessons.ByID("03-listening")
	dir := t.TempDir()
	for _, mode := range []string{"native", "interpreted"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			port := freePort(t)
			var p *program
			if mode == "native" {
				p = startNative(t, build(t, l, l.Solution, port, dir, "listening"), port)
			} else {
				p = startInterpreted(t, l, l.Solution, port)
			}
			full := false
			for i := range 5 { // 2 to 4 clients each time: more than six in all
				passed, steps := check(t, l, p.target)
				if !passed {
					t.Fatalf("check %d against the same program failed:%s", i+1, show(steps))
				}
				for _, s := range steps {
					full = full || strings.Contains(s.Name, "the listen queue is full")
				}
			}
			if !full {
				t.Error("after five checks the queue (six places) should be full, and a check should say so")
			}
		})
	}
}

// TestWrongProgramsFail runs each wrong program of lessons/*/testdata — what
// a hurried learner writes, which an earlier check let pass — in the
// interpreter with a trace, as the playground does, and natively without
// one, as `sockstep check` does. Each check must fail with a message that
// teaches: the program's "// want:" line. Natively, "// native: fail" means
// the same failure; "// native: unverified: STEP" means that only the trace
// can tell, so the check passes and reports STEP skipped, which `sockstep
// check` then names as not verified rather than print a plain PASS.
func TestWrongProgramsFail(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*/testdata/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no wrong programs in */testdata: %v", err)
	}
	dir := t.TempDir()
	for _, file := range files {
		folder := strings.Split(file, string(filepath.Separator))[0]
		l, ok := lessons.ByID(folder)
		if !ok {
			t.Fatalf("%s: no lesson %s", file, folder)
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want, native := header(t, file, string(src))
		name := strings.TrimSuffix(filepath.Base(file), ".go")
		for _, mode := range []string{"interpreted", "native"} {
			t.Run(folder+"/"+name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				needsIPv6(t, l)
				if folder == "10-service" && name == "table" && len(dbServices(t)) < 100 {
					t.Skip("this host's services database is too small to tell a table from it")
				}
				port := freePort(t)
				var p *program
				if mode == "native" {
					p = startNative(t, build(t, l, string(src), port, dir, folder+"-"+name), port)
				} else {
					p = startInterpreted(t, l, string(src), port)
				}
				passed, steps := check(t, l, p.target)
				last := steps[len(steps)-1]
				if mode == "native" {
					if step, ok := strings.CutPrefix(native, "unverified: "); ok {
						skipped := false
						for _, s := range steps {
							skipped = skipped || (s.Skipped && strings.Contains(s.Name, step))
						}
						if !passed || !skipped {
							t.Fatalf("natively only the trace tells: the check should pass with %q skipped:%s", step, show(steps))
						}
						return
					}
				}
				if passed || last.OK || !strings.Contains(last.Message, want) {
					t.Fatalf("the check should fail saying %q:%s", want, show(steps))
				}
				t.Log(show(steps))
			})
		}
	}
}

// header reads a wrong program's "// want: …" and "// native: …" lines.
func header(t *testing.T, file, src string) (want, native string) {
	t.Helper()
	for _, line := range strings.Split(src, "\n") {
		if v, ok := strings.CutPrefix(line, "// want: "); ok {
			want = v
		}
		if v, ok := strings.CutPrefix(line, "// native: "); ok {
			native = v
		}
		if strings.HasPrefix(line, "package ") {
			break
		}
	}
	if want == "" || (native != "fail" && !strings.HasPrefix(native, "unverified: ")) {
		t.Fatalf("%s: its header should say \"// want: MESSAGE\" and \"// native: fail\" or \"// native: unverified: STEP\"", file)
	}
	return want, native
}

// dbServices are the TCP service lines of the host's services database.
func dbServices(t *testing.T) []string {
	f, err := os.Open("/etc/services")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "/tcp") && !strings.HasPrefix(sc.Text(), "#") {
			out = append(out, sc.Text())
		}
	}
	return out
}

// TestCheckSaysWhyNothingListens: when the program could not bind its port,
// the check says so — from the trace in the playground (the call, its
// errno, what it means, what to do), from the kernel's view of the port
// natively — rather than blame listen with a bare "connection refused".
// The port is held by a connection whose server closed first and whose
// client stays, as a restart within a minute of a run meets it.
func TestCheckSaysWhyNothingListens(t *testing.T) {
	t.Parallel()
	l, _ := lessons.ByID("04-accepting")
	dir := t.TempDir()
	for _, mode := range []string{"interpreted", "native"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			port := freePort(t)
			hold(t, port)
			var p *program
			if mode == "native" {
				p = startNative(t, build(t, l, l.Solution, port, dir, "held"), port)
			} else {
				p = startInterpreted(t, l, l.Solution, port)
			}
			passed, steps := check(t, l, p.target)
			want := []string{"= -1 EADDRINUSE: port " + strconv.Itoa(port) + " is still held", "SO_REUSEADDR"}
			if mode == "native" {
				want = []string{"port " + strconv.Itoa(port) + " still has connections", "in FIN_WAIT", "bind: address already in use"}
			}
			last := steps[len(steps)-1].Message
			for _, w := range want {
				if passed || !strings.Contains(last, w) {
					t.Errorf("the check should fail saying %q:%s\nthe program said:\n%s", w, show(steps), p.output())
				}
			}
		})
	}
}

// hold leaves a connection on 127.0.0.1:port that its server closed first,
// with its client still open: the server's end lingers in FIN_WAIT2, and a
// bind without SO_REUSEADDR fails until the test ends (then the client
// resets it, and nothing is left).
func hold(t *testing.T, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Abort(client) })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server.Close() // first
	ln.Close()
}
