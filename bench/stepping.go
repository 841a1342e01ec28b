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

// steppingBenchmark is the Go benchmark the stepper provides: sub-benchmarks
// "off" (the interpreter as it is) and "on" (line instrumentation, no
// breakpoints) of the same program.
const steppingBenchmark = "BenchmarkStepping"

// stepping runs the stepper's benchmark, if the source tree has one, and
// reports instrumentation on against off.
func stepping(ctx context.Context) row {
	r := row{name: "stepping overhead (instrumented, no breakpoints)"}
	dir, ok := findBenchmark(steppingBenchmark)
	if !ok {
		r.value = "n/a (stepping not built)"
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^"+steppingBenchmark+"$", "-benchtime", "2s", "-count", "1", "./"+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		r.value = "failed: " + firstLine(out.String(), err)
		return r
	}
	perOp := map[string]float64{}
	line := regexp.MustCompile(`(?m)^` + steppingBenchmark + `/(\w+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)
	for _, m := range line.FindAllStringSubmatch(out.String(), -1) {
		perOp[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	off, on := perOp["off"], perOp["on"]
	if off == 0 || on == 0 {
		r.value = "unreadable: want " + steppingBenchmark + "/off and /on"
		return r
	}
	r.value = fmt.Sprintf("%.0f µs/op", on/1e3)
	r.native = fmt.Sprintf("%.0f µs/op off", off/1e3)
	r.ratio = fmt.Sprintf("%.2f×", on/off)
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
