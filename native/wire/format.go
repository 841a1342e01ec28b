package wire

import (
	"fmt"
	"strconv"
)

// QuoteLimit is how many bytes of data a trace line shows before "...",
// as strace does.
const QuoteLimit = 32

// FormatCall writes a call the way strace does: `bind(3, 127.0.0.1:9000)`.
func FormatCall(c *Call) string {
	switch c.Op {
	case OpSocket:
		return fmt.Sprintf("socket(%s, %s, %d)", c.Family, c.Type, c.Proto)
	case OpSetsockopt:
		return fmt.Sprintf("setsockopt(%d, %s, %s, %d)", c.FD, c.Level, c.Option, c.Value)
	case OpGetsockopt:
		return fmt.Sprintf("getsockopt(%d, %s, %s)", c.FD, c.Level, c.Option)
	case OpBind, OpConnect:
		return fmt.Sprintf("%s(%d, %s)", c.Op, c.FD, c.Addr)
	case OpListen:
		return fmt.Sprintf("listen(%d, %d)", c.FD, c.Value)
	case OpRead:
		return fmt.Sprintf("read(%d, %d)", c.FD, c.Size)
	case OpWrite:
		return fmt.Sprintf("write(%d, %s)", c.FD, Quote(c.Data))
	case OpShutdown:
		return fmt.Sprintf("shutdown(%d, %s)", c.FD, c.How)
	case OpLookupPort:
		return fmt.Sprintf("lookupport(%q, %q)", c.Net, c.Name)
	default:
		return fmt.Sprintf("%s(%d)", c.Op, c.FD)
	}
}

// FormatResult writes what a call returned: `4 (peer 127.0.0.1:53122)`,
// `6 "hello\n"`, `-1 EADDRINUSE: another socket is already bound…`, or the
// policy's refusal.
func FormatResult(c *Call, r *Result) string {
	if r.Refused != nil {
		return "refused: " + r.Refused.Message + refusalHint(r.Refused)
	}
	if r.Errno != "" {
		s := "-1 " + r.Errno
		if e, ok := ErrnoByName(r.Errno); ok {
			s += ": " + e.Explain
		}
		return s
	}
	switch c.Op {
	case OpAccept:
		return fmt.Sprintf("%d (peer %s)", r.Ret, r.Addr)
	case OpRead:
		if r.Ret == 0 {
			return "0 (end of stream: the other side closed)"
		}
		return fmt.Sprintf("%d %s", r.Ret, Quote(r.Data))
	case OpGetsockname, OpGetpeername:
		return fmt.Sprintf("%d (%s)", r.Ret, r.Addr)
	default:
		return strconv.Itoa(r.Ret)
	}
}

// FormatLine is one whole trace line: call = result.
func FormatLine(c *Call, r *Result) string {
	return FormatCall(c) + " = " + FormatResult(c, r)
}

func refusalHint(r *Refusal) string {
	if r.Flag == "" {
		return " [policy " + r.Rule + "]"
	}
	return " [policy " + r.Rule + "; the bridge's " + r.Flag + " flag allows it]"
}

// Quote shows data as a Go string literal, escapes and all, cut at
// QuoteLimit bytes.
func Quote(data []byte) string {
	if len(data) <= QuoteLimit {
		return strconv.Quote(string(data))
	}
	return strconv.Quote(string(data[:QuoteLimit])) + "..."
}
