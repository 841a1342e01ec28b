package wire

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	lo := netip.MustParseAddrPort("127.0.0.1:9000")
	tests := []struct {
		name string
		call Call
		want string // a part of the error; "" for a valid call
	}{
		{"socket", Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}, ""},
		{"socket tcp", Call{Op: OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM", Proto: 6}, ""},
		{"socket udp proto", Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM", Proto: 17}, ""},
		{"socket icmp proto", Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM", Proto: 1}, "protocol 1"},
		{"socket unix", Call{Op: OpSocket, Family: "AF_UNIX", Type: "SOCK_STREAM"}, "unknown family"},
		{"socket dgram", Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM"}, ""},
		{"socket raw", Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_RAW"}, "unknown type"},
		{"setsockopt v6only", Call{Op: OpSetsockopt, FD: 3, Level: "IPPROTO_IPV6", Option: "IPV6_V6ONLY", Value: 1}, ""},
		{"fcntl", Call{Op: OpFcntl, FD: 3, Option: "F_SETFL", Value: O_RDWR | O_NONBLOCK}, ""},
		{"fcntl unknown", Call{Op: OpFcntl, FD: 3, Option: "F_DUPFD"}, "unknown command"},
		{"epoll_create1", Call{Op: OpEpollCreate, Value: EpollCloexec}, ""},
		{"epoll_create1 flags", Call{Op: OpEpollCreate, Value: 1}, "unknown flags"},
		{"epoll_ctl", Call{Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_ADD", Target: 4, Value: 0x80000001, Tag: 4}, ""},
		{"epoll_ctl unknown op", Call{Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_SWAP", Target: 4}, "unknown operation"},
		{"epoll_ctl unknown event", Call{Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_ADD", Target: 4, Value: 0x100000}, "unknown events"},
		{"epoll_ctl negative target", Call{Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_DEL", Target: -1}, "negative"},
		{"target elsewhere", Call{Op: OpClose, FD: 5, Target: 4}, "only epoll_ctl"},
		{"epoll_wait", Call{Op: OpEpollWait, FD: 5, Size: 64, Value: -1}, ""},
		{"epoll_wait no room", Call{Op: OpEpollWait, FD: 5}, "room for 0 events"},
		{"epoll_wait too much room", Call{Op: OpEpollWait, FD: 5, Size: MaxEvents + 1}, "room for"},
		{"recvfrom", Call{Op: OpRecvfrom, FD: 3, Size: 65536, Value: 0x2}, ""},
		{"recvfrom unknown flag", Call{Op: OpRecvfrom, FD: 3, Size: 1, Value: 0x100}, "unknown flags"},
		{"recvfrom too much", Call{Op: OpRecvfrom, FD: 3, Size: MaxData + 1}, "size"},
		{"sendto", Call{Op: OpSendto, FD: 3, Data: []byte("x"), Addr: lo}, ""},
		{"sendto connected", Call{Op: OpSendto, FD: 3, Data: []byte("x")}, ""},
		{"sendto too much", Call{Op: OpSendto, FD: 3, Data: make([]byte, MaxData+1)}, "over the limit"},
		{"setsockopt", Call{Op: OpSetsockopt, FD: 3, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1}, ""},
		{"setsockopt wrong level", Call{Op: OpSetsockopt, FD: 3, Level: "IPPROTO_TCP", Option: "SO_REUSEADDR"}, "unknown option"},
		{"getsockopt unknown level", Call{Op: OpGetsockopt, FD: 3, Level: "SOL_IP", Option: "IP_TTL"}, "unknown level"},
		{"bind", Call{Op: OpBind, FD: 3, Addr: lo}, ""},
		{"bind no address", Call{Op: OpBind, FD: 3}, "address"},
		{"connect no address", Call{Op: OpConnect, FD: 3}, "address"},
		{"negative fd", Call{Op: OpClose, FD: -1}, "negative"},
		{"read", Call{Op: OpRead, FD: 4, Size: 1024}, ""},
		{"read too much", Call{Op: OpRead, FD: 4, Size: MaxData + 1}, "size"},
		{"read negative", Call{Op: OpRead, FD: 4, Size: -1}, "size"},
		{"read with data", Call{Op: OpRead, FD: 4, Size: 1, Data: []byte("x")}, "only write"},
		{"write", Call{Op: OpWrite, FD: 4, Data: []byte("x")}, ""},
		{"write too much", Call{Op: OpWrite, FD: 4, Data: make([]byte, MaxData+1)}, "over the limit"},
		{"shutdown", Call{Op: OpShutdown, FD: 4, How: "SHUT_WR"}, ""},
		{"shutdown unknown", Call{Op: OpShutdown, FD: 4, How: "SHUT_UP"}, "unknown how"},
		{"lookupport", Call{Op: OpLookupPort, Net: "tcp", Name: "http"}, ""},
		{"lookupport no name", Call{Op: OpLookupPort, Net: "tcp"}, "missing service"},
		{"lookupport bad network", Call{Op: OpLookupPort, Net: "ip", Name: "http"}, "unknown network"},
		{"listen", Call{Op: OpListen, FD: 3, Value: 5}, ""},
		{"accept", Call{Op: OpAccept, FD: 3}, ""},
		{"accept4", Call{Op: OpAccept, FD: 3, Value: 0x800}, ""},
		{"accept4 unknown flag", Call{Op: OpAccept, FD: 3, Value: 0x1}, "unknown flags"},
		{"socket nonblock", Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_STREAM", Value: 0x80800}, ""},
		{"socket unknown flag", Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_STREAM", Value: 0x4}, "unknown flags"},
		{"client-open", Call{Op: OpClientOpen, Addr: lo}, ""},
		{"client-open no address", Call{Op: OpClientOpen}, "address"},
		{"client-send", Call{Op: OpClientSend, Client: 1, Data: []byte("x\r\n")}, ""},
		{"client-send no client", Call{Op: OpClientSend, Data: []byte("x")}, "missing client"},
		{"client-send too much", Call{Op: OpClientSend, Client: 1, Data: make([]byte, MaxData+1)}, "over the limit"},
		{"client-close with data", Call{Op: OpClientClose, Client: 1, Data: []byte("x")}, "only write"},
		{"client-shutdown", Call{Op: OpClientShutdown, Client: 1}, ""},
		{"unknown op", Call{Op: "fork"}, "unknown op"},
		{"no op", Call{}, "unknown op"},
	}
	for _, tt := range tests {
		err := tt.call.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: got %v; want no error", tt.name, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s: got no error; want one containing %q", tt.name, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: got %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestFormatLine(t *testing.T) {
	tests := []struct {
		call   Call
		result Result
		want   string
	}{
		{Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}, Result{Ret: 3},
			`socket(AF_INET, SOCK_STREAM, 0) = 3`},
		{Call{Op: OpBind, FD: 3, Addr: netip.MustParseAddrPort("127.0.0.1:9000")}, Result{Ret: -1, Errno: "EADDRINUSE"},
			`bind(3, 127.0.0.1:9000) = -1 EADDRINUSE: another socket is already bound to this address and port`},
		{Call{Op: OpRead, FD: 4, Size: 1024}, Result{Ret: 6, Data: []byte("hello\n")},
			`read(4, 1024) = 6 "hello\n"`},
		{Call{Op: OpAccept, FD: 3}, Result{Ret: 4, Addr: netip.MustParseAddrPort("127.0.0.1:53122")},
			`accept(3) = 4 (peer 127.0.0.1:53122)`},
		{Call{Op: OpRead, FD: 4, Size: 1024}, Result{},
			`read(4, 1024) = 0 (end of stream: the other side closed)`},
		{Call{Op: OpWrite, FD: 4, Data: []byte(strings.Repeat("a", 40))}, Result{Ret: 40},
			`write(4, "` + strings.Repeat("a", QuoteLimit) + `"...) = 40`},
		{Call{Op: OpSetsockopt, FD: 3, Level: "SOL_SOCKET", Option: "SO_REUSEADDR", Value: 1}, Result{},
			`setsockopt(3, SOL_SOCKET, SO_REUSEADDR, 1) = 0`},
		{Call{Op: OpShutdown, FD: 4, How: "SHUT_WR"}, Result{},
			`shutdown(4, SHUT_WR) = 0`},
		{Call{Op: OpGetsockname, FD: 3}, Result{Addr: netip.MustParseAddrPort("127.0.0.1:9000")},
			`getsockname(3) = 0 (127.0.0.1:9000)`},
		{Call{Op: OpGetsockopt, FD: 3, Level: "SOL_SOCKET", Option: "SO_ERROR"}, Result{},
			`getsockopt(3, SOL_SOCKET, SO_ERROR) = 0`},
		{Call{Op: OpListen, FD: 3, Value: 5}, Result{}, `listen(3, 5) = 0`},
		{Call{Op: OpClose, FD: 7}, Result{Ret: -1, Errno: "EBADF"}, `close(7) = -1 EBADF: ` + mustErrno("EBADF")},
		{Call{Op: OpConnect, FD: 3, Addr: netip.MustParseAddrPort("[::1]:80")}, Result{Ret: -1, Errno: "EWHATEVER"},
			`connect(3, [::1]:80) = -1 EWHATEVER`},
		{Call{Op: OpBind, FD: 3}, Result{}, `bind(3, invalid AddrPort) = 0`},
		{Call{Op: OpLookupPort, Net: "tcp", Name: "http"}, Result{Ret: 80},
			`lookupport("tcp", "http") = 80`},
		{Call{Op: OpSocket, Family: "AF_INET", Type: "SOCK_DGRAM", Value: 0x80800}, Result{Ret: 3},
			`socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0) = 3`},
		{Call{Op: OpAccept, FD: 3, Value: 0x800}, Result{Ret: 4, Addr: netip.MustParseAddrPort("127.0.0.1:53122")},
			`accept4(3, SOCK_NONBLOCK) = 4 (peer 127.0.0.1:53122)`},
		{Call{Op: OpFcntl, FD: 4, Option: "F_GETFL"}, Result{Ret: O_RDWR},
			`fcntl(4, F_GETFL) = 2 (O_RDWR)`},
		{Call{Op: OpFcntl, FD: 4, Option: "F_SETFL", Value: O_RDWR | O_NONBLOCK | 0x8000}, Result{},
			`fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK|0x8000) = 0`},
		{Call{Op: OpEpollCreate, Value: EpollCloexec}, Result{Ret: 5}, `epoll_create1(EPOLL_CLOEXEC) = 5`},
		{Call{Op: OpEpollCreate}, Result{Ret: 5}, `epoll_create1(0) = 5`},
		{Call{Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_ADD", Target: 4, Value: 0x80000001, Tag: 4}, Result{},
			`epoll_ctl(5, EPOLL_CTL_ADD, 4, {EPOLLIN|EPOLLET, fd=4}) = 0`},
		{Call{Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_DEL", Target: 4}, Result{}, `epoll_ctl(5, EPOLL_CTL_DEL, 4) = 0`},
		{Call{Op: OpEpollWait, FD: 5, Size: 64, Value: -1}, Result{Ret: 2, Events: []EpollEvent{{FD: 3, Events: 1, Tag: 3}, {FD: 4, Events: 0x2011, Tag: 4 | 9<<32}}},
			`epoll_wait(5, 64, -1) = 2 [{EPOLLIN, fd=3}, {EPOLLIN|EPOLLHUP|EPOLLRDHUP, fd=4, pad=9}]`},
		{Call{Op: OpEpollWait, FD: 5, Size: 64, Value: 100}, Result{}, `epoll_wait(5, 64, 100) = 0 (timed out: nothing ready)`},
		{Call{Op: OpRecvfrom, FD: 3, Size: 65536}, Result{Ret: 0, Addr: netip.MustParseAddrPort("127.0.0.1:40000")},
			`recvfrom(3, 65536, 0) = 0 "" (from 127.0.0.1:40000)`},
		{Call{Op: OpRecvfrom, FD: 3, Size: 65536, Value: 0x42}, Result{Ret: 4, Data: []byte("ping"), Addr: netip.MustParseAddrPort("[::1]:40000")},
			`recvfrom(3, 65536, MSG_PEEK|MSG_DONTWAIT) = 4 "ping" (from [::1]:40000)`},
		{Call{Op: OpSendto, FD: 3, Data: []byte("pong"), Addr: netip.MustParseAddrPort("127.0.0.1:40000")}, Result{Ret: 4},
			`sendto(3, "pong", 0, 127.0.0.1:40000) = 4`},
		{Call{Op: OpSendto, FD: 3, Data: []byte("pong")}, Result{Ret: -1, Errno: "EDESTADDRREQ"},
			`sendto(3, "pong", 0, NULL) = -1 EDESTADDRREQ: ` + mustErrno("EDESTADDRREQ")},
		{Call{Op: OpBind, FD: 3, Addr: netip.MustParseAddrPort("0.0.0.0:9000")},
			Result{Refused: &Refusal{Rule: "loopback-only", Message: "use 127.0.0.1", Flag: "--allow-external"}},
			`bind(3, 0.0.0.0:9000) = refused: use 127.0.0.1 [policy loopback-only; the bridge's --allow-external flag allows it]`},
	}
	for _, tt := range tests {
		if got := FormatLine(&tt.call, &tt.result); got != tt.want {
			t.Errorf("%s: got %s; want %s", tt.call.Op, got, tt.want)
		}
	}
}

func TestErrnoTable(t *testing.T) {
	names := map[string]bool{}
	numbers := map[int]bool{}
	for _, e := range Errnos {
		if names[e.Name] || numbers[e.Linux] {
			t.Errorf("%s (%d): got a duplicate; want each name and number once", e.Name, e.Linux)
		}
		names[e.Name], numbers[e.Linux] = true, true
		if !strings.HasPrefix(e.Name, "E") || e.Explain == "" || e.Linux <= 0 {
			t.Errorf("%s: got %+v; want a name, a Linux number and an explanation", e.Name, e)
		}
		if got, ok := ErrnoByLinux(e.Linux); !ok || got.Name != e.Name {
			t.Errorf("ErrnoByLinux(%d): got %v; want %s", e.Linux, got.Name, e.Name)
		}
	}
	if _, ok := ErrnoByName("ENOTANERROR"); ok {
		t.Errorf("ErrnoByName(ENOTANERROR): got an entry; want none")
	}
}

// TestQuoteIsStrconvQuote: Quote escapes by hand on the trace's hot path;
// it must show every input exactly as strconv.Quote does.
func TestQuoteIsStrconvQuote(t *testing.T) {
	inputs := [][]byte{nil, []byte("hello\n"), []byte("tab\tq\"b\\s\x00\x7f\xff"), []byte("héllo, 世界 \u2028 \ufffd"),
		[]byte(strings.Repeat("é", 20)), {0xe2, 0x82}, []byte("\a\b\f\r\v")}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(2*QuoteLimit))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		want := strconv.Quote(string(in))
		if len(in) > QuoteLimit {
			want = strconv.Quote(string(in[:QuoteLimit])) + "..."
		}
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q): got %s; want %s", in, got, want)
		}
	}
}

func mustErrno(name string) string {
	e, ok := ErrnoByName(name)
	if !ok {
		panic(name)
	}
	return e.Explain
}
