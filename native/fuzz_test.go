package native

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// FuzzDo gives a session whatever calls a frame decodes to: it must never
// panic, and must answer each with a result carrying the call's id, or an
// error for a malformed call.
func FuzzDo(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		records, _ := wire.DecodeFrame(frame)
		s := NewSession(DefaultPolicy())
		defer s.Close()
		for _, rec := range records {
			if rec.Call == nil {
				continue
			}
			c := rec.Call
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			r, err := s.Do(ctx, c)
			cancel()
			if err != nil {
				continue
			}
			if r == nil || r.ID != c.ID {
				t.Fatalf("%s: got %+v; want a result with id %d", wire.FormatCall(c), r, c.ID)
			}
			if r.Errno != "" {
				if _, ok := wire.ErrnoByName(r.Errno); !ok {
					t.Fatalf("%s: got errno %q; want a name in wire.Errnos", wire.FormatCall(c), r.Errno)
				}
			}
			if r.Errno != "" && r.Refused != nil {
				t.Fatalf("%s: got both errno %q and refusal %v; want one", wire.FormatCall(c), r.Errno, r.Refused)
			}
		}
	})
}

func TestErrnoNames(t *testing.T) {
	for e := unix.Errno(1); e < 256; e++ {
		name := errnoName(e)
		if _, ok := wire.ErrnoByName(name); !ok {
			t.Errorf("errno %d: got %q; want a name in wire.Errnos", int(e), name)
		}
	}
	// Errnos socket calls return, by their names.
	hostErrnos := map[string]unix.Errno{
		"EBADF": unix.EBADF, "EAGAIN": unix.EAGAIN, "EINVAL": unix.EINVAL, "EPIPE": unix.EPIPE,
		"EADDRINUSE": unix.EADDRINUSE, "EADDRNOTAVAIL": unix.EADDRNOTAVAIL, "ECONNREFUSED": unix.ECONNREFUSED,
		"ECONNRESET": unix.ECONNRESET, "ENOTCONN": unix.ENOTCONN, "EISCONN": unix.EISCONN,
		"EAFNOSUPPORT": unix.EAFNOSUPPORT, "EOPNOTSUPP": unix.EOPNOTSUPP, "ECANCELED": unix.ECANCELED,
		"EINPROGRESS": unix.EINPROGRESS, "EALREADY": unix.EALREADY, "ETIMEDOUT": unix.ETIMEDOUT,
		"ENOENT": unix.ENOENT, "EACCES": unix.EACCES, "EMFILE": unix.EMFILE, "ENOBUFS": unix.ENOBUFS,
		"ESHUTDOWN": unix.ESHUTDOWN, "ENETUNREACH": unix.ENETUNREACH, "EHOSTUNREACH": unix.EHOSTUNREACH,
		"ECONNABORTED": unix.ECONNABORTED, "ENOPROTOOPT": unix.ENOPROTOOPT, "EPROTONOSUPPORT": unix.EPROTONOSUPPORT,
	}
	for _, e := range wire.Errnos {
		host, ok := hostErrnos[e.Name]
		if !ok {
			continue
		}
		if got := errnoName(host); got != e.Name {
			t.Errorf("%s: got %s; want %s", e.Name, got, e.Name)
		}
	}
	if got := errnoName(context.Canceled); got != "EIO" {
		t.Errorf("a non-errno error: got %s; want EIO", got)
	}
}
