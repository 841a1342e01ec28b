//go:build !linux

package kit

// ownerOf is Linux-only: elsewhere a native check cannot find the process.
func ownerOf(inode uint64) (pid int, name string, err error) { return 0, "", errNoView }

// alive is Linux-only; elsewhere Signal never finds a process to watch.
func alive(pid int) bool { return false }
