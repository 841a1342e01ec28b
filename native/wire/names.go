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
var Types = []Name{{"SOCK_STREAM", 1}}

// ProtoTCP is IPPROTO_TCP, the one protocol a socket may name besides 0
// (the family's default for the type, which is TCP for SOCK_STREAM).
const ProtoTCP = 6

// Shutdowns are the ways to shut down a connection.
var Shutdowns = []Name{{"SHUT_RD", 0}, {"SHUT_WR", 1}, {"SHUT_RDWR", 2}}

// Levels are the option levels a session may use.
var Levels = []Name{{"SOL_SOCKET", 1}, {"IPPROTO_TCP", 6}}

// Options a session may set and get, by level.
var Options = map[string][]Name{
	"SOL_SOCKET": {
		{"SO_REUSEADDR", 2},
		{"SO_KEEPALIVE", 9},
		{"SO_SNDBUF", 7},
		{"SO_RCVBUF", 8},
		{"SO_REUSEPORT", 15},
	},
	"IPPROTO_TCP": {{"TCP_NODELAY", 1}},
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
	if len(c.Data) > 0 && c.Op != OpWrite && c.Op != OpClientSend {
		return fmt.Errorf("%s: only write and client-send carry data", c.Op)
	}
	switch c.Op {
	case OpSocket:
		if err := known(Families, "family", c.Family); err != nil {
			return err
		}
		if c.Proto != 0 && c.Proto != ProtoTCP {
			return fmt.Errorf("socket: protocol %d is not supported; use 0 or IPPROTO_TCP (%d)", c.Proto, ProtoTCP)
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
	case OpRead:
		if c.Size < 0 || c.Size > MaxData {
			return fmt.Errorf("read: size %d is outside 0…%d", c.Size, MaxData)
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
	case OpListen, OpAccept, OpClose, OpGetsockname, OpGetpeername:
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
