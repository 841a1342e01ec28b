//go:build js && !sockstep_indexeddb

package workspace

import (
	"context"

	"github.com/hack-pad/hackpadfs/mem"
)

// OpenBrowser opens the workspace in memory: work is lost on reload. The
// IndexedDB workspace (browser_idb_js.go, build tag sockstep_indexeddb) needs
// github.com/hack-pad/go-indexeddb v0.3.2 and github.com/hack-pad/safejs
// v0.1.0 in go.mod; once they are there, delete this file and the tag.
func OpenBrowser(context.Context) (*Workspace, error) {
	fsys, err := mem.NewFS()
	if err != nil {
		return nil, err
	}
	return New(fsys), nil
}
