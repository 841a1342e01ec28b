package workspace

import (
	"context"
	"fmt"

	"github.com/hack-pad/hackpadfs/indexeddb"
)

// OpenBrowser opens the workspace in the browser's IndexedDB database
// "sockstep".
func OpenBrowser(ctx context.Context) (*Workspace, error) {
	fsys, err := indexeddb.NewFS(ctx, "sockstep", indexeddb.Options{})
	if err != nil {
		return nil, fmt.Errorf("open the workspace in IndexedDB: %w", err)
	}
	return New(fsys), nil
}
