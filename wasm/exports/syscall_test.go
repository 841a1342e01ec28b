package exports

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/sockstep/sockstep/native/wire"
)

// fakeHost records calls and answers each with answer(c).
type fakeHost struct {
	calls  []*wire.Call
	answer func(c *wire.Call) (*wire.Result, error)
}

func (h *fakeHost) call(c *wire.Call) (*wire.Result, error) {
	h.calls = append(h.calls, c)
	if h.answer == nil {
		return &wire.Result{ID: c.ID}, nil
	}
	return h.answer(c)
}

func TestErrorsAreRebuilt(t *testing.T) {
	refusal := &wire.Refusal{Rule: "loopback-only", Message: "only 127.0.0.1"}
	gone := errors.New("socket closed")
	tests := []struct {
		name  string
		res   *wire.Result
		err   error
		check func(error) bool
	}{
		{"errno", &wire.Result{Errno: "EADDRINUSE"}, nil, func(err error) bool { return err == syscall.EADDRINUSE }},
		{"refusal", &wire.Result{Refused: refusal}, nil, func(err error) bool { return err == refusal }},
		{"problem", nil, &wire.Problem{Message: "bad"}, func(err error) bool { var p *wire.Problem; return errors.As(err, &p) }},
		{"unreachable", nil, gone, func(err error) bool { var u *UnreachableError; return errors.As(err, &u) && errors.Is(err, gone) }},
		{"unknown errno", &wire.Result{Errno: "EWHAT"}, nil, func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		h := &fakeHost{answer: func(*wire.Call) (*wire.Result, error) { return tt.res, tt.err }}
		err := sys{h.call}.Bind(3, &syscall.SockaddrInet4{Port: 9000, Addr: [4]byte{127, 0, 0, 1}})
		if !tt.check(err) {
			t.Errorf("%s: got %v (%T)", tt.name, err, err)
		}
	}
}

func TestUnknownNumbersFailWithoutAskingTheBridge(t *testing.T) {
	h := &fakeHost{}
	s := sys{h.call}
	tests := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"family", second(s.Socket(1, 1, 0)), syscall.EAFNOSUPPORT},
		{"type", second(s.Socket(2, 3, 0)), syscall.ESOCKTNOSUPPORT},
		{"proto", second(s.Socket(2, 1, 1)), syscall.EPROTONOSUPPORT},
		{"epoll op", s.EpollCtl(3, 9, 4, &EpollEvent{}), syscall.EINVAL},
		{"epoll flags", second(s.EpollCreate1(1)), syscall.EINVAL},
		{"epoll room", second(s.EpollWait(3, nil, -1)), syscall.EINVAL},
		{"recvfrom flags", thirdOf(s.Recvfrom(3, make([]byte, 1), 0x100)), syscall.EINVAL},
		{"sendto flags", s.Sendto(3, nil, 0x100, nil), syscall.EINVAL},
		{"level", s.SetsockoptInt(3, 99, 2, 1), syscall.ENOPROTOOPT},
		{"option", s.SetsockoptInt(3, 1, 99, 1), syscall.ENOPROTOOPT},
		{"option of other level", s.SetsockoptInt(3, 6, 2, 1), syscall.ENOPROTOOPT},
		{"how", s.Shutdown(3, 7), syscall.EINVAL},
		{"port", s.Bind(3, &syscall.SockaddrInet4{Port: 70000}), syscall.EINVAL},
		{"nil address", s.Connect(3, nil), syscall.EINVAL},
		{"unix address", s.Bind(3, &syscall.SockaddrUnix{Name: "/tmp/x"}), syscall.EAFNOSUPPORT},
		{"negative fd", s.Close(-1), syscall.EBADF},
	}
	for _, tt := range tests {
		if tt.err != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, tt.err, tt.want)
		}
	}
	if len(h.calls) != 0 {
		t.Errorf("the bridge was asked %d times; want 0", len(h.calls))
	}
}

func second(_ int, err error) error { return err }

func thirdOf(_ int, _ syscall.Sockaddr, err error) error { return err }

func TestCallsCarryNames(t *testing.T) {
	h := &fakeHost{}
	s := sys{h.call}
	s.Socket(10, 1, 6)
	s.SetsockoptInt(3, 1, 2, 1)
	s.Bind(3, &syscall.SockaddrInet6{Port: 8080, Addr: netip.IPv6Loopback().As16()})
	s.Listen(3, 5)
	s.Shutdown(4, 1)
	want := []wire.Call{
		{Op: wire.OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM", Proto: 6},
		{Op: wire.OpSetsockopt, FD: 3, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1},
		{Op: wire.OpBind, FD: 3, Addr: netip.MustParseAddrPort("[::1]:8080")},
		{Op: wire.OpListen, FD: 3, Value: 5},
		{Op: wire.OpShutdown, FD: 4, How: "SHUT_WR"},
	}
	for i, w := range want {
		if got := wire.FormatCall(h.calls[i]); got != wire.FormatCall(&w) {
			t.Errorf("call %d: got %s; want %s", i, got, wire.FormatCall(&w))
		}
	}
}

func TestWriteSendsEverythingInChunks(t *testing.T) {
	h := &fakeHost{answer: func(c *wire.Call) (*wire.Result, error) { return &wire.Result{Ret: len(c.Data)}, nil }}
	p := make([]byte, 2*wire.MaxData+10)
	n, err := sys{h.call}.Write(4, p)
	if n != len(p) || err != nil {
		t.Fatalf("got %d, %v; want %d, nil", n, err, len(p))
	}
	if len(h.calls) != 3 || len(h.calls[0].Data) != wire.MaxData || len(h.calls[2].Data) != 10 {
		t.Errorf("got %d calls", len(h.calls))
	}

	// A failure after some bytes went out reports those bytes.
	h = &fakeHost{answer: func(c *wire.Call) (*wire.Result, error) {
		if len(h.calls) > 1 {
			return &wire.Result{Errno: "EPIPE"}, nil
		}
		return &wire.Result{Ret: len(c.Data)}, nil
	}}
	if n, err := (sys{h.call}).Write(4, p); n != wire.MaxData || err != nil {
		t.Errorf("partial: got %d, %v; want %d, nil", n, err, wire.MaxData)
	}
	h = &fakeHost{answer: func(*wire.Call) (*wire.Result, error) { return &wire.Result{Errno: "EPIPE"}, nil }}
	if n, err := (sys{h.call}).Write(4, []byte("x")); n != -1 || err != syscall.EPIPE {
		t.Errorf("failed: got %d, %v; want -1, EPIPE", n, err)
	}
}

func TestReadClampsAndCopies(t *testing.T) {
	h := &fakeHost{answer: func(c *wire.Call) (*wire.Result, error) {
		return &wire.Result{Ret: 5, Data: []byte("hello")}, nil
	}}
	p := make([]byte, 2*wire.MaxData)
	n, err := sys{h.call}.Read(4, p)
	if n != 5 || err != nil || string(p[:5]) != "hello" {
		t.Errorf("got %d, %v, %q", n, err, p[:n])
	}
	if h.calls[0].Size != wire.MaxData {
		t.Errorf("asked for %d bytes; want %d", h.calls[0].Size, wire.MaxData)
	}
}

func TestAcceptReturnsThePeer(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want syscall.Sockaddr
	}{
		{"127.0.0.1:53122", &syscall.SockaddrInet4{Port: 53122, Addr: [4]byte{127, 0, 0, 1}}},
		{"[::ffff:127.0.0.1]:80", &syscall.SockaddrInet6{Port: 80, Addr: netip.MustParseAddr("::ffff:127.0.0.1").As16()}},
	} {
		h := &fakeHost{answer: func(*wire.Call) (*wire.Result, error) {
			return &wire.Result{Ret: 4, Addr: netip.MustParseAddrPort(tt.addr)}, nil
		}}
		nfd, sa, err := sys{h.call}.Accept(3)
		if nfd != 4 || err != nil {
			t.Fatalf("%s: got %d, %v", tt.addr, nfd, err)
		}
		switch want := tt.want.(type) {
		case *syscall.SockaddrInet4:
			if got, ok := sa.(*syscall.SockaddrInet4); !ok || *got != *want {
				t.Errorf("%s: got %#v", tt.addr, sa)
			}
		case *syscall.SockaddrInet6:
			if got, ok := sa.(*syscall.SockaddrInet6); !ok || *got != *want {
				t.Errorf("%s: got %#v", tt.addr, sa)
			}
		}
	}
}

func TestLookupPort(t *testing.T) {
	h := &fakeHost{answer: func(c *wire.Call) (*wire.Result, error) {
		if c.Name == "http" {
			return &wire.Result{Ret: 80}, nil
		}
		return &wire.Result{Errno: "ENOENT"}, nil
	}}
	if p, err := lookupPort(h.call, "tcp", "8080"); p != 8080 || err != nil {
		t.Errorf("number: got %d, %v", p, err)
	}
	if len(h.calls) != 0 {
		t.Errorf("a number was looked up")
	}
	if p, err := lookupPort(h.call, "tcp", "http"); p != 80 || err != nil {
		t.Errorf("http: got %d, %v", p, err)
	}
	if _, err := lookupPort(h.call, "tcp", "nosuch"); err == nil || err.Error() != "lookup tcp/nosuch: unknown port" {
		t.Errorf("unknown: got %v", err)
	}
	if _, err := lookupPort(h.call, "ip", "http"); err == nil {
		t.Errorf("network ip: no error")
	}
}

func TestSymbolsHoldTheTeachingPackages(t *testing.T) {
	std := Standard()
	for _, p := range StandardPackages {
		key := p + "/" + p[len(p)-len(lastElem(p)):]
		if _, ok := std[key]; !ok {
			t.Errorf("no %s", key)
		}
	}
	for _, banned := range []string{"os/os:Open", "os/os:ReadFile", "os/os:StartProcess", "os/os:Chdir"} {
		if _, ok := std["os/os"][banned[len("os/os:"):]]; ok {
			t.Errorf("%s is exported", banned)
		}
	}
}

func lastElem(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
