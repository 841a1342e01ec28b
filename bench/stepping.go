package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The stepper's benchmarks (wasm/engine/bench_test.go): the same
// CPU-bound program run plain and with line instrumentation, no breakpoints.
const (
	plainBenchmark        = "BenchmarkPlain"
	instrumentedBenchmark = "BenchmarkInstrumented"
)

// stepping runs the stepper's benchmarks, if the source tree has them,
// natively (as the host runner runs the engine) and under js/wasm in node
// (as the in-page runner does), and reports instrumentation on against off
// for each.
func stepping(ctx context.Context) row {
	r := row{name: "stepping overhead (instrumented / plain)"}
	dir, ok := findBenchmark(instrumentedBenchmark)
	if !ok {
		r.host = "n/a (stepping not built)"
		return r
	}
	r.note = "go test -bench in ./" + dir + ": a CPU-bound program (fib(18)) per run, no breakpoints, interpreter setup included; fastest of 3; host runner natively, in-page under js/wasm in node"
	r.host = steppingOverhead(ctx, dir, nil)
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		r.page = "failed: go env GOROOT: " + err.Error()
		return r
	}
	wasm := []string{"-exec", filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "go_js_wasm_exec")}
	r.page = steppingOverhead(ctx, dir, wasm, "GOOS=js", "GOARCH=wasm")
	return r
}

// steppingOverhead runs the benchmarks in dir with go test's extra args and
// env (3 rounds of 2 s each; each benchmark's fastest round, as other work
// on the machine only ever slows a round down) and says how much slower
// instrumented runs are: "1.05× (7.0 / 6.7 ms)".
func steppingOverhead(ctx context.Context, dir string, args []string, env ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"test"}, args...), "-run", "^$", "-bench", "^("+plainBenchmark+"|"+instrumentedBenchmark+")$", "-benchtime", "2s", "-count", "3", "./"+dir)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "failed: " + firstLine(out.String(), err)
	}
	perOp := map[string]float64{}
	line := regexp.MustCompile(`(?m)^(Benchmark\w+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)
	for _, m := range line.FindAllStringSubmatch(out.String(), -1) {
		ns, _ := strconv.ParseFloat(m[2], 64)
		if best, seen := perOp[m[1]]; !seen || ns < best {
			perOp[m[1]] = ns
		}
	}
	off, on := perOp[plainBenchmark], perOp[instrumentedBenchmark]
	if off == 0 || on == 0 {
		return "unreadable: want " + plainBenchmark + " and " + instrumentedBenchmark
	}
	return fmt.Sprintf("%.2f× (%.1f / %.1f ms)", on/off, on/1e6, off/1e6)
}

// findBenchmark looks for func name( in the _test.go files of the module's
// packages and returns the package directory.
func findBenchmark(name string) (string, bool) {
	var found string
	needle := []byte("func " + name + "(")
	for _, root := range []string{"wasm", "native", "bridge"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || found != "" {
				return fs.SkipDir
			}
			if d.IsDir() && d.Name() == "node_modules" {
				return fs.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
				if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, needle) {
					found = filepath.Dir(path)
				}
			}
			return nil
		})
	}
	return found, found != ""
}

func firstLine(s string, err error) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "goos") && !strings.HasPrefix(l, "goarch") && !strings.HasPrefix(l, "pkg") {
			return l
		}
	}
	return err.Error()
}
