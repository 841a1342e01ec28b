package wire

import (
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// QuoteLimit is how many bytes of data a trace line shows before "...",
// as strace does.
const QuoteLimit = 32

// FormatCall writes a call the way strace does: `bind(3, 127.0.0.1:9000)`.
func FormatCall(c *Call) string { return string(AppendCall(nil, c)) }

// AppendCall appends FormatCall's text to b. The engine formats every call
// it traces, so this path allocates nothing beyond b's growth.
func AppendCall(b []byte, c *Call) []byte {
	if c.Op == OpAccept && c.Value != 0 {
		b = strconv.AppendInt(append(b, "accept4("...), int64(c.FD), 10)
		return append(appendBits(append(b, ", "...), SockFlags, uint32(c.Value)), ')')
	}
	b = append(b, c.Op...)
	b = append(b, '(')
	switch c.Op {
	case OpSocket:
		b = append(append(append(b, c.Family...), ", "...), c.Type...)
		if c.Value != 0 {
			b = appendBits(append(b, '|'), SockFlags, uint32(c.Value))
		}
		b = strconv.AppendInt(append(b, ", "...), int64(c.Proto), 10)
	case OpFcntl:
		b = append(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), c.Option...)
		if c.Option == "F_SETFL" {
			b = appendFileFlags(append(b, ", "...), c.Value)
		}
	case OpEpollCreate:
		if c.Value&EpollCloexec != 0 {
			b = append(b, "EPOLL_CLOEXEC"...)
		} else {
			b = strconv.AppendInt(b, int64(c.Value), 10)
		}
	case OpEpollCtl:
		b = append(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), c.Option...)
		b = strconv.AppendInt(append(b, ", "...), int64(c.Target), 10)
		if c.Option != "EPOLL_CTL_DEL" {
			b = appendEpollEvent(append(b, ", "...), uint32(c.Value), c.Tag)
		}
	case OpEpollWait:
		b = strconv.AppendInt(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), int64(c.Size), 10)
		b = strconv.AppendInt(append(b, ", "...), int64(c.Value), 10)
	case OpRecvfrom:
		b = strconv.AppendInt(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), int64(c.Size), 10)
		b = appendBits(append(b, ", "...), MsgFlags, uint32(c.Value))
	case OpSendto:
		b = AppendQuote(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), c.Data)
		b = appendBits(append(b, ", "...), MsgFlags, uint32(c.Value))
		if c.Addr.IsValid() {
			b = appendAddr(append(b, ", "...), c.Addr)
		} else {
			b = append(b, ", NULL"...)
		}
	case OpSetsockopt, OpGetsockopt:
		b = strconv.AppendInt(b, int64(c.FD), 10)
		b = append(append(append(append(b, ", "...), c.Level...), ", "...), c.Option...)
		if c.Op == OpSetsockopt {
			b = strconv.AppendInt(append(b, ", "...), int64(c.Value), 10)
		}
	case OpBind, OpConnect:
		b = appendAddr(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), c.Addr)
	case OpListen:
		b = strconv.AppendInt(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), int64(c.Value), 10)
	case OpRead:
		b = strconv.AppendInt(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), int64(c.Size), 10)
	case OpWrite:
		b = AppendQuote(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), c.Data)
	case OpShutdown:
		b = append(append(strconv.AppendInt(b, int64(c.FD), 10), ", "...), c.How...)
	case OpLookupPort:
		b = strconv.AppendQuote(append(strconv.AppendQuote(b, c.Net), ", "...), c.Name)
	default:
		b = strconv.AppendInt(b, int64(c.FD), 10)
	}
	return append(b, ')')
}

// FormatResult writes what a call returned: `4 (peer 127.0.0.1:53122)`,
// `6 "hello\n"`, `-1 EADDRINUSE: another socket is already bound…`, or the
// policy's refusal.
func FormatResult(c *Call, r *Result) string { return string(AppendResult(nil, c, r)) }

// AppendResult appends FormatResult's text to b.
func AppendResult(b []byte, c *Call, r *Result) []byte {
	if r.Refused != nil {
		return append(append(append(b, "refused: "...), r.Refused.Message...), refusalHint(r.Refused)...)
	}
	if r.Errno != "" {
		b = append(append(b, "-1 "...), r.Errno...)
		if e, ok := ErrnoByName(r.Errno); ok {
			b = append(append(b, ": "...), e.Explain...)
		}
		return b
	}
	b = strconv.AppendInt(b, int64(r.Ret), 10)
	switch c.Op {
	case OpAccept:
		b = append(appendAddr(append(b, " (peer "...), r.Addr), ')')
	case OpRead:
		if r.Ret == 0 {
			return append(b, " (end of stream: the other side closed)"...)
		}
		b = AppendQuote(append(b, ' '), r.Data)
	case OpGetsockname, OpGetpeername:
		b = append(appendAddr(append(b, " ("...), r.Addr), ')')
	case OpRecvfrom:
		b = AppendQuote(append(b, ' '), r.Data)
		if r.Addr.IsValid() {
			b = append(appendAddr(append(b, " (from "...), r.Addr), ')')
		}
	case OpFcntl:
		if c.Option == "F_GETFL" {
			b = append(appendFileFlags(append(b, " ("...), r.Ret), ')')
		}
	case OpEpollWait:
		if r.Ret == 0 {
			return append(b, " (timed out: nothing ready)"...)
		}
		b = append(b, " ["...)
		for i, e := range r.Events {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendEpollEvent(b, e.Events, e.Tag)
		}
		b = append(b, ']')
	}
	return b
}

// appendBits appends the names of mask's bits, "|" between them, any bit
// without a name in hex; "0" for none.
func appendBits(b []byte, names []Name, mask uint32) []byte {
	if mask == 0 {
		return append(b, '0')
	}
	first := true
	for _, n := range names {
		if bit := uint32(n.Linux); mask&bit != 0 {
			if !first {
				b = append(b, '|')
			}
			b, first, mask = append(b, n.Name...), false, mask&^bit
		}
	}
	if mask != 0 {
		if !first {
			b = append(b, '|')
		}
		b = strconv.AppendUint(append(b, "0x"...), uint64(mask), 16)
	}
	return b
}

// fileFlags are the file status flags a trace names.
var fileFlags = []Name{{"O_RDWR", O_RDWR}, {"O_NONBLOCK", O_NONBLOCK}}

func appendFileFlags(b []byte, flags int) []byte {
	return appendBits(b, fileFlags, uint32(flags))
}

// appendEpollEvent appends an event as strace shows it, shortened:
// `{EPOLLIN, fd=4}`, with the program's data (Go's EpollEvent Fd, and Pad
// when it is not 0).
func appendEpollEvent(b []byte, events uint32, tag uint64) []byte {
	b = appendBits(append(b, '{'), EpollBits, events)
	b = strconv.AppendInt(append(b, ", fd="...), int64(int32(uint32(tag))), 10)
	if pad := int32(uint32(tag >> 32)); pad != 0 {
		b = strconv.AppendInt(append(b, ", pad="...), int64(pad), 10)
	}
	return append(b, '}')
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

// appendAddr appends a as fmt's %s would, "invalid AddrPort" included.
func appendAddr(b []byte, a netip.AddrPort) []byte {
	if !a.IsValid() {
		return append(b, a.String()...)
	}
	return a.AppendTo(b)
}

// Quote shows data as a Go string literal, escapes and all, cut at
// QuoteLimit bytes.
func Quote(data []byte) string { return string(AppendQuote(nil, data)) }

// AppendQuote appends Quote's text to b: what strconv.Quote makes of the
// first QuoteLimit bytes, then "..." if there were more.
func AppendQuote(b []byte, data []byte) []byte {
	cut := len(data) > QuoteLimit
	if cut {
		data = data[:QuoteLimit]
	}
	b = append(b, '"')
	for i := 0; i < len(data); {
		c := data[i]
		if c >= utf8.RuneSelf {
			// Rare in a trace: let strconv decide how to show the rune
			// (as itself when printable), and drop its quotes.
			_, w := utf8.DecodeRune(data[i:])
			n := len(b)
			b = strconv.AppendQuote(b, string(data[i:i+w]))
			b = append(b[:n], b[n+1:len(b)-1]...)
			i += w
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= ' ' && c != 0x7f:
			b = append(b, c)
		case c == '\a':
			b = append(b, `\a`...)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\v':
			b = append(b, `\v`...)
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
	}
	b = append(b, '"')
	if cut {
		b = append(b, "..."...)
	}
	return b
}
