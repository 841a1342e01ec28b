package wire

import (
	"bytes"
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON for the two headers on every relayed call: the worker
// encodes a Call and decodes a Result per call, and encoding/json's
// reflection costs tens of microseconds a record in WebAssembly; the bridge
// decodes the Call, where encoding/json was a tenth of its CPU. The bytes
// are exactly encoding/json's (codec_test.go checks both ways); anything the
// fast decoders do not expect goes to encoding/json.

// appendCallRecord appends `{"call":{…}}` for c, as json.Marshal(Record{Call: c}).
func appendCallRecord(buf []byte, c *Call) []byte {
	buf = append(buf, `{"call":{"id":`...)
	buf = strconv.AppendUint(buf, c.ID, 10)
	buf = append(buf, `,"op":`...)
	buf = AppendJSONString(buf, string(c.Op))
	buf = appendIntField(buf, `,"fd":`, c.FD)
	buf = appendStringField(buf, `,"family":`, c.Family)
	buf = appendStringField(buf, `,"type":`, c.Type)
	buf = appendIntField(buf, `,"proto":`, c.Proto)
	if c.Addr != (netip.AddrPort{}) { // omitzero
		var text [64]byte
		addr, _ := c.Addr.AppendText(text[:0])
		buf = AppendJSONString(append(buf, `,"addr":`...), string(addr))
	}
	buf = appendStringField(buf, `,"level":`, c.Level)
	buf = appendStringField(buf, `,"option":`, c.Option)
	buf = appendIntField(buf, `,"value":`, c.Value)
	buf = appendIntField(buf, `,"size":`, c.Size)
	buf = appendStringField(buf, `,"how":`, c.How)
	buf = appendStringField(buf, `,"network":`, c.Net)
	buf = appendStringField(buf, `,"service":`, c.Name)
	if c.Client != 0 {
		buf = append(buf, `,"client":`...)
		buf = strconv.AppendUint(buf, c.Client, 10)
	}
	buf = appendIntField(buf, `,"target":`, c.Target)
	if c.Tag != 0 {
		buf = append(buf, `,"tag":`...)
		buf = strconv.AppendUint(buf, c.Tag, 10)
	}
	if c.AtExit {
		buf = append(buf, `,"atExit":true`...)
	}
	return append(buf, "}}"...)
}

func appendIntField(buf []byte, key string, v int) []byte {
	if v == 0 {
		return buf
	}
	return strconv.AppendInt(append(buf, key...), int64(v), 10)
}

func appendStringField(buf []byte, key, v string) []byte {
	if v == "" {
		return buf
	}
	return AppendJSONString(append(buf, key...), v)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as encoding/json writes a string: HTML's <, >
// and & escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped.
func AppendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// decodeResultFast decodes the header `{"result":{…}}` of a Result with
// only id, ret, addr and errno, as encoding/json would. ok is false for
// anything else (a refusal, whitespace, escapes, an unknown or repeated
// key), which the caller hands to encoding/json.
func decodeResultFast(h []byte) (res *Result, ok bool) {
	res = &Result{}
	ok = plainObject(h, `{"result":{`, func(key string, v []byte) (rest []byte, field int, ok bool) {
		switch key {
		case "id":
			res.ID, rest, ok = plainUint(v)
			return rest, 0, ok
		case "ret":
			res.Ret, rest, ok = plainInt(v)
			return rest, 1, ok
		case "addr":
			res.Addr, rest, ok = plainAddr(v)
			return rest, 2, ok
		case "errno":
			res.Errno, rest, ok = plainString(v)
			return rest, 3, ok
		}
		return nil, 0, false
	})
	return res, ok
}

// decodeCallFast decodes the header `{"call":{…}}` that appendCallRecord
// writes, as encoding/json would. ok is false for anything else (whitespace,
// escapes, null, an unknown or repeated key), which the caller hands to
// encoding/json.
func decodeCallFast(h []byte) (c *Call, ok bool) {
	c = &Call{}
	ok = plainObject(h, `{"call":{`, func(key string, v []byte) (rest []byte, field int, ok bool) {
		var str *string
		var num *int
		switch key {
		case "id":
			c.ID, rest, ok = plainUint(v)
			return rest, 0, ok
		case "op":
			var op string
			op, rest, ok = plainString(v)
			c.Op = Op(op)
			return rest, 1, ok
		case "fd":
			field, num = 2, &c.FD
		case "family":
			field, str = 3, &c.Family
		case "type":
			field, str = 4, &c.Type
		case "proto":
			field, num = 5, &c.Proto
		case "addr":
			c.Addr, rest, ok = plainAddr(v)
			return rest, 6, ok
		case "level":
			field, str = 7, &c.Level
		case "option":
			field, str = 8, &c.Option
		case "value":
			field, num = 9, &c.Value
		case "size":
			field, num = 10, &c.Size
		case "how":
			field, str = 11, &c.How
		case "network":
			field, str = 12, &c.Net
		case "service":
			field, str = 13, &c.Name
		case "client":
			c.Client, rest, ok = plainUint(v)
			return rest, 14, ok
		case "target":
			field, num = 16, &c.Target
		case "tag":
			c.Tag, rest, ok = plainUint(v)
			return rest, 17, ok
		case "atExit":
			switch {
			case bytes.HasPrefix(v, []byte("true")):
				c.AtExit = true
				return v[len("true"):], 15, true
			case bytes.HasPrefix(v, []byte("false")):
				return v[len("false"):], 15, true
			}
			return nil, 0, false
		default:
			return nil, 0, false
		}
		if str != nil {
			*str, rest, ok = plainString(v)
		} else {
			*num, rest, ok = plainInt(v)
		}
		return rest, field, ok
	})
	return c, ok
}

// plainObject walks the fields of h, which must be open, then `"key":value`
// pairs separated by commas, then "}}": what the hand-written encoders
// write, nothing else. field reads one value from v and says which field
// (0 to 17) it was, so a repeated key is refused as encoding/json would not
// silently take it.
func plainObject(h []byte, open string, field func(key string, v []byte) (rest []byte, n int, ok bool)) bool {
	if !bytes.HasPrefix(h, []byte(open)) || !bytes.HasSuffix(h, []byte("}}")) {
		return false
	}
	h = h[len(open) : len(h)-2]
	var seen [18]bool
	for first := true; len(h) > 0 || first; first = false {
		if !first {
			if h[0] != ',' {
				return false
			}
			h = h[1:]
		}
		key, rest, ok := plainString(h)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return false
		}
		var n int
		if h, n, ok = field(key, rest[1:]); !ok || seen[n] {
			return false
		}
		seen[n] = true
	}
	return true
}

// plainAddr reads an address as a plain string: "" is the zero address.
func plainAddr(b []byte) (netip.AddrPort, []byte, bool) {
	s, rest, ok := plainString(b)
	if !ok || s == "" {
		return netip.AddrPort{}, rest, ok
	}
	ap, err := netip.ParseAddrPort(s)
	return ap, rest, err == nil
}

// plainInt reads a JSON number that is an integer of at most 18 digits,
// without a leading zero, and not -0.
func plainInt(b []byte) (int, []byte, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	n, rest, ok := plainUint(b)
	if !ok || n > math.MaxInt || (neg && n == 0) {
		return 0, nil, false
	}
	if neg {
		return -int(n), rest, true
	}
	return int(n), rest, true
}

// plainString reads a JSON string of printable ASCII without escapes.
func plainString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return string(b[1:i]), b[i+1:], true
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			return "", nil, false
		}
	}
	return "", nil, false
}

// plainUint reads a JSON number that is a non-negative integer of at most
// 18 digits, without a leading zero.
func plainUint(b []byte) (uint64, []byte, bool) {
	i := 0
	var n uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + uint64(b[i]-'0')
		i++
	}
	if i == 0 || i > 18 || (i > 1 && b[0] == '0') {
		return 0, nil, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, nil, false
	}
	return n, b[i:], true
}
