//go:build !linux

package runner

import (
	"net"
	"syscall"
)

// limitMemory sets no hard cap outside Linux (macOS does not enforce
// RLIMIT_AS): there only the collector's soft memory limit (confine) holds
// a program back.
func limitMemory(max int64) error { return nil }

// setName leaves the name: macOS shows the executable's.
func setName(string) {}

// sysProcAttr puts a runner in a process group of its own. macOS has no
// parent-death signal: a runner there notices the bridge is gone when its
// control socket closes.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// unsent is unknown outside Linux: the sink then never writes from the
// program's goroutine.
func unsent(net.Conn) int { return -1 }
