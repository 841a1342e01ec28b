// Package testnet gives tests loopback ports that a learner's program can
// bind a moment later.
//
// Asking the kernel for port 0 and closing the listener is not enough: that
// port comes from the ephemeral range, where any client connection of a test
// running alongside may take it before the program binds it, and Go's
// net.Listen sets SO_REUSEADDR, so a port still in TIME_WAIT looks free
// while a learner's bind without SO_REUSEADDR fails.
package testnet

import (
	"math/rand/v2"
	"syscall"
	"testing"
)

// Below Linux's default ephemeral range (32768–60999) and above the ports
// servers on a developer's machine usually hold.
const lowest, highest = 20000, 32767

// FreePort returns a loopback port outside the ephemeral range that nothing
// holds, not even a connection in TIME_WAIT.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := lowest + rand.IntN(highest-lowest+1)
		if bindable(port) {
			return port
		}
	}
	t.Fatalf("no free loopback port between %d and %d after 100 tries", lowest, highest)
	return 0
}

// bindable binds 127.0.0.1:port the way a learner's program does, without
// SO_REUSEADDR.
func bindable(port int) bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}) == nil
}
