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
// natively and under js/wasm in node (where the engine really runs), and
// reports instrumentation on against off for each.
func stepping(ctx context.Context) []row {
	dir, ok := findBenchmark(instrumentedBenchmark)
	if !ok {
		return []row{{name: "stepping overhead (instrumented, no breakpoints)", value: "n/a (stepping not built)"}}
	}
	rows := []row{steppingOverhead(ctx, dir, "natively", nil)}
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return append(rows, row{name: "stepping overhead, js/wasm", value: "failed: go env GOROOT: " + err.Error()})
	}
	wasm := []string{"-exec", filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "go_js_wasm_exec")}
	return append(rows, steppingOverhead(ctx, dir, "js/wasm", wasm, "GOOS=js", "GOARCH=wasm"))
}

// steppingOverhead runs the benchmarks in dir with go test's extra args and
// env (3 rounds of 2 s each; each benchmark's fastest round, as other work
// on the machine only ever slows a round down).
func steppingOverhead(ctx context.Context, dir, where string, args []string, env ...string) row {
	r := row{name: "stepping overhead, " + where}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"test"}, args...), "-run", "^$", "-bench", "^("+plainBenchmark+"|"+instrumentedBenchmark+")$", "-benchtime", "2s", "-count", "3", "./"+dir)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		r.value = "failed: " + firstLine(out.String(), err)
		return r
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
		r.value = "unreadable: want " + plainBenchmark + " and " + instrumentedBenchmark
		return r
	}
	r.value = fmt.Sprintf("%.1f ms/run", on/1e6)
	r.native = fmt.Sprintf("%.1f ms/run plain", off/1e6)
	r.ratio = fmt.Sprintf("%.2f×", on/off)
	r.note = "go test -bench in ./" + dir + ", " + where + ": a CPU-bound program (fib(18)) per run, no breakpoints, interpreter setup included; fastest of 3"
	return r
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
