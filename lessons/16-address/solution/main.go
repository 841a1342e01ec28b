// Lesson 16: a server on both loopback addresses, 127.0.0.1 (IPv4) and ::1
// (IPv6), one listening socket each, which tells each client its address.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	v4, err := listen(syscall.AF_INET, &syscall.SockaddrInet4{Port: 9016, Addr: [4]byte{127, 0, 0, 1}})
	if err != nil {
		fmt.Println("IPv4:", err)
		return
	}
	defer syscall.Close(v4)
	v6, err := listen(syscall.AF_INET6, &syscall.SockaddrInet6{Port: 9016, Addr: [16]byte{15: 1}}) // ::1
	if err != nil {
		fmt.Println("IPv6:", err)
		return
	}
	defer syscall.Close(v6)
	fmt.Println("listening on 127.0.0.1:9016 and [::1]:9016")

	go serve(v4)
	serve(v6)
}

// listen makes a listening socket of family bound to addr. An IPv6 socket
// is made IPv6-only first: what it serves must not depend on the system's
// default (net.ipv6.bindv6only).
func listen(family int, addr syscall.Sockaddr) (int, error) {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if family == syscall.AF_INET6 {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1); err != nil {
			syscall.Close(fd)
			return -1, fmt.Errorf("setsockopt IPV6_V6ONLY: %w", err)
		}
	}
	if err := syscall.Bind(fd, addr); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	if err := syscall.Listen(fd, 5); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("listen: %w", err)
	}
	return fd, nil
}

// serve accepts clients on the listener fd for ever, and tells each its
// address.
func serve(fd int) {
	for {
		conn, peer, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		writeAll(conn, []byte("you are "+addrString(peer)+"\n"))
		syscall.Close(conn)
	}
}

// addrString writes an address as Go's net package does: 127.0.0.1:54321,
// or [::1]:54321 for IPv6, whose colons need the brackets.
func addrString(sa syscall.Sockaddr) string {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return fmt.Sprintf("%d.%d.%d.%d:%d", a.Addr[0], a.Addr[1], a.Addr[2], a.Addr[3], a.Port)
	case *syscall.SockaddrInet6:
		return "[" + ip6String(a.Addr) + "]:" + strconv.Itoa(a.Port)
	}
	return fmt.Sprint(sa)
}

// ip6String writes an IPv6 address as RFC 5952 says: eight groups of hex,
// the longest run of two or more zero groups written "::" — ::1, fe80::1 —,
// and an IPv4 address mapped into IPv6 as ::ffff:127.0.0.1.
func ip6String(a [16]byte) string {
	mapped := true
	for i := 0; i < 12; i++ {
		want := byte(0)
		if i >= 10 {
			want = 0xff
		}
		if a[i] != want {
			mapped = false
		}
	}
	if mapped {
		return fmt.Sprintf("::ffff:%d.%d.%d.%d", a[12], a[13], a[14], a[15])
	}
	var g [8]int
	for i := 0; i < 8; i++ {
		g[i] = int(a[2*i])<<8 | int(a[2*i+1])
	}
	start, length := -1, 1 // the longest run of zero groups, if 2 or more
	for i := 0; i < 8; {
		if g[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-i > length {
			start, length = i, j-i
		}
		i = j
	}
	var b strings.Builder
	for i := 0; i < 8; i++ {
		if i == start {
			b.WriteString("::")
			i += length - 1
			continue
		}
		if i > 0 && i != start+length {
			b.WriteByte(':')
		}
		b.WriteString(strconv.FormatInt(int64(g[i]), 16))
	}
	return b.String()
}

// writeAll writes all of b, however many calls it takes: Write may take
// fewer bytes than it was given (a short write).
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
