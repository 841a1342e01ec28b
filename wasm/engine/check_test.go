package engine

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// TestCheckSaysWhatRunSays: the editor's diagnostics while typing are the
// ones Run reports for the same source, at the same places.
func TestCheckSaysWhatRunSays(t *testing.T) {
	for _, src := range []string{
		header + "func main() {\n\tx := 1\n\tfmt.Println(y)\n}\n",
		header + "func main() {\n\tfor {\n}\n",
		header + "func main() {\n\tfmt.Println(\"a\"\n\tfmt.Println(\"b\"\n}\n",
		"package main\n\nimport \"os/exec\"\n\nfunc main() { exec.Command(\"sh\") }\n",
		"package main\n\nimport \"net\"\n\nfunc main() { net.Listen(\"tcp\", \":80\") }\n",
		"package main\n\nimport \"syscall\"\n\nfunc main() { syscall.Socket(\"x\") }\n",
	} {
		rec, _ := runProgram(t, fakeHost(nil), src)
		want := find[DiagnosticEvent](rec)
		if len(want) == 0 {
			t.Fatalf("Run reported no diagnostic for\n%s", src)
		}
		got, err := Check(src)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Check of\n%s\ngot  %+v\nwant %+v (Run's)", src, got, want)
		}
	}
}

func TestCheckOfAGoodProgramIsEmpty(t *testing.T) {
	src, err := Check(header + "func main() {\n\tfd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)\n\tfmt.Println(fd)\n}\n")
	if err != nil || src == nil || len(src) != 0 {
		t.Fatalf("got %#v, %v; want an empty, non-nil list (JSON [], not null)", src, err)
	}
}

// TestCheckRunsNothing: a check compiles; no init, no package variable's
// initializer, no main runs, so no call, no output and no endless loop.
func TestCheckRunsNothing(t *testing.T) {
	src := header + `var fd = open()

func open() int {
	fd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	return fd
}

func init() {
	fmt.Println("init ran")
	syscall.Listen(3, 5)
	for {
	}
}

func main() {
	fmt.Println("main ran")
	os.Exit(3)
}
`
	var calls, events atomic.Int32
	call := func(context.Context, *wire.Call) (*wire.Result, error) {
		calls.Add(1)
		return &wire.Result{}, nil
	}
	done := make(chan []DiagnosticEvent, 1)
	go func() {
		ds, err := check(src, call, func(Event) { events.Add(1) })
		if err != nil {
			t.Error(err)
		}
		done <- ds
	}()
	select {
	case ds := <-done:
		if len(ds) != 0 {
			t.Errorf("diagnostics %+v for a program that compiles", ds)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("check did not return: it ran the program's init")
	}
	time.Sleep(50 * time.Millisecond) // output is flushed on a timer: give it the chance to show
	if calls.Load() != 0 || events.Load() != 0 {
		t.Errorf("a check made %d calls and %d events; want none", calls.Load(), events.Load())
	}
}

func TestFormat(t *testing.T) {
	got, err := Format("package main\nimport \"fmt\"\nfunc main(){\nfmt.Println( 1 )\n}")
	if want := "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(1)\n}\n"; got != want || err != nil {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if got, err := Format("package main\n\nfunc main() {\n\tfor {\n}\n"); err == nil || !strings.HasPrefix(err.Error(), "5:3: expected '}'") {
		t.Errorf("unbalanced braces: got %q, %v; want an error at 5:3", got, err)
	}
	if got, err := Format("package main\n\nfunc main() {\n\tx := \n}\n"); err == nil || !strings.HasPrefix(err.Error(), "5:1: ") {
		t.Errorf("missing operand: got %q, %v; want an error at 5:1", got, err)
	}
}
