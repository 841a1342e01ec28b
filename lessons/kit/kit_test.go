package kit

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// listener is a learner's listener on 127.0.0.1:port, without SO_REUSEADDR.
func listener(t *testing.T, port, backlog int) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	return fd
}

func TestListeningReportsQueueBacklogAndInode(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's view is read on Linux only")
	}
	port := testnet.FreePort(t)
	fd := listener(t, port, 3)
	defer syscall.Close(fd)
	for range 2 {
		conn, err := net.Dial("tcp", "127.0.0.1:"+itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer Abort(conn)
	}
	s, ok, err := Listening("127.0.0.1", port)
	if err != nil || !ok {
		t.Fatalf("Listening: %v, %v", ok, err)
	}
	if s.Queue != 2 || s.Backlog != 3 || s.Inode == 0 || s.Local != netip.MustParseAddrPort("127.0.0.1:"+itoa(port)) {
		t.Errorf("got %+v; want queue 2, backlog 3, an inode, on 127.0.0.1:%d", s, port)
	}
}

// TestCloseLeavesNothingOnTheServersPort: a server closes first; the
// client sees the end of stream, then closes. A plain close would leave the
// server's end in TIME_WAIT, and a new bind without SO_REUSEADDR would fail
// for a minute; Close resets instead, so the port binds at once.
func TestCloseLeavesNothingOnTheServersPort(t *testing.T) {
	port := testnet.FreePort(t)
	fd := listener(t, port, 5)
	c := &C{ctx: context.Background(), target: Target{Addr: "127.0.0.1:" + itoa(port)}}
	k, err := c.Client("the client")
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := syscall.Accept(fd)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Write(conn, []byte("bye\n"))
	syscall.Close(conn) // the server closes first
	syscall.Close(fd)
	if err := k.Expect("the goodbye", "bye"); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		if why := lingering(port); !strings.Contains(why, "FIN_WAIT") {
			t.Errorf("while the client stays, the server's end should linger in FIN_WAIT1 or 2; lingering says %q", why)
		}
	}
	k.Close() // it has not read the end of stream yet: Close finds it
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		syscall.Close(fd)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a bind without SO_REUSEADDR still fails after the client closed: %v; %s", err, lingering(port))
		}
	}
}

// TestStillOpen: quiet is open; an end of stream is not.
func TestStillOpen(t *testing.T) {
	port := testnet.FreePort(t)
	fd := listener(t, port, 5)
	defer syscall.Close(fd)
	c := &C{ctx: context.Background(), target: Target{Addr: "127.0.0.1:" + itoa(port)}}
	k, err := c.Client("the client")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	conn, _, err := syscall.Accept(fd)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.StillOpen("now"); err != nil {
		t.Errorf("a quiet connection: %v", err)
	}
	syscall.Close(conn)
	if err := k.StillOpen("now"); err == nil || !strings.Contains(err.Error(), "had not left") {
		t.Errorf("a closed connection: %v", err)
	}
}

func entry(c wire.Call, r wire.Result) native.TraceEntry {
	return native.TraceEntry{Call: c, Result: r}
}

func TestWhyNotListening(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:9009")
	other := netip.MustParseAddrPort("127.0.0.1:9000")
	socket := entry(wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}, wire.Result{Ret: 3})
	bound := entry(wire.Call{Op: wire.OpBind, FD: 3, Addr: addr}, wire.Result{})
	listened := entry(wire.Call{Op: wire.OpListen, FD: 3, Value: 5}, wire.Result{})
	for _, tc := range []struct {
		name  string
		trace Trace
		says  string
	}{
		{"empty", nil, "no system call yet"},
		{"no bind", Trace{socket}, "never bound port 9009"},
		{"another port", Trace{socket, entry(wire.Call{Op: wire.OpBind, FD: 3, Addr: other}, wire.Result{})}, "its last bind was bind(3, 127.0.0.1:9000)"},
		{"in use", Trace{socket, entry(wire.Call{Op: wire.OpBind, FD: 3, Addr: addr}, wire.Result{Errno: "EADDRINUSE"})},
			"bind(3, 127.0.0.1:9009) = -1 EADDRINUSE: port 9009 is still held"},
		{"refused", Trace{socket, entry(wire.Call{Op: wire.OpBind, FD: 3, Addr: addr}, wire.Result{Refused: &wire.Refusal{Rule: "ports", Message: "no"}})},
			"was refused: refused by the bridge's policy (ports)"},
		{"no listen", Trace{socket, bound}, "never called listen on descriptor 3"},
		{"listen failed", Trace{socket, bound, entry(wire.Call{Op: wire.OpListen, FD: 3}, wire.Result{Errno: "EINVAL"})}, "listen(3, 0) = -1 EINVAL"},
		{"closed", Trace{socket, bound, listened, entry(wire.Call{Op: wire.OpClose, FD: 3}, wire.Result{})}, "then closed that listener"},
		{"ended", Trace{socket, bound, listened, entry(wire.Call{Op: wire.OpClose, FD: 3, AtExit: true}, wire.Result{})}, "then ended"},
		{"listening", Trace{socket, bound, listened}, ""},
	} {
		got := tc.trace.WhyNotListening(9009)
		if (tc.says == "") != (got == "") || !strings.Contains(got, tc.says) {
			t.Errorf("%s: got %q; want it to say %q", tc.name, got, tc.says)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestListeningReportsV6Only: the kernel reports an IPv6 listener's
// IPV6_V6ONLY, and sets it by itself on a bind to one IPv6 address.
func TestListeningReportsV6Only(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's view is read on Linux only")
	}
	for _, tc := range []struct {
		addr   [16]byte
		set    int // IPV6_V6ONLY before bind; -1: left alone
		v6only bool
	}{
		{[16]byte{15: 1}, -1, true}, // ::1: the kernel makes it IPv6-only
		{[16]byte{}, 0, false},      // ::, dual-stack
		{[16]byte{}, 1, true},
	} {
		fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Skip("no IPv6 here:", err)
		}
		defer syscall.Close(fd)
		if tc.set >= 0 {
			if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, tc.set); err != nil {
				t.Fatal(err)
			}
		}
		if err := syscall.Bind(fd, &syscall.SockaddrInet6{Addr: tc.addr}); err != nil {
			t.Skip("no IPv6 loopback here:", err)
		}
		if err := syscall.Listen(fd, 1); err != nil {
			t.Fatal(err)
		}
		sa, _ := syscall.Getsockname(fd)
		port := sa.(*syscall.SockaddrInet6).Port
		all, err := PortSockets(port)
		if err != nil || len(all) != 1 {
			t.Fatalf("PortSockets(%d): %+v, %v", port, all, err)
		}
		if s := all[0]; !s.V6OnlyKnown || s.V6Only != tc.v6only {
			t.Errorf("%s, IPV6_V6ONLY set to %d: got %+v; want V6Only %v", s.Local, tc.set, s, tc.v6only)
		}
	}
}

// TestSignalNeverSignalsItsOwnProcess: the kernel's table names this test
// process as the listener's owner, as it names the bridge when the page's
// own engine runs the program; Signal must refuse rather than signal it.
func TestSignalNeverSignalsItsOwnProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's view is read on Linux only")
	}
	port := testnet.FreePort(t)
	fd := listener(t, port, 1)
	defer syscall.Close(fd)
	s, ok, err := Listening("127.0.0.1", port)
	if err != nil || !ok {
		t.Fatalf("Listening: %v, %v", ok, err)
	}
	if pid, _, err := ownerOf(s.Inode); err != nil || pid != os.Getpid() {
		t.Fatalf("ownerOf(%d) = %d, %v; want this process, %d", s.Inode, pid, err, os.Getpid())
	}
	steps := make(chan Step, 10)
	var signalErr error
	var can bool
	Run(context.Background(), Target{Addr: "127.0.0.1:" + itoa(port)}, func(c *C) {
		can = c.CanSignal()
		_, signalErr = c.Signal(syscall.SIGTERM)
		c.Passf("signal", "done")
	}, steps)
	if can || signalErr == nil || !strings.Contains(signalErr.Error(), "could not reach the program's process") {
		t.Errorf("CanSignal %v, Signal: %v; want no process to signal", can, signalErr)
	}
}
