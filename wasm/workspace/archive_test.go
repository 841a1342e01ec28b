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

func TestZipUnzipRoundTrip(t *testing.T) {
	files := map[string]string{
		"main.go":                    "package main\n\nfunc main() {}\n",
		"lessons/02-binding/main.go": "package main // ünïcode\n",
		"progress.json":              `{"passed":{"02-binding":true}}`,
		"empty.go":                   "",
	}
	archive, err := Zip(files)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unzip(archive, []string{"main.go", "lessons/03-listening/main.go"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, files) {
		t.Errorf("got %v; want %v", got, files)
	}
}

// TestZipRefusesWhatUnzipWould: an export is always importable.
func TestZipRefusesWhatUnzipWould(t *testing.T) {
	for _, name := range []string{"../x.go", "/etc/passwd", ".hidden", `a\b.go`, ""} {
		if _, err := Zip(map[string]string{"main.go": "x", name: "y"}); err == nil {
			t.Errorf("Zip with %q: no error", name)
		}
	}
}

func TestUnzipRefusesBadArchives(t *testing.T) {
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
			files, err := Unzip(tc.archive(t), []string{"main.go", "lessons/02-binding/main.go"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error containing %q", files, err, tc.want)
			}
		})
	}
}

type fileMode = fs.FileMode

const modeSymlink = fs.ModeSymlink | 0o777
