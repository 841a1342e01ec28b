package exports

import (
	"errors"
	"fmt"
	"go/constant"
	"net/netip"
	"reflect"
	"syscall"

	"github.com/traefik/yaegi/interp"

	"github.com/sockstep/sockstep/native/wire"
)

// Perform makes one of the program's calls on the host and returns the answer.
// err is non-nil only when no answer came (the bridge is unreachable, or
// refused the record as malformed). The engine's traces the call; the
// stepper's pauses before it.
type Perform func(c *wire.Call) (*wire.Result, error)

// UnreachableError is what a socket call returns when its call never reached
// the bridge, or its answer never came back.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return "the bridge is unreachable: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// Syscall returns the learner's `syscall` package: Go's real types and errno
// values, Linux's socket constants, and socket functions with the signatures
// of Go's linux syscall package that perform each call through call.
func Syscall(call Perform) interp.Exports {
	s := sys{call}
	m := errnoSymbols()
	m["Errno"] = reflect.ValueOf((*syscall.Errno)(nil))
	m["Sockaddr"] = reflect.ValueOf((*syscall.Sockaddr)(nil))
	m["SockaddrInet4"] = reflect.ValueOf((*syscall.SockaddrInet4)(nil))
	m["SockaddrInet6"] = reflect.ValueOf((*syscall.SockaddrInet6)(nil))
	constants := [][]wire.Name{wire.Families, wire.Types, wire.SockFlags, wire.Levels, wire.Shutdowns,
		wire.FcntlCmds, wire.EpollCtls, wire.EpollBits, wire.MsgFlags}
	for _, opts := range wire.Options {
		constants = append(constants, opts)
	}
	for _, names := range constants {
		for _, n := range names {
			// Untyped, as in Go's syscall, so `uint16(syscall.AF_INET)` compiles.
			m[n.Name] = reflect.ValueOf(constant.MakeInt64(int64(n.Linux)))
		}
	}
	m["SOMAXCONN"] = reflect.ValueOf(constant.MakeInt64(somaxconn))
	for name, v := range linuxConstants { // after the lists: EPOLLET is Go's, not the wire's
		m[name] = reflect.ValueOf(constant.MakeInt64(v))
	}
	m["EpollEvent"] = reflect.ValueOf((*EpollEvent)(nil))
	// The signals a server is asked to end with (os/signal); typed, as in
	// Go's syscall, so they are os.Signal values.
	m["Signal"] = reflect.ValueOf((*syscall.Signal)(nil))
	for name, sig := range map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "SIGTERM": syscall.SIGTERM, "SIGQUIT": syscall.SIGQUIT, "SIGKILL": syscall.SIGKILL} {
		m[name] = reflect.ValueOf(sig)
	}
	for name, f := range map[string]any{
		"Socket":        s.Socket,
		"SetsockoptInt": s.SetsockoptInt,
		"GetsockoptInt": s.GetsockoptInt,
		"Bind":          s.Bind,
		"Listen":        s.Listen,
		"Accept":        s.Accept,
		"Accept4":       s.Accept4,
		"Connect":       s.Connect,
		"Read":          s.Read,
		"Write":         s.Write,
		"Close":         s.Close,
		"Shutdown":      s.Shutdown,
		"Getsockname":   s.Getsockname,
		"Getpeername":   s.Getpeername,
		"SetNonblock":   s.SetNonblock,
		"EpollCreate":   s.EpollCreate,
		"EpollCreate1":  s.EpollCreate1,
		"EpollCtl":      s.EpollCtl,
		"EpollWait":     s.EpollWait,
		"Recvfrom":      s.Recvfrom,
		"Sendto":        s.Sendto,
	} {
		m[name] = reflect.ValueOf(f)
	}
	return interp.Exports{"syscall/syscall": m}
}

// somaxconn is Linux's SOMAXCONN as Go's linux syscall has it.
const somaxconn = 128

// protoDefault is the protocol number that lets the family pick one for
// the type; wire.ProtoTCP and wire.ProtoUDP are the others a socket accepts.
const protoDefault = 0

type sys struct{ call Perform }

// do performs c and turns a failed answer into the error Go's syscall would
// return: a syscall.Errno, or the bridge's *wire.Refusal.
func (s sys) do(c *wire.Call) (*wire.Result, error) {
	res, err := s.call(c)
	if err != nil {
		return nil, transportError(err)
	}
	if res.Refused != nil {
		return res, res.Refused
	}
	if res.Errno != "" {
		e, ok := wire.ErrnoByName(res.Errno)
		if !ok {
			return res, fmt.Errorf("the bridge answered with an unknown error %q", res.Errno)
		}
		return res, syscall.Errno(e.Linux)
	}
	return res, nil
}

func transportError(err error) error {
	var p *wire.Problem
	if errors.As(err, &p) {
		return p
	}
	return &UnreachableError{err}
}

func (s sys) Socket(domain, typ, proto int) (fd int, err error) {
	family := wire.NameOf(wire.Families, domain)
	if family == "" {
		return -1, syscall.Errno(errnoLinux("EAFNOSUPPORT"))
	}
	flags := typ & wire.Bits(wire.SockFlags)
	kind := wire.NameOf(wire.Types, typ&^flags)
	if kind == "" {
		return -1, syscall.Errno(errnoLinux("ESOCKTNOSUPPORT"))
	}
	if proto != protoDefault && proto != wire.ProtoTCP && proto != wire.ProtoUDP {
		return -1, syscall.Errno(errnoLinux("EPROTONOSUPPORT"))
	}
	res, err := s.do(&wire.Call{Op: wire.OpSocket, Family: family, Type: kind, Proto: proto, Value: flags})
	if err != nil {
		return -1, err
	}
	return res.Ret, nil
}

// option names level and opt, or gives the error Linux gives for an option
// it does not know.
func option(level, opt int) (string, string, error) {
	l := wire.NameOf(wire.Levels, level)
	o := wire.NameOf(wire.Options[l], opt)
	if l == "" || o == "" {
		return "", "", syscall.Errno(errnoLinux("ENOPROTOOPT"))
	}
	return l, o, nil
}

func (s sys) SetsockoptInt(fd, level, opt, value int) error {
	if fd < 0 {
		return syscall.Errno(errnoLinux("EBADF"))
	}
	l, o, err := option(level, opt)
	if err != nil {
		return err
	}
	_, err = s.do(&wire.Call{Op: wire.OpSetsockopt, FD: fd, Level: l, Option: o, Value: value})
	return err
}

func (s sys) GetsockoptInt(fd, level, opt int) (value int, err error) {
	if fd < 0 {
		return 0, syscall.Errno(errnoLinux("EBADF"))
	}
	l, o, err := option(level, opt)
	if err != nil {
		return 0, err
	}
	res, err := s.do(&wire.Call{Op: wire.OpGetsockopt, FD: fd, Level: l, Option: o})
	if err != nil {
		return 0, err
	}
	return res.Ret, nil
}

func (s sys) Bind(fd int, sa syscall.Sockaddr) error    { return s.withAddr(wire.OpBind, fd, sa) }
func (s sys) Connect(fd int, sa syscall.Sockaddr) error { return s.withAddr(wire.OpConnect, fd, sa) }

func (s sys) withAddr(op wire.Op, fd int, sa syscall.Sockaddr) error {
	if fd < 0 {
		return syscall.Errno(errnoLinux("EBADF"))
	}
	addr, err := addrOf(sa)
	if err != nil {
		return err
	}
	_, err = s.do(&wire.Call{Op: op, FD: fd, Addr: addr})
	return err
}

func (s sys) Listen(fd, backlog int) error {
	return s.simple(&wire.Call{Op: wire.OpListen, FD: fd, Value: backlog})
}

func (s sys) Close(fd int) error { return s.simple(&wire.Call{Op: wire.OpClose, FD: fd}) }

func (s sys) Shutdown(fd, how int) error {
	h := wire.NameOf(wire.Shutdowns, how)
	if h == "" {
		return syscall.Errno(errnoLinux("EINVAL"))
	}
	return s.simple(&wire.Call{Op: wire.OpShutdown, FD: fd, How: h})
}

func (s sys) simple(c *wire.Call) error {
	if c.FD < 0 {
		return syscall.Errno(errnoLinux("EBADF"))
	}
	_, err := s.do(c)
	return err
}

func (s sys) Accept(fd int) (nfd int, sa syscall.Sockaddr, err error) { return s.Accept4(fd, 0) }

// Accept4 is accept with SOCK_NONBLOCK (the new socket does not wait) and
// SOCK_CLOEXEC (always so here).
func (s sys) Accept4(fd int, flags int) (nfd int, sa syscall.Sockaddr, err error) {
	if fd < 0 {
		return -1, nil, syscall.Errno(errnoLinux("EBADF"))
	}
	if flags&^wire.Bits(wire.SockFlags) != 0 {
		return -1, nil, syscall.Errno(errnoLinux("EINVAL"))
	}
	res, err := s.do(&wire.Call{Op: wire.OpAccept, FD: fd, Value: flags})
	if err != nil {
		return -1, nil, err
	}
	return res.Ret, sockaddrOf(res.Addr), nil
}

func (s sys) Getsockname(fd int) (syscall.Sockaddr, error) { return s.name(wire.OpGetsockname, fd) }
func (s sys) Getpeername(fd int) (syscall.Sockaddr, error) { return s.name(wire.OpGetpeername, fd) }

func (s sys) name(op wire.Op, fd int) (syscall.Sockaddr, error) {
	if fd < 0 {
		return nil, syscall.Errno(errnoLinux("EBADF"))
	}
	res, err := s.do(&wire.Call{Op: op, FD: fd})
	if err != nil {
		return nil, err
	}
	return sockaddrOf(res.Addr), nil
}

// Read reads at most wire.MaxData bytes, as a read of a socket may return
// fewer bytes than asked for.
func (s sys) Read(fd int, p []byte) (n int, err error) {
	if fd < 0 {
		return -1, syscall.Errno(errnoLinux("EBADF"))
	}
	size := min(len(p), wire.MaxData)
	res, err := s.do(&wire.Call{Op: wire.OpRead, FD: fd, Size: size, Into: p[:size]})
	if err != nil {
		return -1, err
	}
	data := res.Data[:min(res.Ret, len(res.Data))]
	if len(data) > 0 && &data[0] == &p[0] {
		return len(data), nil // read in place (a runner)
	}
	return copy(p, data), nil
}

// Write sends p in calls of at most wire.MaxData bytes until all of it is
// written, as a blocking write does. If a later call fails, it returns what
// was written before; the next Write meets the error.
func (s sys) Write(fd int, p []byte) (n int, err error) {
	if fd < 0 {
		return -1, syscall.Errno(errnoLinux("EBADF"))
	}
	for {
		chunk := p[n:min(len(p), n+wire.MaxData)]
		res, err := s.do(&wire.Call{Op: wire.OpWrite, FD: fd, Data: chunk})
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return -1, err
		}
		n += res.Ret
		if n >= len(p) || res.Ret < len(chunk) {
			return n, nil
		}
	}
}

// addrOf is the address of a Sockaddr, or the error Go's linux syscall gives.
func addrOf(sa syscall.Sockaddr) (netip.AddrPort, error) {
	port := func(p int) (uint16, error) {
		if p < 0 || p > 0xffff {
			return 0, syscall.Errno(errnoLinux("EINVAL"))
		}
		return uint16(p), nil
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		p, err := port(sa.Port)
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), p), err
	case *syscall.SockaddrInet6:
		p, err := port(sa.Port)
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), p), err
	case nil:
		return netip.AddrPort{}, syscall.Errno(errnoLinux("EINVAL"))
	default:
		return netip.AddrPort{}, syscall.Errno(errnoLinux("EAFNOSUPPORT"))
	}
}

// sockaddrOf is what Linux returns for addr: an IPv4-mapped peer of an IPv6
// socket stays an IPv6 address, as the kernel reports it.
func sockaddrOf(addr netip.AddrPort) syscall.Sockaddr {
	if !addr.IsValid() {
		return nil
	}
	if a := addr.Addr(); a.Is4() {
		return &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: a.As4()}
	}
	return &syscall.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
}

// errnoLinux is the Linux number of an errno in wire's table, which holds
// every name used here.
func errnoLinux(name string) int {
	e, ok := wire.ErrnoByName(name)
	if !ok {
		panic("errno " + name + " missing from wire.Errnos")
	}
	return e.Linux
}
