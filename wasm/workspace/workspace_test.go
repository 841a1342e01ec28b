package workspace

import (
	"testing"

	"github.com/hack-pad/hackpadfs/mem"
)

func newMem(t *testing.T) *Workspace {
	t.Helper()
	fsys, err := mem.NewFS()
	if err != nil {
		t.Fatal(err)
	}
	return New(fsys)
}

func TestSaveThenLoad(t *testing.T) {
	w := newMem(t)
	if _, ok, err := w.Load("main.go"); ok || err != nil {
		t.Fatalf("empty workspace: got %v, %v; want false, nil", ok, err)
	}
	for _, src := range []string{"package main\n", "package main\n\nfunc main() {}\n", ""} {
		if err := w.Save("main.go", src); err != nil {
			t.Fatal(err)
		}
		got, ok, err := w.Load("main.go")
		if got != src || !ok || err != nil {
			t.Errorf("load after saving %q: got %q, %v, %v", src, got, ok, err)
		}
	}
	if err := w.Save("lessons/1/main.go", "x"); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := w.Load("lessons/1/main.go"); got != "x" || !ok {
		t.Errorf("nested: got %q, %v", got, ok)
	}
}

func TestBadNames(t *testing.T) {
	w := newMem(t)
	for _, name := range []string{"", ".", "/etc/passwd", "../x", "a//b"} {
		if err := w.Save(name, "x"); err == nil {
			t.Errorf("save %q: no error", name)
		}
		if _, _, err := w.Load(name); err == nil {
			t.Errorf("load %q: no error", name)
		}
	}
}
