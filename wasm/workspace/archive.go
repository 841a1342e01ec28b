package workspace

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hack-pad/hackpadfs"
)

// Limits on what Import accepts. A workspace is a few small Go files and a
// progress record; anything far larger is not one of ours.
const (
	MaxArchiveBytes = 8 << 20   // the archive as uploaded
	MaxFileBytes    = 256 << 10 // one file, uncompressed
	MaxFiles        = 256
)

// List returns the names of the files under dir ("" or "." for all), sorted.
func (w *Workspace) List(dir string) ([]string, error) {
	if dir == "" {
		dir = "."
	}
	if dir != "." {
		if err := check(dir); err != nil {
			return nil, err
		}
	}
	var names []string
	err := hackpadfs.WalkDir(w.fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			names = append(names, name)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(names)
	return names, nil
}

// Export returns every file of the workspace as a zip archive, which Import
// takes back.
func (w *Workspace) Export() ([]byte, error) {
	names, err := w.List(".")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		b, err := hackpadfs.ReadFile(w.fsys, name)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", name, err)
		}
		modified := time.Now()
		if info, err := hackpadfs.Stat(w.fsys, name); err == nil {
			modified = info.ModTime()
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", name, err)
		}
		if _, err := f.Write(b); err != nil {
			return nil, fmt.Errorf("export %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return buf.Bytes(), nil
}

// Import writes the files of a zip archive made by Export into the
// workspace, replacing files of the same name and keeping the others. The
// whole archive is read and checked before anything is written, so a bad
// archive changes nothing. It returns the names written.
func (w *Workspace) Import(archive []byte) ([]string, error) {
	files, err := readArchive(archive)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if err := w.checkFits(names); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	// Keep what is overwritten, to put it back should a write fail half way.
	previous := map[string]*string{}
	for _, name := range names {
		text, ok, err := w.Load(name)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		if ok {
			previous[name] = &text
		} else {
			previous[name] = nil
		}
	}
	for i, name := range names {
		if err := w.Save(name, files[name]); err != nil {
			for _, done := range names[:i] {
				if old := previous[done]; old != nil {
					w.Save(done, *old)
				} else {
					hackpadfs.Remove(w.fsys, done)
				}
			}
			return nil, fmt.Errorf("import: %w (nothing was changed)", err)
		}
	}
	return names, nil
}

// checkFits refuses names that clash with the workspace or with each other:
// a file where a directory is ("lessons") or under a file ("main.go/x").
func (w *Workspace) checkFits(names []string) error {
	isFile := map[string]bool{}
	for _, name := range names {
		isFile[name] = true
	}
	for _, name := range names {
		if info, err := hackpadfs.Stat(w.fsys, name); err == nil && info.IsDir() {
			return fmt.Errorf("%s is a directory in the workspace, a file in the archive", name)
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if isFile[dir] {
				return fmt.Errorf("%s is both a file and a directory in the archive", dir)
			}
			if info, err := hackpadfs.Stat(w.fsys, dir); err == nil && !info.IsDir() {
				return fmt.Errorf("%s is a file in the workspace, a directory in the archive", dir)
			}
		}
	}
	return nil
}

// readArchive reads and checks every file of a zip archive: plain relative
// names (no "..", no absolute paths, no links), text, within the limits.
func readArchive(archive []byte) (map[string]string, error) {
	if len(archive) > MaxArchiveBytes {
		return nil, fmt.Errorf("the archive is %d bytes; the most a workspace may be is %d", len(archive), MaxArchiveBytes)
	}
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return nil, fmt.Errorf("not a zip archive of a workspace: %w", err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue // zip tools add entries for directories; Save makes them
		}
		name := f.Name
		if err := checkArchiveName(name); err != nil {
			return nil, err
		}
		if !f.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file (a link or a device?)", name)
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("%s is in the archive twice", name)
		}
		if len(files) == MaxFiles {
			return nil, fmt.Errorf("the archive holds more than %d files", MaxFiles)
		}
		text, err := readFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		files[name] = text
	}
	if len(files) == 0 {
		return nil, errors.New("the archive holds no files")
	}
	return files, nil
}

// checkArchiveName refuses names that could land outside the workspace or
// that no workspace holds: absolute paths, "..", backslashes, hidden files.
func checkArchiveName(name string) error {
	switch {
	case strings.Contains(name, `\`):
		return fmt.Errorf("%q: names use forward slashes", name)
	case path.IsAbs(name) || strings.Contains(name, ":"):
		return fmt.Errorf("%q: an absolute path; the archive's names must be relative", name)
	case name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") || strings.HasSuffix(name, "/.."):
		return fmt.Errorf("%q: a path that leaves the workspace", name)
	}
	if err := check(name); err != nil {
		return err
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Errorf("%q: hidden files and directories are not part of a workspace", name)
		}
	}
	return nil
}

// readFile reads one entry, at most MaxFileBytes, and checks it is text.
func readFile(f *zip.File) (string, error) {
	if f.UncompressedSize64 > MaxFileBytes {
		return "", fmt.Errorf("%d bytes; a file may be at most %d", f.UncompressedSize64, MaxFileBytes)
	}
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	// The header's size may lie: read one byte more than allowed to know.
	b, err := io.ReadAll(io.LimitReader(rc, MaxFileBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxFileBytes {
		return "", fmt.Errorf("more than %d bytes; a file may be at most %d", MaxFileBytes, MaxFileBytes)
	}
	if !utf8.Valid(b) {
		return "", errors.New("not text (invalid UTF-8)")
	}
	return string(b), nil
}
