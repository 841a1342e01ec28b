// Package workspace moves the learner's files — a map from name
// (main.go, lessons/02-binding/main.go, progress.json) to text — in and out
// of the page. The page keeps them in IndexedDB itself (site/src/workspace.js),
// so it never waits for engine.wasm to show them; what stays here is what
// must be exact: the zip archive of Export and Import, whose checks are the
// contract for what a workspace may hold, and the one-time read of the
// workspace that earlier versions kept on hackpadfs.
package workspace

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/hack-pad/hackpadfs"
)

// ReadAll returns every regular file of fsys by name, nil when it has none:
// the old workspace, to migrate.
func ReadAll(fsys hackpadfs.FS) (map[string]string, error) {
	var files map[string]string
	err := hackpadfs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := hackpadfs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if files == nil {
			files = map[string]string{}
		}
		files[name] = string(b)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the old workspace: %w", err)
	}
	return files, nil
}

// check refuses names that are not plain relative paths, such as "/x",
// "../x" or "" (site/src/workspace.js applies the same rule to what it saves).
func check(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("%q is not a valid file name: use a relative path like main.go", name)
	}
	return nil
}
