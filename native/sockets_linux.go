package native

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native/wire"
)

// tcpStates names Linux's TCP states (include/net/tcp_states.h) as ss and
// the books do. TCP_NEW_SYN_RECV (12), a request not yet a full socket, is
// what a learner knows as SYN_RECV.
var tcpStates = map[int]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
	11: "CLOSING", 12: "SYN_RECV",
}

const stateListen = 10

// describe asks the kernel about one socket: TCP_INFO for the state (and, for
// a listener, the accept queue and its limit, as ss -lnt shows them: Linux
// keeps them in tcpi_unacked and tcpi_sacked), SIOCINQ and SIOCOUTQ for a
// connected socket's queues.
func describe(fd int) wire.SocketInfo {
	info := addresses(fd)
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return info
	}
	info.State = tcpStates[int(ti.State)]
	if ti.State == stateListen {
		info.Listening = true
		info.Queue, info.Backlog = intp(int(ti.Unacked)), intp(int(ti.Sacked))
		return info
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCINQ); err == nil {
		info.Queue = intp(n)
	}
	if n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err == nil {
		info.Unsent = intp(n)
	}
	return info
}

// established reports whether the TCP socket fd is ESTABLISHED (true when
// its state cannot be read: the caller then keeps waiting as before).
func established(fd int) bool {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	return err != nil || ti.State == 1
}

// procTables are the kernel's TCP socket tables, IPv4 and IPv6.
var procTables = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// userHz is the unit of /proc/net/tcp's timers (USER_HZ, 100 on every Linux
// architecture Go supports).
const userHz = 100

// leftovers asks the kernel for the sockets on ports that no descriptor
// owns: their inode is 0. These are the connections a close left behind
// (TIME_WAIT, FIN_WAIT2, LAST_ACK, …) and the ones still waiting in a
// listener's accept queue. It asks over netlink for those ports alone, and
// reads /proc's whole tables only where netlink is unavailable.
func leftovers(ports map[uint16]bool) ([]wire.SocketInfo, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	found, err := portSockets(ports, allStates)
	if errors.Is(err, errNoNetlink) {
		return leftoversProc(ports)
	}
	if err != nil {
		return nil, err
	}
	var out []wire.SocketInfo
	for _, e := range found {
		if e.inode != 0 {
			continue
		}
		info := wire.SocketInfo{Orphan: true, State: tcpStates[int(e.state)], Local: e.local, Peer: e.peer,
			Queue: intp(int(e.rqueue)), Unsent: intp(int(e.wqueue))}
		if e.timer == timerTimeWait {
			info.Timer = intp(int(e.expires))
		}
		out = append(out, info)
	}
	return out, nil
}

// listenersOn lists the host's TCP listeners on port, with their inodes.
func listenersOn(port uint16) ([]hostListener, error) {
	found, err := portSockets(map[uint16]bool{port: true}, listenState)
	if errors.Is(err, errNoNetlink) {
		return listenersProc(port)
	}
	var out []hostListener
	for _, e := range found {
		out = append(out, hostListener{local: e.local, inode: uint64(e.inode)})
	}
	return out, err
}

// listenersProc is listenersOn from /proc/net/tcp and tcp6.
func listenersProc(port uint16) ([]hostListener, error) {
	var out []hostListener
	for _, name := range procTables {
		data, err := os.ReadFile(name)
		if os.IsNotExist(err) && strings.HasSuffix(name, "6") {
			continue
		}
		if err != nil {
			return out, err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			local, err := procAddr(f[1])
			if err != nil || local.Port() != port {
				continue
			}
			inode, _ := strconv.ParseUint(f[9], 10, 64)
			out = append(out, hostListener{local: local, inode: inode})
		}
	}
	return out, nil
}

// leftoversProc is leftovers from /proc/net/tcp and tcp6, which list every
// TCP socket of the host as text.
func leftoversProc(ports map[uint16]bool) ([]wire.SocketInfo, error) {
	var out []wire.SocketInfo
	for _, name := range procTables {
		f, err := os.Open(name)
		if os.IsNotExist(err) && strings.HasSuffix(name, "6") {
			continue // a kernel without IPv6
		}
		if err != nil {
			return out, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 64<<10) // the kernel fills whole pages: fewer, larger reads
		found, err := parseProcTCP(sc, ports)
		f.Close()
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, found...)
	}
	return out, nil
}

// parseProcTCP picks the ownerless entries on ports out of one table in
// /proc/net/tcp's format:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
func parseProcTCP(sc *bufio.Scanner, ports map[uint16]bool) ([]wire.SocketInfo, error) {
	var out []wire.SocketInfo
	sc.Scan() // the header
	for sc.Scan() {
		if port, ok := procLocalPort(sc.Bytes()); ok && !ports[port] {
			continue // most lines: split only the ones on a watched port
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		local, err := procAddr(f[1])
		if err != nil {
			return out, err
		}
		if !ports[local.Port()] || f[9] != "0" {
			continue
		}
		peer, err := procAddr(f[2])
		if err != nil {
			return out, err
		}
		state, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return out, fmt.Errorf("state %q: %w", f[3], err)
		}
		info := wire.SocketInfo{Orphan: true, State: tcpStates[int(state)], Local: local, Peer: peer}
		if tx, rx, ok := strings.Cut(f[4], ":"); ok {
			if n, err := strconv.ParseUint(rx, 16, 32); err == nil {
				info.Queue = intp(int(n))
			}
			if n, err := strconv.ParseUint(tx, 16, 32); err == nil {
				info.Unsent = intp(int(n))
			}
		}
		if tr, when, ok := strings.Cut(f[5], ":"); ok && tr == "03" { // 3: the TIME_WAIT timer
			if n, err := strconv.ParseUint(when, 16, 32); err == nil {
				info.Timer = intp(int(n) * 1000 / userHz)
			}
		}
		out = append(out, info)
	}
	return out, sc.Err()
}

// procLocalPort reads the local port of a line of /proc/net/tcp without
// splitting the line: the hex digits after the first colon of its second
// field.
func procLocalPort(line []byte) (uint16, bool) {
	f := bytes.Fields(line[:min(len(line), 64)]) // sl, then local_address (at most 37 bytes)
	if len(f) < 2 {
		return 0, false
	}
	_, port, ok := bytes.Cut(f[1], []byte{':'})
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseUint(string(port), 16, 16)
	return uint16(p), err == nil
}

// procAddr decodes an address of /proc/net/tcp: the address as 32-bit words
// in hex, each in the host's byte order, then ":" and the port in hex.
func procAddr(s string) (netip.AddrPort, error) {
	addr, port, ok := strings.Cut(s, ":")
	p, err := strconv.ParseUint(port, 16, 16)
	if !ok || err != nil || (len(addr) != 8 && len(addr) != 32) {
		return netip.AddrPort{}, fmt.Errorf("address %q is not in /proc/net/tcp's format", s)
	}
	raw, err := hex.DecodeString(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i += 4 {
		b = binary.NativeEndian.AppendUint32(b, binary.BigEndian.Uint32(raw[i:i+4]))
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}
