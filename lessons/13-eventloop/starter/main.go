// Lesson 13: the reversing line server, many clients in one thread:
// non-blocking sockets and an event loop on epoll.
//
// The loop is here, but it serves a ready client the old way: it reads from
// it until that client leaves, and everybody else waits meanwhile. Make the
// sockets non-blocking, read once per event, and keep each client's
// unfinished line until its next event.
package main

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		fmt.Println("setsockopt:", err)
		return
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9013, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
		fmt.Println("listen:", err)
		return
	}
	// TODO: make the listener non-blocking (syscall.SetNonblock).
	ep, err := syscall.EpollCreate1(0)
	if err != nil {
		fmt.Println("epoll_create1:", err)
		return
	}
	defer syscall.Close(ep)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
		fmt.Println("epoll_ctl:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9013")

	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if err == syscall.EINTR {
			continue // a signal came first (natively, Go's runtime sends some): wait again
		}
		if err != nil {
			fmt.Println("epoll_wait:", err)
			return
		}
		for _, ev := range events[:n] {
			conn := int(ev.Fd)
			if conn == fd {
				conn, _, err := syscall.Accept(fd)
				if err != nil {
					continue
				}
				// TODO: make conn non-blocking, too.
				syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, conn, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(conn)})
				continue
			}
			serve(conn) // TODO: this holds the loop until the client leaves
		}
	}
}

// serve answers each line of one client reversed, until it leaves, then
// closes its socket — lesson 7's way, which keeps the loop from every other
// client meanwhile.
func serve(conn int) {
	defer syscall.Close(conn)
	buf := make([]byte, 1024)
	var pending []byte
	for {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSuffix(string(pending[:i]), "\r")
			pending = pending[i+1:]
			if writeAll(conn, []byte(reverse(line)+"\r\n")) != nil {
				return
			}
		}
	}
}

// writeAll writes all of b, however many calls it takes.
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

// reverse returns s backwards: "hello" → "olleh".
func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
