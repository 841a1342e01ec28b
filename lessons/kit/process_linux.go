package kit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ownerOf finds the process that holds the socket with inode, as `ss -p`
// does: the descriptor in /proc/PID/fd that links to "socket:[inode]".
// Only this user's processes are readable, so only they can be found.
func ownerOf(inode uint64) (pid int, name string, err error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", err
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // another user's, or gone
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + fd.Name()); err == nil && link == want {
				comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
				return pid, strings.TrimSpace(string(comm)), nil
			}
		}
	}
	return 0, "", fmt.Errorf("no process of this user holds socket inode %d", inode)
}

// alive reports whether process pid still runs: it exists and is not a
// zombie waiting for its parent.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "PID (comm) S …": the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
