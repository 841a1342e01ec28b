package workspace

import (
	"context"
	"fmt"

	"github.com/hack-pad/hackpadfs/indexeddb"
)

// legacyDatabase is the IndexedDB database where versions before the page
// kept the workspace itself stored it, through hackpadfs.
const legacyDatabase = "sockstep"

// Legacy returns every file of that old workspace, nil when it has none.
// Opening it creates the database when it does not exist: the page calls
// this only when it exists, or when it cannot tell.
func Legacy(ctx context.Context) (map[string]string, error) {
	fsys, err := indexeddb.NewFS(ctx, legacyDatabase, indexeddb.Options{})
	if err != nil {
		return nil, fmt.Errorf("open the old workspace in IndexedDB: %w", err)
	}
	return ReadAll(fsys)
}
