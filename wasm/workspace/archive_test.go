package workspace

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

// zipOf builds an archive by hand, as a learner's tool or an attacker might.
func zipOf(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		f, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(e.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zipEntry struct {
	name, body string
	mode       fileMode
}

func fill(t *testing.T, w *Workspace, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := w.Save(name, text); err != nil {
			t.Fatal(err)
		}
	}
}

// contents is every file of w.
func contents(t *testing.T, w *Workspace) map[string]string {
	t.Helper()
	names, err := w.List("")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, name := range names {
		text, _, err := w.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		got[name] = text
	}
	return got
}

func TestList(t *testing.T) {
	w := newMem(t)
	if names, err := w.List(""); len(names) != 0 || err != nil {
		t.Fatalf("empty workspace: got %v, %v", names, err)
	}
	fill(t, w, map[string]string{"main.go": "a", "lessons/02-binding/main.go": "b", "lessons/01-socket/main.go": "c", "progress.json": "{}"})
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"", []string{"lessons/01-socket/main.go", "lessons/02-binding/main.go", "main.go", "progress.json"}},
		{"lessons", []string{"lessons/01-socket/main.go", "lessons/02-binding/main.go"}},
		{"lessons/02-binding", []string{"lessons/02-binding/main.go"}},
		{"nothing-here", nil},
	} {
		got, err := w.List(tc.dir)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%q): got %v, %v; want %v", tc.dir, got, err, tc.want)
		}
	}
	if _, err := w.List("../x"); err == nil {
		t.Error(`List("../x"): no error`)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	files := map[string]string{
		"main.go":                    "package main\n\nfunc main() {}\n",
		"lessons/02-binding/main.go": "package main // ünïcode\n",
		"progress.json":              `{"passed":{"02-binding":true}}`,
		"empty.go":                   "",
	}
	from := newMem(t)
	fill(t, from, files)
	archive, err := from.Export()
	if err != nil {
		t.Fatal(err)
	}

	to := newMem(t)
	fill(t, to, map[string]string{"main.go": "overwritten", "lessons/03-listening/main.go": "kept"})
	names, err := to.Import(archive)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"empty.go", "lessons/02-binding/main.go", "main.go", "progress.json"}; !reflect.DeepEqual(names, want) {
		t.Errorf("imported %v; want %v", names, want)
	}
	want := map[string]string{"lessons/03-listening/main.go": "kept"}
	for name, text := range files {
		want[name] = text
	}
	if got := contents(t, to); !reflect.DeepEqual(got, want) {
		t.Errorf("after import: got %v; want %v", got, want)
	}
}

func TestImportRefusesBadArchives(t *testing.T) {
	ok := zipEntry{name: "main.go", body: "package main\n"}
	for _, tc := range []struct {
		name    string
		archive func(t *testing.T) []byte
		want    string // in the error
	}{
		{"not a zip", func(*testing.T) []byte { return []byte("hello, not a zip") }, "not a zip archive"},
		{"archive too big", func(*testing.T) []byte { return make([]byte, MaxArchiveBytes+1) }, "the most a workspace may be"},
		{"empty", func(t *testing.T) []byte { return zipOf(t) }, "no files"},
		{"parent", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: "../evil.go", body: "x"}) }, "leaves the workspace"},
		{"inner parent", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: "lessons/../../evil.go", body: "x"}) }, "leaves the workspace"},
		{"absolute", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: "/etc/passwd", body: "x"}) }, "absolute"},
		{"drive", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: "C:/x.go", body: "x"}) }, "absolute"},
		{"backslash", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: `..\evil.go`, body: "x"}) }, "forward slashes"},
		{"hidden", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: ".git/config", body: "x"}) }, "hidden"},
		{"link", func(t *testing.T) []byte {
			return zipOf(t, ok, zipEntry{name: "link.go", body: "/etc/passwd", mode: modeSymlink})
		}, "not a regular file"},
		{"twice", func(t *testing.T) []byte { return zipOf(t, ok, ok) }, "twice"},
		{"binary", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: "x.go", body: "\xff\xfe\x00"}) }, "not text"},
		{"too big", func(t *testing.T) []byte {
			return zipOf(t, ok, zipEntry{name: "big.go", body: strings.Repeat("a", MaxFileBytes+1)})
		}, "at most"},
		{"too many", func(t *testing.T) []byte {
			var es []zipEntry
			for i := 0; i <= MaxFiles; i++ {
				es = append(es, zipEntry{name: "f/" + strings.Repeat("x", i+1) + ".go"})
			}
			return zipOf(t, es...)
		}, "more than"},
		{"file over directory", func(t *testing.T) []byte { return zipOf(t, ok, zipEntry{name: "lessons", body: "x"}) }, "is a directory in the workspace"},
		{"directory over file", func(t *testing.T) []byte { return zipOf(t, zipEntry{name: "main.go/x.go", body: "x"}) }, "is a file in the workspace"},
		{"file and directory", func(t *testing.T) []byte {
			return zipOf(t, zipEntry{name: "a.go", body: "x"}, zipEntry{name: "a.go/b.go", body: "y"})
		}, "both a file and a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMem(t)
			before := map[string]string{"main.go": "mine", "lessons/02-binding/main.go": "my bind"}
			fill(t, w, before)
			names, err := w.Import(tc.archive(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error containing %q", names, err, tc.want)
			}
			if got := contents(t, w); !reflect.DeepEqual(got, before) {
				t.Errorf("a refused archive changed the workspace: got %v; want %v", got, before)
			}
		})
	}
}

type fileMode = fs.FileMode

const modeSymlink = fs.ModeSymlink | 0o777
