package kit

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/native/wire"
)

// WaitUDP passes for an echo, and says why when nothing answers: no socket
// on the UDP port, or a TCP listener on the same number.
func TestWaitUDP(t *testing.T) {
	t.Parallel()
	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			buf := make([]byte, MaxDatagram)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		c := &C{ctx: context.Background(), target: Target{Addr: pc.LocalAddr().String()}}
		if err := c.WaitUDP([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		d, err := c.UDPClient("a client")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		big := make([]byte, MaxDatagram)
		if err := d.Send(big); err != nil {
			t.Fatal(err)
		}
		if got, err := d.Receive("the echo", ReplyWait); err != nil || len(got) != MaxDatagram {
			t.Errorf("the echo of %d bytes: got %d, %v", MaxDatagram, len(got), err)
		}
	})
	t.Run("nothing bound", func(t *testing.T) {
		t.Parallel()
		port := testnet.FreePort(t)
		c := &C{ctx: context.Background(), target: Target{Addr: "127.0.0.1:" + itoa(port)}}
		if err := c.WaitUDP([]byte("ping")); err == nil || !strings.Contains(err.Error(), "no socket is bound to that UDP port") {
			t.Errorf("got %v; want it to say no socket is bound", err)
		}
	})
	t.Run("TCP only", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c := &C{ctx: context.Background(), target: Target{Addr: ln.Addr().String()}}
		if err := c.WaitUDP([]byte("ping")); err == nil || !strings.Contains(err.Error(), "a TCP socket listens on port") {
			t.Errorf("got %v; want it to name the TCP listener", err)
		}
	})
}

func TestWhyNoAnswer(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:9017")
	udp := entry(wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM"}, wire.Result{Ret: 3})
	tcp := entry(wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}, wire.Result{Ret: 3})
	bound := entry(wire.Call{Op: wire.OpBind, FD: 3, Addr: addr}, wire.Result{})
	read := entry(wire.Call{Op: wire.OpRead, FD: 3, Size: 64}, wire.Result{Ret: 4, Data: []byte("ping")})
	sent := entry(wire.Call{Op: wire.OpSendto, FD: 3, Data: []byte("ping")}, wire.Result{Ret: 4})
	for _, tc := range []struct {
		name  string
		trace Trace
		says  string
	}{
		{"empty", nil, "no system call yet"},
		{"no bind", Trace{udp}, "never bound port 9017"},
		{"in use", Trace{udp, entry(wire.Call{Op: wire.OpBind, FD: 3, Addr: addr}, wire.Result{Errno: "EADDRINUSE"})}, "= -1 EADDRINUSE"},
		{"tcp", Trace{tcp, bound}, "made a SOCK_STREAM socket"},
		{"read, no answer", Trace{udp, bound, read}, `read the datagram (read(3, 64) = 4 "ping")`},
		{"answered", Trace{udp, bound, read, sent}, ""},
		{"waiting", Trace{udp, bound}, ""},
	} {
		got := tc.trace.WhyNoAnswer(9017)
		if (tc.says == "") != (got == "") || !strings.Contains(got, tc.says) {
			t.Errorf("%s: got %q; want it to say %q", tc.name, got, tc.says)
		}
	}
}
