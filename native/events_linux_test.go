package native

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/sockstep/sockstep/native/wire"
)

// A non-blocking socket returns EAGAIN where a blocking one would wait, and
// fcntl reports the flag.
func TestNonblocking(t *testing.T) {
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	if got := ok(t, s, wire.Call{Op: wire.OpFcntl, FD: l, Option: "F_GETFL"}).Ret; got != wire.O_RDWR {
		t.Errorf("F_GETFL of a new socket: got %#x; want O_RDWR", got)
	}
	ok(t, s, wire.Call{Op: wire.OpFcntl, FD: l, Option: "F_SETFL", Value: wire.O_RDWR | wire.O_NONBLOCK})
	if got := ok(t, s, wire.Call{Op: wire.OpFcntl, FD: l, Option: "F_GETFL"}).Ret; got != wire.O_RDWR|wire.O_NONBLOCK {
		t.Errorf("F_GETFL after F_SETFL O_NONBLOCK: got %#x; want O_RDWR|O_NONBLOCK", got)
	}
	wantErrno(t, "accept with nothing queued", call(t, s, wire.Call{Op: wire.OpAccept, FD: l}), "EAGAIN")

	client := dial(t, addr)
	var conn int
	deadline := time.Now().Add(wait)
	for {
		r := call(t, s, wire.Call{Op: wire.OpAccept, FD: l})
		if !r.Failed() {
			conn = r.Ret
			break
		}
		if r.Errno != "EAGAIN" || time.Now().After(deadline) {
			t.Fatalf("accept: got %s; want a connection, or EAGAIN while it comes", wire.FormatResult(&wire.Call{Op: wire.OpAccept}, r))
		}
		time.Sleep(time.Millisecond)
	}
	// As on Linux, the accepted socket does not inherit O_NONBLOCK.
	if got := ok(t, s, wire.Call{Op: wire.OpFcntl, FD: conn, Option: "F_GETFL"}).Ret; got != wire.O_RDWR {
		t.Errorf("F_GETFL of an accepted socket: got %#x; want O_RDWR", got)
	}
	ok(t, s, wire.Call{Op: wire.OpFcntl, FD: conn, Option: "F_SETFL", Value: wire.O_NONBLOCK})
	wantErrno(t, "read with nothing to read", call(t, s, wire.Call{Op: wire.OpRead, FD: conn, Size: 16}), "EAGAIN")
	client.Write([]byte("hi"))
	var r *wire.Result
	for r = call(t, s, wire.Call{Op: wire.OpRead, FD: conn, Size: 16}); r.Errno == "EAGAIN"; {
		time.Sleep(time.Millisecond)
		r = call(t, s, wire.Call{Op: wire.OpRead, FD: conn, Size: 16})
	}
	if r.Failed() || string(r.Data) != "hi" {
		t.Fatalf("read: got %+v; want \"hi\"", r)
	}

	// A write that does not fit returns what fit, then EAGAIN: never waits.
	big := make([]byte, wire.MaxData)
	total, sawAgain := 0, false
	for range 200 {
		r := call(t, s, wire.Call{Op: wire.OpWrite, FD: conn, Data: big})
		if r.Errno == "EAGAIN" {
			sawAgain = true
			break
		}
		if r.Failed() {
			t.Fatalf("write: got %s", wire.FormatResult(&wire.Call{Op: wire.OpWrite}, r))
		}
		total += r.Ret
	}
	if !sawAgain || total == 0 {
		t.Errorf("writing to a client that never reads: %d bytes then EAGAIN %v; want some bytes, then EAGAIN", total, sawAgain)
	}

	// SOCK_NONBLOCK in socket's type, and accept4's, make a non-blocking
	// descriptor at once.
	nb := ok(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM", Value: 0x800}).Ret
	if got := ok(t, s, wire.Call{Op: wire.OpFcntl, FD: nb, Option: "F_GETFL"}).Ret; got != wire.O_RDWR|wire.O_NONBLOCK {
		t.Errorf("F_GETFL of socket(SOCK_STREAM|SOCK_NONBLOCK): got %#x; want O_RDWR|O_NONBLOCK", got)
	}
	dial(t, addr)
	deadline = time.Now().Add(wait)
	for {
		r := call(t, s, wire.Call{Op: wire.OpAccept, FD: l, Value: 0x800})
		if !r.Failed() {
			wantErrno(t, "read on a socket from accept4(SOCK_NONBLOCK)", call(t, s, wire.Call{Op: wire.OpRead, FD: r.Ret, Size: 8}), "EAGAIN")
			break
		}
		if r.Errno != "EAGAIN" || time.Now().After(deadline) {
			t.Fatalf("accept4: got %+v", r)
		}
		time.Sleep(time.Millisecond)
	}

	// Blocking again: a read waits.
	ok(t, s, wire.Call{Op: wire.OpFcntl, FD: conn, Option: "F_SETFL", Value: wire.O_RDWR})
	ctx, cancel := context.WithCancel(context.Background())
	done := async(t, ctx, s, wire.Call{Op: wire.OpRead, FD: conn, Size: 16})
	blocked(t, "read on a blocking socket again", done)
	cancel()
	wantErrno(t, "cancelled read", within(t, "cancelled read", done, prompt), "ECANCELED")
}

// A non-blocking connect returns EINPROGRESS, then the socket is connected.
func TestNonblockingConnect(t *testing.T) {
	s := newSession(t, DefaultPolicy())
	_, addr := listener(t, s)
	fd := newSocket4(t, s)
	ok(t, s, wire.Call{Op: wire.OpFcntl, FD: fd, Option: "F_SETFL", Value: wire.O_NONBLOCK})
	r := call(t, s, wire.Call{Op: wire.OpConnect, FD: fd, Addr: addr})
	if r.Errno != "EINPROGRESS" && r.Failed() {
		t.Fatalf("non-blocking connect: got %+v; want EINPROGRESS (or at once connected)", r)
	}
	deadline := time.Now().Add(wait)
	for call(t, s, wire.Call{Op: wire.OpGetpeername, FD: fd}).Failed() {
		if time.Now().After(deadline) {
			t.Fatal("the non-blocking connect never completed")
		}
		time.Sleep(time.Millisecond)
	}
	// Linux: the first connect after the connection completed returns 0, as
	// it marks the socket connected; the next says EISCONN.
	if r := call(t, s, wire.Call{Op: wire.OpConnect, FD: fd, Addr: addr}); r.Failed() && r.Errno != "EISCONN" {
		t.Errorf("connect once the connection completed: got %+v; want 0 or EISCONN", r)
	}
	wantErrno(t, "connect again once connected", call(t, s, wire.Call{Op: wire.OpConnect, FD: fd, Addr: addr}), "EISCONN")
}

// epoll: the instance is a descriptor of the session; events name the
// program's descriptors and give back the program's data; a wait blocks,
// times out, and is cancelled on Stop.
func TestEpoll(t *testing.T) {
	s := newSession(t, DefaultPolicy())
	l, addr := listener(t, s)
	ep := ok(t, s, wire.Call{Op: wire.OpEpollCreate, Value: wire.EpollCloexec}).Ret
	if ep != l+1 {
		t.Errorf("epoll_create1: got descriptor %d; want the next free one, %d", ep, l+1)
	}
	ok(t, s, wire.Call{Op: wire.OpEpollCtl, FD: ep, Option: "EPOLL_CTL_ADD", Target: l, Value: 0x1, Tag: uint64(l) | 7<<32})
	wantErrno(t, "adding it twice", call(t, s, wire.Call{Op: wire.OpEpollCtl, FD: ep, Option: "EPOLL_CTL_ADD", Target: l, Value: 0x1}), "EEXIST")
	wantErrno(t, "watching a descriptor that is not open", call(t, s, wire.Call{Op: wire.OpEpollCtl, FD: ep, Option: "EPOLL_CTL_ADD", Target: 60, Value: 0x1}), "EBADF")
	wantErrno(t, "epoll_ctl on a socket", call(t, s, wire.Call{Op: wire.OpEpollCtl, FD: l, Option: "EPOLL_CTL_ADD", Target: ep, Value: 0x1}), "EINVAL")
	wantErrno(t, "epoll_wait on a socket", call(t, s, wire.Call{Op: wire.OpEpollWait, FD: l, Size: 8, Value: -1}), "EINVAL")

	// Nothing ready: a zero timeout returns at once, a short one after it.
	if r := ok(t, s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8}); r.Ret != 0 || len(r.Events) != 0 {
		t.Errorf("epoll_wait with nothing ready: got %+v; want 0", r)
	}
	start := time.Now()
	if r := ok(t, s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8, Value: 50}); r.Ret != 0 {
		t.Errorf("epoll_wait(50 ms) with nothing ready: got %+v; want 0", r)
	}
	if d := time.Since(start); d < 45*time.Millisecond || d > prompt {
		t.Errorf("epoll_wait(50 ms) returned after %v", d)
	}

	// A blocked wait wakes for a client.
	done := async(t, context.Background(), s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8, Value: -1})
	blocked(t, "epoll_wait with nothing ready", done)
	client := dial(t, addr)
	r := within(t, "epoll_wait when a client connects", done, prompt)
	want := []wire.EpollEvent{{FD: l, Events: 0x1, Tag: uint64(l) | 7<<32}}
	if r.Failed() || r.Ret != 1 || len(r.Events) != 1 || r.Events[0] != want[0] {
		t.Fatalf("epoll_wait: got %s; want %+v", wire.FormatResult(&wire.Call{Op: wire.OpEpollWait}, r), want)
	}
	if got, want := wire.FormatResult(&wire.Call{Op: wire.OpEpollWait}, r), "1 [{EPOLLIN, fd=3, pad=7}]"; got != want {
		t.Errorf("trace: got %s; want %s", got, want)
	}
	conn := ok(t, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	ok(t, s, wire.Call{Op: wire.OpEpollCtl, FD: ep, Option: "EPOLL_CTL_DEL", Target: l})
	ok(t, s, wire.Call{Op: wire.OpEpollCtl, FD: ep, Option: "EPOLL_CTL_ADD", Target: conn, Value: 0x1 | 0x2000, Tag: uint64(conn)})
	client.Write([]byte("x"))
	r = ok(t, s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8, Value: -1})
	if len(r.Events) != 1 || r.Events[0].FD != conn || r.Events[0].Events != 0x1 {
		t.Errorf("epoll_wait after the client wrote: got %+v; want EPOLLIN on %d", r.Events, conn)
	}
	// Level-triggered: still ready until read.
	if r := ok(t, s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8}); r.Ret != 1 {
		t.Errorf("epoll_wait again before the read: got %d events; want 1 (level-triggered)", r.Ret)
	}
	ok(t, s, wire.Call{Op: wire.OpRead, FD: conn, Size: 8})
	client.Close()
	r = ok(t, s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8, Value: -1})
	if len(r.Events) != 1 || r.Events[0].Events&0x2000 == 0 {
		t.Errorf("epoll_wait after the client closed: got %+v; want EPOLLRDHUP", r.Events)
	}

	// A blocked wait is cancelled by its context, and by the session's end.
	ok(t, s, wire.Call{Op: wire.OpEpollCtl, FD: ep, Option: "EPOLL_CTL_DEL", Target: conn})
	ctx, cancel := context.WithCancel(context.Background())
	done = async(t, ctx, s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8, Value: -1})
	blocked(t, "epoll_wait with nothing watched", done)
	cancel()
	wantErrno(t, "cancelled epoll_wait", within(t, "cancelled epoll_wait", done, prompt), "ECANCELED")
	done = async(t, context.Background(), s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 8, Value: 60_000})
	blocked(t, "epoll_wait(60 s)", done)
	s.Close()
	wantErrno(t, "epoll_wait when the session closes", within(t, "epoll_wait at Close", done, prompt), "ECANCELED")
}

// An epoll instance counts toward the cap on a session's descriptors, is
// closed like one, and is no row of the sockets table.
func TestEpollCap(t *testing.T) {
	p := DefaultPolicy()
	p.MaxSockets = 2
	s := newSession(t, p)
	fd := newSocket4(t, s)
	ep := ok(t, s, wire.Call{Op: wire.OpEpollCreate}).Ret
	r := call(t, s, wire.Call{Op: wire.OpEpollCreate})
	if r.Refused == nil || r.Refused.Rule != RuleMaxSockets {
		t.Errorf("a third descriptor: got %+v; want refused by %s", r, RuleMaxSockets)
	}
	if own := s.OwnSockets(); len(own) != 1 || own[0].FD != fd {
		t.Errorf("sockets table: got %+v; want only socket %d", own, fd)
	}
	ok(t, s, wire.Call{Op: wire.OpClose, FD: ep})
	wantErrno(t, "epoll_wait on a closed instance", call(t, s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 1}), "EBADF")
	ok(t, s, wire.Call{Op: wire.OpEpollCreate})
}

// UDP: datagrams keep their boundaries, recvfrom names the sender, sendto
// answers it; the policy holds sendto's destination to loopback, and an
// unbound socket may not send.
func TestUDP(t *testing.T) {
	s := newSession(t, DefaultPolicy())
	fd := ok(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM"}).Ret
	ok(t, s, wire.Call{Op: wire.OpBind, FD: fd, Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	addr := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: fd}).Addr
	peer, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	for _, d := range []string{"one", "", "three, longer"} {
		if _, err := peer.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	from := netip.MustParseAddrPort(peer.LocalAddr().String())
	for _, want := range []string{"one", "", "three, longer"} {
		r := ok(t, s, wire.Call{Op: wire.OpRecvfrom, FD: fd, Size: 64})
		if string(r.Data) != want || r.Ret != len(want) || r.Addr != from {
			t.Errorf("recvfrom: got %d %q from %v; want %q from %v", r.Ret, r.Data, r.Addr, want, from)
		}
	}
	// A datagram longer than the buffer is cut; MSG_TRUNC says its length.
	peer.Write([]byte("0123456789"))
	peer.Write([]byte("abcdefghij"))
	if r := ok(t, s, wire.Call{Op: wire.OpRecvfrom, FD: fd, Size: 4}); string(r.Data) != "0123" || r.Ret != 4 {
		t.Errorf("recvfrom into 4 bytes: got %d %q; want 4 \"0123\"", r.Ret, r.Data)
	}
	if r := ok(t, s, wire.Call{Op: wire.OpRecvfrom, FD: fd, Size: 4, Value: 0x20}); string(r.Data) != "abcd" || r.Ret != 10 {
		t.Errorf("recvfrom MSG_TRUNC into 4 bytes: got %d %q; want 10 \"abcd\"", r.Ret, r.Data)
	}
	// Nothing there: MSG_DONTWAIT says EAGAIN; a blocking recvfrom waits.
	wantErrno(t, "recvfrom MSG_DONTWAIT", call(t, s, wire.Call{Op: wire.OpRecvfrom, FD: fd, Size: 4, Value: 0x40}), "EAGAIN")
	done := async(t, context.Background(), s, wire.Call{Op: wire.OpRecvfrom, FD: fd, Size: 64})
	blocked(t, "recvfrom with nothing sent", done)
	peer.Write([]byte("late"))
	if r := within(t, "recvfrom", done, prompt); string(r.Data) != "late" {
		t.Errorf("recvfrom: got %+v; want \"late\"", r)
	}

	if r := ok(t, s, wire.Call{Op: wire.OpSendto, FD: fd, Data: []byte("pong"), Addr: from}); r.Ret != 4 {
		t.Errorf("sendto: got %d; want 4", r.Ret)
	}
	ok(t, s, wire.Call{Op: wire.OpSendto, FD: fd, Addr: from}) // an empty datagram
	buf := make([]byte, 64)
	peer.SetReadDeadline(time.Now().Add(wait))
	for _, want := range []string{"pong", ""} {
		n, err := peer.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("the peer read %q, %v; want %q", buf[:n], err, want)
		}
	}
	wantErrno(t, "sendto with no address, not connected", call(t, s, wire.Call{Op: wire.OpSendto, FD: fd, Data: []byte("x")}), "EDESTADDRREQ")
	big := make([]byte, 70000)
	wantErrno(t, "sendto a datagram over 64 KiB", call(t, s, wire.Call{Op: wire.OpSendto, FD: fd, Data: big, Addr: from}), "EMSGSIZE")

	for _, tc := range []struct {
		name string
		to   string
		rule string
	}{
		{"another machine", "192.0.2.1:9000", RuleLoopbackOnly},
		{"any address", "0.0.0.0:9000", RuleLoopbackOnly},
		{"a privileged port", "127.0.0.1:53", RulePorts},
	} {
		r := call(t, s, wire.Call{Op: wire.OpSendto, FD: fd, Data: []byte("x"), Addr: netip.MustParseAddrPort(tc.to)})
		if r.Refused == nil || r.Refused.Rule != tc.rule {
			t.Errorf("sendto %s: got %+v; want refused by %s", tc.name, r, tc.rule)
		}
	}
	unbound := ok(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM"}).Ret
	for range 2 { // refused again: what a socket remembers of its port is only ever that it has one
		r := call(t, s, wire.Call{Op: wire.OpSendto, FD: unbound, Data: []byte("x"), Addr: addr})
		if r.Refused == nil || r.Refused.Rule != RuleLoopbackOnly || r.Refused.Flag != "--allow-external" {
			t.Errorf("sendto from an unbound socket: got %+v; want refused by %s", r, RuleLoopbackOnly)
		}
	}
	// Connected, it is bound to loopback, and may send.
	ok(t, s, wire.Call{Op: wire.OpConnect, FD: unbound, Addr: addr})
	ok(t, s, wire.Call{Op: wire.OpSendto, FD: unbound, Data: []byte("via connect")})
	if r := ok(t, s, wire.Call{Op: wire.OpRecvfrom, FD: fd, Size: 64}); string(r.Data) != "via connect" {
		t.Errorf("recvfrom: got %q; want \"via connect\"", r.Data)
	}
	// With --allow-external, the unbound socket may send.
	p := DefaultPolicy()
	p.AllowExternal = true
	open := newSession(t, p)
	free := ok(t, open, wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM"}).Ret
	ok(t, open, wire.Call{Op: wire.OpSendto, FD: free, Data: []byte("x"), Addr: addr})
}

// Epoll watches UDP sockets too, and SOCK_DGRAM with IPPROTO_TCP is the
// kernel's refusal, not the bridge's.
func TestUDPWithEpoll(t *testing.T) {
	s := newSession(t, DefaultPolicy())
	wantErrno(t, "SOCK_DGRAM with IPPROTO_TCP", call(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM", Proto: wire.ProtoTCP}), "EPROTONOSUPPORT")
	fd := ok(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET6", Type: "SOCK_DGRAM", Proto: wire.ProtoUDP}).Ret
	ok(t, s, wire.Call{Op: wire.OpBind, FD: fd, Addr: netip.MustParseAddrPort("[::1]:0")})
	addr := ok(t, s, wire.Call{Op: wire.OpGetsockname, FD: fd}).Addr
	ep := ok(t, s, wire.Call{Op: wire.OpEpollCreate}).Ret
	ok(t, s, wire.Call{Op: wire.OpEpollCtl, FD: ep, Option: "EPOLL_CTL_ADD", Target: fd, Value: 0x1, Tag: uint64(fd)})
	done := async(t, context.Background(), s, wire.Call{Op: wire.OpEpollWait, FD: ep, Size: 4, Value: 5000})
	blocked(t, "epoll_wait", done)
	peer, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.Write([]byte("hello"))
	if r := within(t, "epoll_wait", done, prompt); r.Ret != 1 || r.Events[0].FD != fd {
		t.Errorf("epoll_wait: got %+v; want EPOLLIN on %d", r, fd)
	}
}

// IPV6_V6ONLY is set and read at IPPROTO_IPV6, and the kernel applies it.
func TestV6Only(t *testing.T) {
	s := newSession(t, DefaultPolicy())
	fd := ok(t, s, wire.Call{Op: wire.OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM"}).Ret
	for _, v := range []int{1, 0} {
		ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: fd, Level: "IPPROTO_IPV6", Option: "IPV6_V6ONLY", Value: v})
		if got := ok(t, s, wire.Call{Op: wire.OpGetsockopt, FD: fd, Level: "IPPROTO_IPV6", Option: "IPV6_V6ONLY"}).Ret; got != v {
			t.Errorf("IPV6_V6ONLY after setting %d: got %d", v, got)
		}
	}
	v4 := newSocket4(t, s)
	if r := call(t, s, wire.Call{Op: wire.OpSetsockopt, FD: v4, Level: "IPPROTO_IPV6", Option: "IPV6_V6ONLY", Value: 1}); !r.Failed() {
		t.Errorf("IPV6_V6ONLY on an IPv4 socket: got %+v; want the kernel's error", r)
	}
	// Only IPv6: an IPv4-mapped address is refused by the kernel.
	ok(t, s, wire.Call{Op: wire.OpSetsockopt, FD: fd, Level: "IPPROTO_IPV6", Option: "IPV6_V6ONLY", Value: 1})
	r := call(t, s, wire.Call{Op: wire.OpBind, FD: fd, Addr: netip.MustParseAddrPort("[::ffff:127.0.0.1]:0")})
	if !r.Failed() || r.Refused != nil {
		t.Errorf("bind of an IPv6-only socket to an IPv4-mapped address: got %+v; want the kernel's error", r)
	}
}
