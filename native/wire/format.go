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
	b = append(b, c.Op...)
	b = append(b, '(')
	switch c.Op {
	case OpSocket:
		b = append(append(append(append(b, c.Family...), ", "...), c.Type...), ", "...)
		b = strconv.AppendInt(b, int64(c.Proto), 10)
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
	}
	return b
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
