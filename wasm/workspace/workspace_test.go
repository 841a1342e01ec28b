package workspace

import (
	"reflect"
	"testing"

	"github.com/hack-pad/hackpadfs"
	"github.com/hack-pad/hackpadfs/mem"
)

// TestReadAllMigratesEveryFile: the old workspace as the hackpadfs code of
// earlier versions left it, directories and all.
func TestReadAllMigratesEveryFile(t *testing.T) {
	fsys, err := mem.NewFS()
	if err != nil {
		t.Fatal(err)
	}
	if files, err := ReadAll(fsys); files != nil || err != nil {
		t.Fatalf("empty: got %v, %v; want nil, nil (nothing to migrate)", files, err)
	}
	want := map[string]string{
		"main.go":                    "package main\n",
		"lessons/02-binding/main.go": "package main // ünïcode\n",
		"progress.json":              `{"passed":{"02-binding":true}}`,
		"empty.go":                   "",
	}
	for _, dir := range []string{"lessons/02-binding", "lessons/03-listening"} { // 03: empty
		if err := hackpadfs.MkdirAll(fsys, dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range want {
		if err := hackpadfs.WriteFullFile(fsys, name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadAll(fsys)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
}
