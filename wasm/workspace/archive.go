package workspace

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what Unzip accepts. A workspace is a few small Go files and a
// progress record; anything far larger is not one of ours.
const (
	MaxArchiveBytes = 8 << 20   // the archive as uploaded
	MaxFileBytes    = 256 << 10 // one file, uncompressed
	MaxFiles        = 256
)

// Zip returns files as the zip archive the page exports, which Unzip takes
// back. A name Unzip would refuse is refused here, so an export can always be
// imported.
func Zip(files map[string]string) ([]byte, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		if err := checkArchiveName(name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	now := time.Now()
	for _, name := range names {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", name, err)
		}
		if _, err := f.Write([]byte(files[name])); err != nil {
			return nil, fmt.Errorf("zip %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return buf.Bytes(), nil
}

// Unzip reads and checks every file of an archive made by Zip, for a
// workspace that holds the files named existing: it refuses the whole
// archive, naming the entry, when anything in it could not be written, so
// the page writes all of it or nothing.
func Unzip(archive []byte, existing []string) (map[string]string, error) {
	files, err := readArchive(archive)
	if err != nil {
		return nil, err
	}
	if err := checkFits(files, existing); err != nil {
		return nil, err
	}
	return files, nil
}

// checkFits refuses names that clash with the workspace or with each other:
// a file where a directory is ("lessons") or under a file ("main.go/x").
// The workspace's directories are the ones its names imply.
func checkFits(files map[string]string, existing []string) error {
	workspaceFile, workspaceDir := map[string]bool{}, map[string]bool{}
	for _, name := range existing {
		workspaceFile[name] = true
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			workspaceDir[dir] = true
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names) // the same complaint for the same archive
	for _, name := range names {
		if workspaceDir[name] {
			return fmt.Errorf("%s is a directory in the workspace, a file in the archive", name)
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if _, ok := files[dir]; ok {
				return fmt.Errorf("%s is both a file and a directory in the archive", dir)
			}
			if workspaceFile[dir] {
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
			continue // zip tools add entries for directories; a workspace has none of its own
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
