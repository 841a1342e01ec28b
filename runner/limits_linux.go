package runner

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// limitMemory caps the process's address space at what it has reserved now
// plus max: the Go runtime reserves address space early (about 1.2 GB here)
// and touches little of it, so a cap on the whole would be meaningless.
// An allocation past it fails, and the runtime dies with "out of memory",
// which the bridge names.
func limitMemory(max int64) error {
	size, err := vmSize()
	if err != nil {
		return err
	}
	lim := &unix.Rlimit{Cur: uint64(size + max), Max: uint64(size + max)}
	return unix.Setrlimit(unix.RLIMIT_AS, lim)
}

// vmSize is the process's address space in bytes.
func vmSize() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, sc.Err()
}

// setName names the process as ps, top and ss show it (the main thread's
// name is the process's).
func setName(name string) {
	os.WriteFile("/proc/self/comm", []byte(name), 0)
}

// sysProcAttr puts a runner in a process group of its own (Stop signals
// the group) and has the kernel kill it when the bridge dies, however it
// dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// unsent is how many bytes written to conn its reader has not read yet
// (SIOCOUTQ); -1 when unknown.
func unsent(conn net.Conn) int {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			n = v
		}
	})
	return n
}
