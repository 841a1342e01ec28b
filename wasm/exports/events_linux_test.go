package exports

import (
	"context"
	"errors"
	"go/constant"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
)

// realSys is the learner's syscall over a real session.
func realSys(t *testing.T) sys {
	t.Helper()
	s := native.NewSession(native.DefaultPolicy())
	t.Cleanup(func() { s.Close() })
	return sys{func(c *wire.Call) (*wire.Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.Do(ctx, c)
	}}
}

// The event loop's calls, as a program makes them: a non-blocking listener
// says EAGAIN, epoll gives back the program's Fd and Pad, and syscall's
// constants are Go's linux ones.
func TestEventLoopCalls(t *testing.T) {
	s := realSys(t)
	fd, err := s.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(fd, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Accept(fd); !errors.Is(err, syscall.EAGAIN) {
		t.Errorf("accept on a non-blocking listener: got %v; want EAGAIN", err)
	}
	ep, err := s.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EpollCreate(0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("EpollCreate(0): got %v; want EINVAL", err)
	}
	if err := s.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd), Pad: -3}); err != nil {
		t.Fatal(err)
	}
	events := make([]EpollEvent, 4)
	if n, err := s.EpollWait(ep, events, 0); n != 0 || err != nil {
		t.Errorf("EpollWait with nothing ready: got %d, %v; want 0", n, err)
	}
	sa, _ := s.Getsockname(fd)
	conn, err := net.Dial("tcp", "127.0.0.1:"+itoa(sa.(*syscall.SockaddrInet4).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n, err := s.EpollWait(ep, events, -1)
	if nfd, _, err := s.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC); err != nil {
		t.Errorf("Accept4: %v", err)
	} else if _, err := s.Read(nfd, make([]byte, 8)); !errors.Is(err, syscall.EAGAIN) {
		t.Errorf("read on a socket from accept4(SOCK_NONBLOCK): got %v; want EAGAIN", err)
	}
	if n != 1 || err != nil || events[0] != (EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd), Pad: -3}) {
		t.Errorf("EpollWait: got %d %+v, %v; want EPOLLIN with the program's Fd and Pad", n, events[:max(n, 0)], err)
	}
	if _, err := s.EpollWait(ep, nil, 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("EpollWait with no room: got %v; want EINVAL", err)
	}
	if err := s.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &EpollEvent{Events: syscall.EPOLLIN}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("EpollCtl ADD twice: got %v; want EEXIST", err)
	}
	if err := s.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fd, nil); err != nil {
		t.Errorf("EpollCtl DEL: %v", err)
	}

	linux := map[string]int64{
		"EPOLLIN": syscall.EPOLLIN, "EPOLLOUT": syscall.EPOLLOUT, "EPOLLERR": syscall.EPOLLERR, "EPOLLHUP": syscall.EPOLLHUP,
		"EPOLLRDHUP": syscall.EPOLLRDHUP, "EPOLLET": syscall.EPOLLET, "EPOLLONESHOT": syscall.EPOLLONESHOT, "EPOLLPRI": syscall.EPOLLPRI,
		"EPOLL_CTL_ADD": syscall.EPOLL_CTL_ADD, "EPOLL_CTL_MOD": syscall.EPOLL_CTL_MOD, "EPOLL_CTL_DEL": syscall.EPOLL_CTL_DEL,
		"EPOLL_CLOEXEC": syscall.EPOLL_CLOEXEC, "O_NONBLOCK": syscall.O_NONBLOCK, "O_RDWR": syscall.O_RDWR,
		"F_GETFL": syscall.F_GETFL, "F_SETFL": syscall.F_SETFL, "MSG_PEEK": syscall.MSG_PEEK, "MSG_TRUNC": syscall.MSG_TRUNC,
		"MSG_DONTWAIT": syscall.MSG_DONTWAIT, "SOCK_DGRAM": syscall.SOCK_DGRAM, "IPPROTO_UDP": syscall.IPPROTO_UDP,
		"IPPROTO_IPV6": syscall.IPPROTO_IPV6, "IPV6_V6ONLY": syscall.IPV6_V6ONLY,
		"SOCK_NONBLOCK": syscall.SOCK_NONBLOCK, "SOCK_CLOEXEC": syscall.SOCK_CLOEXEC,
	}
	m := Syscall(nil)["syscall/syscall"]
	for name, want := range linux {
		v, ok := m[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if got, _ := constant.Int64Val(v.Interface().(constant.Value)); got != want {
			t.Errorf("%s: got %#x; want %#x", name, got, want)
		}
	}
}

// UDP through the learner's Recvfrom and Sendto: whole datagrams, the
// sender's address, and an empty datagram that is not an end of stream.
func TestDatagramCalls(t *testing.T) {
	s := realSys(t)
	fd, err := s.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := s.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Recvfrom(nb, make([]byte, 8), 0); !errors.Is(err, syscall.EAGAIN) {
		t.Errorf("recvfrom on a SOCK_NONBLOCK socket: got %v; want EAGAIN", err)
	}
	if err := s.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := s.Getsockname(fd)
	peer, err := net.Dial("udp", "127.0.0.1:"+itoa(sa.(*syscall.SockaddrInet4).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.Write([]byte("hello"))
	peer.Write(nil)
	buf := make([]byte, 64)
	n, from, err := s.Recvfrom(fd, buf, 0)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Recvfrom: got %q, %v; want \"hello\"", buf[:n], err)
	}
	if n, _, err := s.Recvfrom(fd, buf, 0); n != 0 || err != nil {
		t.Errorf("Recvfrom of an empty datagram: got %d, %v; want 0", n, err)
	}
	if err := s.Sendto(fd, []byte("olleh"), 0, from); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := peer.Read(buf); err != nil || string(buf[:n]) != "olleh" {
		t.Errorf("the peer read %q, %v; want \"olleh\"", buf[:n], err)
	}
	if _, _, err := s.Recvfrom(fd, buf, syscall.MSG_DONTWAIT); !errors.Is(err, syscall.EAGAIN) {
		t.Errorf("Recvfrom MSG_DONTWAIT with nothing there: got %v; want EAGAIN", err)
	}
	if _, _, err := s.Recvfrom(fd, buf, 0x100); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Recvfrom with an unknown flag: got %v; want EINVAL", err)
	}
	if err := s.Sendto(fd, []byte("x"), 0, &syscall.SockaddrInet4{Port: 9000, Addr: [4]byte{192, 0, 2, 1}}); err == nil {
		t.Error("Sendto another machine: got no error; want the policy's refusal")
	}
	if err := s.Sendto(fd, []byte("x"), 0, nil); !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Errorf("Sendto with no address: got %v; want EDESTADDRREQ", err)
	}
}

func itoa(n int) string { return constant.MakeInt64(int64(n)).String() }
