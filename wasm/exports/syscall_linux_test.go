package exports

import (
	"go/constant"
	"syscall"
	"testing"
)

// On Linux, a learner's file builds against Go's own syscall: every constant
// of ours must equal it.
func TestConstantsMatchLinux(t *testing.T) {
	linux := map[string]int{
		"AF_INET": syscall.AF_INET, "AF_INET6": syscall.AF_INET6, "SOCK_STREAM": syscall.SOCK_STREAM,
		"SOL_SOCKET": syscall.SOL_SOCKET, "SO_REUSEADDR": syscall.SO_REUSEADDR, "SO_REUSEPORT": 15,
		"SO_KEEPALIVE": syscall.SO_KEEPALIVE, "SO_RCVBUF": syscall.SO_RCVBUF, "SO_SNDBUF": syscall.SO_SNDBUF,
		"IPPROTO_TCP": syscall.IPPROTO_TCP, "TCP_NODELAY": syscall.TCP_NODELAY, "SHUT_RD": syscall.SHUT_RD,
		"SHUT_WR": syscall.SHUT_WR, "SHUT_RDWR": syscall.SHUT_RDWR, "SOMAXCONN": syscall.SOMAXCONN,
	}
	m := Syscall(nil)["syscall/syscall"]
	for name, want := range linux {
		v, ok := m[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		got, _ := constant.Int64Val(v.Interface().(constant.Value))
		if int(got) != want {
			t.Errorf("%s: got %d; want %d", name, got, want)
		}
	}
	if m["EADDRINUSE"].Interface() != syscall.EADDRINUSE {
		t.Errorf("EADDRINUSE is not syscall.EADDRINUSE")
	}
}
