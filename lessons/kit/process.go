package kit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Process is the program's own process, where the check can reach it: the
// runner that runs it in the playground. A lesson about shutting down asks
// it to end with a signal, as a service manager or Ctrl-C does.
type Process interface {
	// Signal sends sig to the program.
	Signal(sig syscall.Signal) error
	// Ended reports whether the program has ended and, once it has, how, in
	// the exit event's words: "" for a normal end (exit status 0).
	Ended() (status string, ended bool)
}

// NoProcess is the message of a step that needs the program's process
// when the check cannot reach it: the page's in-browser engine, a program
// of another user, or another machine.
const NoProcess = "skipped: the check could not reach the program's process to send it a signal. " +
	"The page's own runner (engine.wasm) gives a program no process of its own: choose the host runner. " +
	"Natively the check looks, among your own processes, for the one that listens on the lesson's port: run it on this machine with go run, and check again"

// errNoProcess says no process could be found to signal.
var errNoProcess = errors.New(NoProcess)

// Signal sends sig to the program under test and says whom it signalled:
// in the playground its runner; natively the process that holds the socket
// listening on the address under test, found in the kernel's table of
// sockets and /proc. It never signals the checker's own process, where the
// page's in-browser engine keeps its sockets.
func (c *C) Signal(sig syscall.Signal) (who string, err error) {
	if p := c.target.Process; p != nil {
		return "the program", p.Signal(sig)
	}
	pid, name, ok := c.owner()
	if !ok {
		return "", errNoProcess
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return "", fmt.Errorf("could not signal process %d (%s): %w", pid, name, err)
	}
	c.signalled = pid
	return fmt.Sprintf("process %d (%s)", pid, name), nil
}

// CanSignal reports whether Signal can reach the program: in the
// playground, or natively when a process of this user listens on the
// address under test.
func (c *C) CanSignal() bool {
	if c.target.Process != nil {
		return true
	}
	_, _, ok := c.owner()
	return ok
}

// owner is the process, other than the checker's own, that holds the
// socket listening on the address under test, found natively in the
// kernel's table of sockets and /proc; ok is false when there is none.
func (c *C) owner() (pid int, name string, ok bool) {
	s, found, err := Listening(c.Host(), c.PortNumber())
	if err != nil || !found || s.Inode == 0 {
		return 0, "", false
	}
	pid, name, err = ownerOf(s.Inode)
	if err != nil || pid == os.Getpid() {
		return 0, "", false
	}
	return pid, name, true
}

// WaitEnded waits, for at most wait, for the program that Signal signalled
// to end. known is false when how it ended cannot be seen (natively: the
// process is not the checker's child); status is then "".
func (c *C) WaitEnded(wait time.Duration) (status string, known bool, err error) {
	deadline := time.Now().Add(wait)
	for {
		if p := c.target.Process; p != nil {
			if status, ended := p.Ended(); ended {
				return status, true, nil
			}
		} else if c.signalled == 0 || !alive(c.signalled) {
			return "", false, nil
		}
		if time.Now().After(deadline) || c.ctx.Err() != nil {
			return "", false, fmt.Errorf("the program was still running %s later", wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
