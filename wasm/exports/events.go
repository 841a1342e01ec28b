package exports

import (
	"syscall"

	"github.com/sockstep/sockstep/native/wire"
)

// The event loop's calls and UDP's, with the names and signatures of Go's
// linux syscall package (GOARCH amd64), so the same file runs under `go run`.

// linuxConstants are Go's linux syscall constants for these calls that the
// wire's name lists (exported beside them) do not hold, untyped as there.
// EPOLLET is -0x80000000 in Go's syscall, as here (overriding the wire's bit
// 1<<31): it does not fit EpollEvent.Events without a conversion, natively
// or not.
var linuxConstants = map[string]int64{
	"IPPROTO_UDP":   wire.ProtoUDP,
	"O_NONBLOCK":    wire.O_NONBLOCK,
	"O_RDWR":        wire.O_RDWR,
	"EPOLL_CLOEXEC": wire.EpollCloexec,
	"EPOLLET":       -0x80000000,
}

// EpollEvent is Go's syscall.EpollEvent on linux/amd64: the events, and the
// program's data (epoll_data), which the kernel gives back as it was.
// Programs keep the descriptor in Fd.
type EpollEvent struct {
	Events uint32
	Fd     int32
	Pad    int32
}

// SetNonblock is Go's: F_GETFL, then F_SETFL only if the flag changes.
func (s sys) SetNonblock(fd int, nonblocking bool) error {
	if fd < 0 {
		return syscall.Errno(errnoLinux("EBADF"))
	}
	res, err := s.do(&wire.Call{Op: wire.OpFcntl, FD: fd, Option: "F_GETFL"})
	if err != nil {
		return err
	}
	flags := res.Ret
	if (flags&wire.O_NONBLOCK != 0) == nonblocking {
		return nil
	}
	if nonblocking {
		flags |= wire.O_NONBLOCK
	} else {
		flags &^= wire.O_NONBLOCK
	}
	_, err = s.do(&wire.Call{Op: wire.OpFcntl, FD: fd, Option: "F_SETFL", Value: flags})
	return err
}

// EpollCreate is epoll_create: size is only checked, as Linux does.
func (s sys) EpollCreate(size int) (fd int, err error) {
	if size <= 0 {
		return -1, syscall.Errno(errnoLinux("EINVAL"))
	}
	return s.EpollCreate1(0)
}

func (s sys) EpollCreate1(flag int) (fd int, err error) {
	if flag&^wire.EpollCloexec != 0 {
		return -1, syscall.Errno(errnoLinux("EINVAL"))
	}
	res, err := s.do(&wire.Call{Op: wire.OpEpollCreate, Value: flag})
	if err != nil {
		return -1, err
	}
	return res.Ret, nil
}

// EpollCtl passes the event's data (Fd and Pad) on as the kernel keeps it.
// Linux ignores the event of EPOLL_CTL_DEL, and so does this.
func (s sys) EpollCtl(epfd int, op int, fd int, event *EpollEvent) error {
	if epfd < 0 || fd < 0 {
		return syscall.Errno(errnoLinux("EBADF"))
	}
	name := wire.NameOf(wire.EpollCtls, op)
	if name == "" {
		return syscall.Errno(errnoLinux("EINVAL"))
	}
	c := &wire.Call{Op: wire.OpEpollCtl, FD: epfd, Option: name, Target: fd}
	if name != "EPOLL_CTL_DEL" {
		if event == nil {
			return syscall.Errno(errnoLinux("EFAULT"))
		}
		c.Value = int(event.Events) & wire.Bits(wire.EpollBits)
		c.Tag = uint64(uint32(event.Fd)) | uint64(uint32(event.Pad))<<32
	}
	_, err := s.do(c)
	return err
}

// EpollWait fills events with at most len(events) ready events (at most
// wire.MaxEvents), waiting at most msec milliseconds (-1: without end).
func (s sys) EpollWait(epfd int, events []EpollEvent, msec int) (n int, err error) {
	if epfd < 0 {
		return -1, syscall.Errno(errnoLinux("EBADF"))
	}
	if len(events) == 0 {
		return -1, syscall.Errno(errnoLinux("EINVAL"))
	}
	res, err := s.do(&wire.Call{Op: wire.OpEpollWait, FD: epfd, Size: min(len(events), wire.MaxEvents), Value: msec})
	if err != nil {
		return -1, err
	}
	for i, e := range res.Events[:min(len(res.Events), len(events))] {
		events[i] = EpollEvent{Events: e.Events, Fd: int32(uint32(e.Tag)), Pad: int32(uint32(e.Tag >> 32))}
	}
	return min(res.Ret, len(events)), nil
}

// msgFlags is flags, or EINVAL for a flag the bridge does not pass on.
func msgFlags(flags int) (int, error) {
	if flags&^wire.Bits(wire.MsgFlags) != 0 || flags < 0 {
		return 0, syscall.Errno(errnoLinux("EINVAL"))
	}
	return flags, nil
}

// Recvfrom reads one datagram into p, and who sent it (nil on a connected
// stream socket).
func (s sys) Recvfrom(fd int, p []byte, flags int) (n int, from syscall.Sockaddr, err error) {
	if fd < 0 {
		return -1, nil, syscall.Errno(errnoLinux("EBADF"))
	}
	if flags, err = msgFlags(flags); err != nil {
		return -1, nil, err
	}
	size := min(len(p), wire.MaxData)
	res, err := s.do(&wire.Call{Op: wire.OpRecvfrom, FD: fd, Size: size, Value: flags, Into: p[:size]})
	if err != nil {
		return -1, nil, err
	}
	data := res.Data[:min(res.Ret, len(res.Data))]
	if len(data) == 0 || &data[0] != &p[0] {
		copy(p, data)
	}
	return res.Ret, sockaddrOf(res.Addr), nil
}

// Sendto sends p as one datagram to to, or to the connected peer when to is
// nil. Like Go's, it does not say how many bytes went: a datagram goes
// whole or fails.
func (s sys) Sendto(fd int, p []byte, flags int, to syscall.Sockaddr) error {
	if fd < 0 {
		return syscall.Errno(errnoLinux("EBADF"))
	}
	flags, err := msgFlags(flags)
	if err != nil {
		return err
	}
	if len(p) > wire.MaxData {
		return syscall.Errno(errnoLinux("EMSGSIZE"))
	}
	c := &wire.Call{Op: wire.OpSendto, FD: fd, Data: p, Value: flags}
	if to != nil {
		if c.Addr, err = addrOf(to); err != nil {
			return err
		}
	}
	_, err = s.do(c)
	return err
}
