// Package workspace keeps the learner's files on any hackpadfs file system:
// IndexedDB in the browser, so work survives a reload, and memory in tests.
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/hack-pad/hackpadfs"
)

// Workspace is the learner's files.
type Workspace struct{ fsys hackpadfs.FS }

// New returns a workspace on fsys.
func New(fsys hackpadfs.FS) *Workspace { return &Workspace{fsys} }

// Load returns the text of file name, and false when there is none.
func (w *Workspace) Load(name string) (string, bool, error) {
	if err := check(name); err != nil {
		return "", false, err
	}
	b, err := hackpadfs.ReadFile(w.fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("load %s: %w", name, err)
	}
	return string(b), true, nil
}

// Save writes source to file name, making its directories.
func (w *Workspace) Save(name, source string) error {
	if err := check(name); err != nil {
		return err
	}
	if dir := path.Dir(name); dir != "." {
		if err := hackpadfs.MkdirAll(w.fsys, dir, 0o755); err != nil {
			return fmt.Errorf("save %s: %w", name, err)
		}
	}
	if err := hackpadfs.WriteFullFile(w.fsys, name, []byte(source), 0o644); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

// check refuses names that are not plain relative paths, such as "/x",
// "../x" or "", which io/fs file systems do not accept either.
func check(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("%q is not a valid file name: use a relative path like main.go", name)
	}
	return nil
}
