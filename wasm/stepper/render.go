package stepper

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/sockstep/sockstep/native/wire"
)

// maxValue bounds how long a rendered value is.
const maxValue = 120

// Render shows a value as the variables view does: descriptors and other
// numbers as numbers, errors by errno name, []byte as quoted text with
// escapes, a Sockaddr as 127.0.0.1:53122.
func Render(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case syscall.Errno:
		if e, ok := wire.ErrnoByLinux(int(v)); ok {
			return e.Name
		}
		return "errno " + strconv.Itoa(int(v))
	case *syscall.SockaddrInet4:
		if v == nil {
			return "nil"
		}
		return netip.AddrPortFrom(netip.AddrFrom4(v.Addr), uint16(v.Port)).String()
	case *syscall.SockaddrInet6:
		if v == nil {
			return "nil"
		}
		return netip.AddrPortFrom(netip.AddrFrom16(v.Addr), uint16(v.Port)).String()
	case []byte:
		if v == nil {
			return "nil"
		}
		return fmt.Sprintf("%s (len %d)", wire.Quote(trimZeros(v)), len(v))
	case string:
		return cut(strconv.Quote(v))
	case error:
		var errno syscall.Errno
		if errors.As(v, &errno) {
			return Render(errno) + ": " + cut(v.Error())
		}
		return cut(v.Error())
	}
	return cut(fmt.Sprintf("%+v", v))
}

// trimZeros drops a buffer's unused zero tail (a fresh make([]byte, 1024)),
// which would only push the text off the view.
func trimZeros(b []byte) []byte {
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	return b[:end]
}

func cut(s string) string {
	if len(s) <= maxValue {
		return s
	}
	return s[:maxValue] + "…"
}
