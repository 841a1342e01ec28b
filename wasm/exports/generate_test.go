package exports

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedIsCurrent runs this package's go:generate lines in a temporary
// directory and fails if any generated file differs from the committed one.
func TestGeneratedIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs yaegi extract")
	}
	src, err := os.ReadFile("exports.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	yaegi := filepath.Join(dir, "yaegi")
	if out, err := exec.Command("go", "build", "-o", yaegi, "github.com/traefik/yaegi/cmd/yaegi").CombinedOutput(); err != nil {
		t.Fatalf("build yaegi: %v\n%s", err, out)
	}
	const prefix = "//go:generate go run github.com/traefik/yaegi/cmd/yaegi extract "
	for _, line := range strings.Split(string(src), "\n") {
		args, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		// yaegi names the Go package after the directory it writes in.
		cmd := exec.Command(yaegi, append([]string{"extract", "-name", "exports"}, strings.Fields(args)...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	made, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(made) == 0 {
		t.Fatalf("nothing generated (%v)", err)
	}
	for _, path := range made {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Base(path))
		if err != nil {
			t.Errorf("%s is generated but not committed: run go generate ./wasm/exports", filepath.Base(path))
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go generate ./wasm/exports", filepath.Base(path))
		}
	}
}
