package lessons_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sockstep/internal/testnet"
	"sockstep/lessons"
	"sockstep/lessons/kit"
	"sockstep/native"
	"sockstep/wasm/engine"
)

func all(t *testing.T) []lessons.Lesson {
	t.Helper()
	ls, err := lessons.All()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// TestEveryFolderIsComplete: text with a title, starter, solution and a
// registered checker (All fails without one), twelve lessons numbered in
// order, and markdown whose structure renders: fences closed, headings in
// order, a section saying what the check checks.
func TestEveryFolderIsComplete(t *testing.T) {
	ls := all(t)
	if len(ls) != 12 {
		t.Fatalf("got %d lessons; want 12", len(ls))
	}
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	folders := 0
	for _, d := range dirs {
		if d.IsDir() && regexp.MustCompile(`^\d\d-`).MatchString(d.Name()) {
			folders++
			if _, err := os.Stat(filepath.Join(d.Name(), "check.go")); err != nil {
				t.Errorf("%s: no check.go: %v", d.Name(), err)
			}
		}
	}
	if folders != len(ls) {
		t.Errorf("%d lesson folders, %d lessons loaded", folders, len(ls))
	}
	for i, l := range ls {
		if l.Number != i+1 || l.Port != lessons.BasePort+l.Number {
			t.Errorf("%s: number %d, port %d; want %d, %d", l.ID, l.Number, l.Port, i+1, lessons.BasePort+i+1)
		}
		if l.Starter == l.Solution {
			t.Errorf("%s: the starter is the solution", l.ID)
		}
		for name, src := range map[string]string{"starter": l.Starter, "solution": l.Solution} {
			if !strings.HasPrefix(src, "// Lesson "+strconv.Itoa(l.Number)+":") || !strings.Contains(src, "package main") {
				t.Errorf("%s/%s: should start with \"// Lesson %d:\" and be package main", l.ID, name, l.Number)
			}
			if l.Number > 1 && !strings.Contains(src, strconv.Itoa(l.Port)) {
				t.Errorf("%s/%s: does not use the lesson's port %d", l.ID, name, l.Port)
			}
		}
		checkMarkdown(t, l)
	}
}

func checkMarkdown(t *testing.T, l lessons.Lesson) {
	t.Helper()
	if l.Title == "" || strings.Contains(l.Title, "#") {
		t.Errorf("%s: bad title %q", l.ID, l.Title)
	}
	fence := false
	var headings []string
	for n, line := range strings.Split(l.Text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if fence {
			continue
		}
		if strings.HasPrefix(line, "#") {
			level := len(line) - len(strings.TrimLeft(line, "#"))
			if level > 2 || !strings.HasPrefix(line[level:], " ") {
				t.Errorf("%s/lesson.md:%d: heading %q: use \"# \" once, then \"## \"", l.ID, n+1, line)
			}
			if level == 1 && n > 0 {
				t.Errorf("%s/lesson.md:%d: a second title", l.ID, n+1)
			}
			headings = append(headings, line)
		}
		if strings.Count(line, "`")%2 != 0 {
			t.Errorf("%s/lesson.md:%d: unbalanced inline code: %q", l.ID, n+1, line)
		}
	}
	if fence {
		t.Errorf("%s/lesson.md: a code fence is not closed", l.ID)
	}
	if len(headings) == 0 || headings[len(headings)-1] != "## The check" {
		t.Errorf("%s/lesson.md: should end with a \"## The check\" section; headings: %q", l.ID, headings)
	}
	if strings.Contains(l.Text, "\t") && !strings.Contains(l.Text, "```") {
		t.Errorf("%s/lesson.md: tabs outside code", l.ID)
	}
}

// onPort rewrites the lesson's port in src, so tests can run side by side.
func onPort(l lessons.Lesson, src string, port int) string {
	return strings.ReplaceAll(src, strconv.Itoa(l.Port), strconv.Itoa(port))
}

// interpreted runs src as the page does — in the engine, its calls on a
// real native.Session — and returns a target with that session's trace.
// Programs that end by themselves (lessons 1 and 2) have ended when it
// returns.
func interpreted(t *testing.T, l lessons.Lesson, src string) lessons.Target {
	t.Helper()
	port := testnet.FreePort(t)
	s := native.NewSession(native.DefaultPolicy())
	var mu sync.Mutex
	var out bytes.Buffer
	e := engine.New(s.Do, func(ev engine.Event) {
		if ev.Type == engine.TypeOutput || ev.Type == engine.TypeExit || ev.Type == engine.TypeDiagnostic {
			mu.Lock()
			out.WriteString(ev.Text + ev.Error + ev.Message)
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, onPort(l, src, port)) }()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Close()
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Logf("the program's output:\n%s", out.String())
		}
	})
	if l.Number <= 2 {
		select {
		case err := <-done:
			done <- err
			if err != nil {
				t.Fatalf("the program failed: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("the program did not end")
		}
	}
	return lessons.Target{Addr: "127.0.0.1:" + strconv.Itoa(port), Trace: s.Trace}
}

// check runs l's checker and returns whether it passed and its steps.
func check(t *testing.T, l lessons.Lesson, target lessons.Target) (bool, []lessons.Step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	steps, passed := l.Check(ctx, target)
	var got []lessons.Step
	for s := range steps {
		got = append(got, s)
	}
	return passed(), got
}

func show(steps []lessons.Step) string {
	var b strings.Builder
	for _, s := range steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		b.WriteString("\n  " + mark + " " + s.Name + ": " + s.Message)
	}
	return b.String()
}

func TestSolutionsPassInTheInterpreter(t *testing.T) {
	for _, l := range all(t) {
		t.Run(l.ID, func(t *testing.T) {
			t.Parallel()
			target := interpreted(t, l, l.Solution)
			passed, steps := check(t, l, target)
			if !passed {
				t.Fatalf("the solution failed its check:%s", show(steps))
			}
			t.Log(show(steps))
			for _, s := range steps {
				if s.Skipped {
					t.Errorf("step %q skipped with a trace at hand", s.Name)
				}
			}
		})
	}
}

// starterMisses is what each starter's failure must name.
var starterMisses = map[string]string{
	"01-socket":     "expected a call socket(AF_INET, SOCK_STREAM, 0)",
	"02-binding":    "EADDRINUSE",
	"03-listening":  "does it call listen",
	"04-accepting":  `waited 3s for the line "you are …" and nothing came`,
	"05-talking":    `(expected "Hello, `,
	"06-iterative":  "the first client has left",
	"07-telnet":     "sent in 3 pieces",
	"08-ending":     `expected "bye"`,
	"09-reuseaddr":  "set SO_REUSEADDR before bind",
	"10-service":    "(the services database says",
	"11-concurrent": "goroutine of its own",
	"12-http":       "expected status 404 Not Found, got \"200 OK\"",
}

func TestStartersFailSayingWhatIsMissing(t *testing.T) {
	for _, l := range all(t) {
		t.Run(l.ID, func(t *testing.T) {
			t.Parallel()
			target := interpreted(t, l, l.Starter)
			passed, steps := check(t, l, target)
			if passed {
				t.Fatalf("the starter passed its check:%s", show(steps))
			}
			t.Log(show(steps))
			last := steps[len(steps)-1]
			want := starterMisses[l.ID]
			if last.OK || want == "" || !strings.Contains(last.Message, want) {
				t.Errorf("the last step should fail with a message containing %q:%s", want, show(steps))
			}
		})
	}
}

// TestSolutionsPassNatively builds each solution with go build and checks
// the process by address, without a trace: trace steps say they are
// skipped. Lessons 1 and 2 have no server: their programs must run to a
// clean end, lesson 2's must show the EADDRINUSE, and their checks must say
// that nothing could be checked rather than pass.
func TestSolutionsPassNatively(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool:", err)
	}
	dir := t.TempDir()
	for _, l := range all(t) {
		t.Run(l.ID, func(t *testing.T) {
			t.Parallel()
			port := testnet.FreePort(t)
			src := filepath.Join(dir, l.ID+".go")
			if err := os.WriteFile(src, []byte(onPort(l, l.Solution, port)), 0o644); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(dir, l.ID)
			build := exec.Command(goTool, "build", "-o", bin, src)
			build.Dir = dir
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				cmd.Process.Kill()
				<-exited
			}()
			if l.Number <= 2 {
				if err := <-exited; err != nil {
					t.Fatalf("the program failed: %v\n%s", err, out.String())
				}
				exited <- nil
				if l.Number == 2 && !strings.Contains(out.String(), "the second bind failed, as it should: address already in use") {
					t.Errorf("lesson 2's program should show EADDRINUSE; it printed:\n%s", out.String())
				}
			}
			passed, steps := check(t, l, lessons.Target{Addr: "127.0.0.1:" + strconv.Itoa(port)})
			if l.Number <= 2 {
				// Only a trace can show these programs' calls: say so, don't pass.
				if last := steps[len(steps)-1]; passed || last.Message != kit.NothingChecked {
					t.Errorf("without a trace, lesson %d's check should say it checked nothing:%s", l.Number, show(steps))
				}
				return
			}
			if !passed {
				t.Fatalf("the solution failed its check:%s\nits output:\n%s", show(steps), out.String())
			}
			for _, s := range steps {
				if strings.Contains(s.Name, "trace") && !s.Skipped {
					t.Errorf("step %q ran without a trace", s.Name)
				}
			}
			if l.ID == "08-ending" {
				select {
				case err := <-exited:
					exited <- err
					var exit *exec.ExitError
					if errors.As(err, &exit) || err != nil {
						t.Errorf("after shutdown the program should end cleanly: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("after shutdown the program did not end within 10s")
				}
			}
		})
	}
}
