package runner

import (
	"context"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/wasm/engine"
)

// warmUpSource is a program like a learner's first: its packages, a
// socket's calls, formatting. It binds nothing: no port is taken, even for
// a moment.
const warmUpSource = `package main

import (
	"fmt"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		fmt.Println("setsockopt:", err)
	}
	if _, err := syscall.Getsockname(fd); err != nil {
		fmt.Println("getsockname:", err)
	}
	buf := make([]byte, 8)
	for i := 0; i < 3; i++ {
		_ = fmt.Sprintf("%d %q", i, buf[:i])
	}
}
`

// warmUp interprets warmUpSource, its calls on a session of its own and its
// events dropped, then gives the memory back. A runner does it while it
// waits as a page's spare: the first program a process interprets pays for
// the first use of the interpreter, the packages' symbols and the runtime's
// heap (two to four times a later program's start, measured in one process),
// and that first program is then not the learner's.
func warmUp() {
	warm(func(engine.Event) {})
	runtime.GC()
	debug.FreeOSMemory()
}

// warm runs warmUpSource, its events to emit; the error is how it ended.
func warm(emit func(engine.Event)) error {
	s := native.NewSession(native.DefaultPolicy())
	defer s.Close()
	return engine.New(s.Do, emit).RunWith(context.Background(), warmUpSource, engine.Options{})
}

// readable reports whether fd has input waiting, without waiting for any:
// a runner started for a program at once (no spare) finds it there.
func readable(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}
