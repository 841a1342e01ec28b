package wire

import "fmt"

// A Name is a socket constant as the learner writes it, with its value on
// Linux: the learner's `syscall` in the browser uses Linux numbering, so the
// same file builds and behaves the same under `go run` on Linux.
type Name struct {
	Name  string
	Linux int
}

// Families a session may create sockets in.
var Families = []Name{{"AF_INET", 2}, {"AF_INET6", 10}}

// Types a session may create. Others are refused for now.
var Types = []Name{{"SOCK_STREAM", 1}, {"SOCK_DGRAM", 2}}

// ProtoTCP and ProtoUDP are the protocols a socket may name besides 0 (the
// family's default for the type: TCP for SOCK_STREAM, UDP for SOCK_DGRAM).
// The kernel refuses a protocol that does not fit the type.
const (
	ProtoTCP = 6
	ProtoUDP = 17
)

// Shutdowns are the ways to shut down a connection.
var Shutdowns = []Name{{"SHUT_RD", 0}, {"SHUT_WR", 1}, {"SHUT_RDWR", 2}}

// Levels are the option levels a session may use.
var Levels = []Name{{"SOL_SOCKET", 1}, {"IPPROTO_TCP", 6}, {"IPPROTO_IPV6", 41}}

// Options a session may set and get, by level.
var Options = map[string][]Name{
	"SOL_SOCKET": {
		{"SO_REUSEADDR", 2},
		{"SO_KEEPALIVE", 9},
		{"SO_SNDBUF", 7},
		{"SO_RCVBUF", 8},
		{"SO_REUSEPORT", 15},
	},
	"IPPROTO_TCP":  {{"TCP_NODELAY", 1}},
	"IPPROTO_IPV6": {{"IPV6_V6ONLY", 26}},
}

// SockFlags are the flags socket's type and accept4 may carry (Linux
// values): SOCK_NONBLOCK makes the new descriptor non-blocking at once;
// SOCK_CLOEXEC changes nothing here (every socket is close-on-exec).
var SockFlags = []Name{{"SOCK_NONBLOCK", 0x800}, {"SOCK_CLOEXEC", 0x80000}}

// FcntlCmds are the fcntl commands a session performs: a socket's file
// status flags, of which only O_NONBLOCK changes anything.
var FcntlCmds = []Name{{"F_GETFL", 3}, {"F_SETFL", 4}}

// File status flags (Linux values) that fcntl reports and sets.
const (
	O_RDWR     = 0x2
	O_NONBLOCK = 0x800
)

// EpollCtls are epoll_ctl's operations.
var EpollCtls = []Name{{"EPOLL_CTL_ADD", 1}, {"EPOLL_CTL_DEL", 2}, {"EPOLL_CTL_MOD", 3}}

// EpollBits are the event bits of epoll_ctl and epoll_wait, Linux values.
// Go's syscall has EPOLLET as the untyped -0x80000000; on the wire it is the
// bit 1<<31.
var EpollBits = []Name{
	{"EPOLLIN", 0x1}, {"EPOLLPRI", 0x2}, {"EPOLLOUT", 0x4}, {"EPOLLERR", 0x8}, {"EPOLLHUP", 0x10},
	{"EPOLLRDHUP", 0x2000}, {"EPOLLONESHOT", 0x40000000}, {"EPOLLET", 0x80000000},
}

// EpollCloexec is epoll_create1's one flag, EPOLL_CLOEXEC.
const EpollCloexec = 0x80000

// MaxEvents bounds the events one epoll_wait returns.
const MaxEvents = 1024

// MsgFlags are the flags recvfrom and sendto take, Linux values.
var MsgFlags = []Name{{"MSG_PEEK", 0x2}, {"MSG_TRUNC", 0x20}, {"MSG_DONTWAIT", 0x40}}

// Bits is the mask of names' values.
func Bits(names []Name) int {
	m := 0
	for _, n := range names {
		m |= n.Linux
	}
	return m
}

// NameOf returns the name with the given Linux value, or "" if none.
func NameOf(names []Name, linux int) string {
	for _, n := range names {
		if n.Linux == linux {
			return n.Name
		}
	}
	return ""
}

// ValueOf returns the Linux value of name, and whether it is one of names.
func ValueOf(names []Name, name string) (int, bool) {
	for _, n := range names {
		if n.Name == name {
			return n.Linux, true
		}
	}
	return 0, false
}

// Validate checks that a call is well formed: a known op, with the fields it
// needs, and known names. It says nothing of whether the policy allows it.
func (c *Call) Validate() error {
	known := func(names []Name, field, v string) error {
		if _, ok := ValueOf(names, v); !ok {
			return fmt.Errorf("%s: unknown %s %q", c.Op, field, v)
		}
		return nil
	}
	if c.FD < 0 {
		return fmt.Errorf("%s: negative descriptor %d", c.Op, c.FD)
	}
	if c.AtExit && c.Op != OpClose {
		return fmt.Errorf("%s: only close is made at exit", c.Op)
	}
	if len(c.Data) > 0 && c.Op != OpWrite && c.Op != OpSendto && c.Op != OpClientSend {
		return fmt.Errorf("%s: only write, sendto and client-send carry data", c.Op)
	}
	if (c.Target != 0 || c.Tag != 0) && c.Op != OpEpollCtl {
		return fmt.Errorf("%s: only epoll_ctl names a target", c.Op)
	}
	flags := func(names []Name, what string) error {
		if c.Value&^Bits(names) != 0 || c.Value < 0 {
			return fmt.Errorf("%s: unknown %s in %#x", c.Op, what, c.Value)
		}
		return nil
	}
	switch c.Op {
	case OpSocket:
		if err := known(Families, "family", c.Family); err != nil {
			return err
		}
		if err := flags(SockFlags, "flags"); err != nil {
			return err
		}
		if c.Proto != 0 && c.Proto != ProtoTCP && c.Proto != ProtoUDP {
			return fmt.Errorf("socket: protocol %d is not supported; use 0, IPPROTO_TCP (%d) or IPPROTO_UDP (%d)", c.Proto, ProtoTCP, ProtoUDP)
		}
		return known(Types, "type", c.Type)
	case OpSetsockopt, OpGetsockopt:
		if err := known(Levels, "level", c.Level); err != nil {
			return err
		}
		return known(Options[c.Level], "option", c.Option)
	case OpBind, OpConnect:
		if !c.Addr.IsValid() {
			return fmt.Errorf("%s: missing or invalid address", c.Op)
		}
	case OpRead, OpRecvfrom:
		if c.Size < 0 || c.Size > MaxData {
			return fmt.Errorf("%s: size %d is outside 0…%d", c.Op, c.Size, MaxData)
		}
		if c.Op == OpRecvfrom {
			return flags(MsgFlags, "flags")
		}
	case OpSendto:
		if len(c.Data) > MaxData {
			return fmt.Errorf("sendto: %d bytes is over the limit of %d", len(c.Data), MaxData)
		}
		return flags(MsgFlags, "flags")
	case OpFcntl:
		if err := known(FcntlCmds, "command", c.Option); err != nil {
			return err
		}
		if c.Value < 0 || c.Value > 0xffffffff {
			return fmt.Errorf("fcntl: flags %d out of range", c.Value)
		}
	case OpEpollCreate:
		if c.Value&^EpollCloexec != 0 {
			return fmt.Errorf("epoll_create1: unknown flags %#x", c.Value)
		}
	case OpEpollCtl:
		if err := known(EpollCtls, "operation", c.Option); err != nil {
			return err
		}
		if c.Target < 0 {
			return fmt.Errorf("epoll_ctl: negative descriptor %d", c.Target)
		}
		return flags(EpollBits, "events")
	case OpEpollWait:
		if c.Size < 1 || c.Size > MaxEvents {
			return fmt.Errorf("epoll_wait: room for %d events is outside 1…%d", c.Size, MaxEvents)
		}
	case OpShutdown:
		return known(Shutdowns, "how", c.How)
	case OpLookupPort:
		if c.Name == "" {
			return fmt.Errorf("lookupport: missing service name")
		}
		switch c.Net {
		case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		default:
			return fmt.Errorf("lookupport: unknown network %q", c.Net)
		}
	case OpWrite:
		if len(c.Data) > MaxData {
			return fmt.Errorf("write: %d bytes is over the limit of %d", len(c.Data), MaxData)
		}
	case OpAccept:
		return flags(SockFlags, "flags")
	case OpListen, OpClose, OpGetsockname, OpGetpeername:
	case OpClientOpen:
		if !c.Addr.IsValid() {
			return fmt.Errorf("%s: missing or invalid address", c.Op)
		}
	case OpClientSend, OpClientShutdown, OpClientClose:
		if c.Client == 0 {
			return fmt.Errorf("%s: missing client id", c.Op)
		}
		if len(c.Data) > MaxData {
			return fmt.Errorf("%s: %d bytes is over the limit of %d", c.Op, len(c.Data), MaxData)
		}
	default:
		return fmt.Errorf("unknown op %q", c.Op)
	}
	return nil
}
