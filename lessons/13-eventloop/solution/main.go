// Lesson 13: the reversing line server, many clients in one thread:
// non-blocking sockets and an event loop on epoll.
package main

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
)

// client is what the loop keeps for one connection between events: the
// start of a line still on its way, and answers its socket had no room for.
type client struct {
	pending []byte
	out     []byte
	events  uint32 // what epoll watches for it now
}

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
	if err := syscall.SetNonblock(fd, true); err != nil {
		fmt.Println("set non-blocking:", err)
		return
	}
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

	clients := map[int]*client{}
	events := make([]syscall.EpollEvent, 64)
	buf := make([]byte, 1024)
	for {
		// The one place the loop waits: until a socket is ready.
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
				accept(ep, fd, clients)
				continue
			}
			c := clients[conn]
			if c == nil {
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 && !flush(ep, conn, c) {
				drop(conn, clients)
				continue
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && !serve(ep, conn, c, buf) {
				drop(conn, clients)
			}
		}
	}
}

// accept takes one connection off the queue, if there is still one, and
// watches it.
func accept(ep, fd int, clients map[int]*client) {
	conn, _, err := syscall.Accept(fd)
	if err == syscall.EAGAIN {
		return // another event took it already: nothing to do
	}
	if err != nil {
		fmt.Println("accept:", err)
		return
	}
	if err := syscall.SetNonblock(conn, true); err != nil {
		syscall.Close(conn)
		return
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, conn, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(conn)}); err != nil {
		syscall.Close(conn)
		return
	}
	clients[conn] = &client{events: syscall.EPOLLIN}
}

// serve reads what one client sent and queues the answers to its complete
// lines. It reports false when the client has gone.
func serve(ep, conn int, c *client, buf []byte) bool {
	n, err := syscall.Read(conn, buf)
	if err == syscall.EAGAIN {
		return true // nothing after all: wait for the next event
	}
	if err != nil || n == 0 {
		return false
	}
	c.pending = append(c.pending, buf[:n]...)
	for {
		i := bytes.IndexByte(c.pending, '\n')
		if i < 0 {
			break // the rest of the line is still on its way
		}
		line := strings.TrimSuffix(string(c.pending[:i]), "\r")
		c.pending = c.pending[i+1:]
		c.out = append(c.out, reverse(line)+"\r\n"...)
	}
	return flush(ep, conn, c)
}

// flush writes what it can of a client's answers without waiting, and has
// epoll watch for room (EPOLLOUT) only while some are left. It reports
// false when the client has gone.
func flush(ep, conn int, c *client) bool {
	for len(c.out) > 0 {
		n, err := syscall.Write(conn, c.out)
		if err == syscall.EAGAIN {
			break // the socket's buffer is full: the rest when epoll says there is room
		}
		if err != nil {
			return false
		}
		c.out = c.out[n:]
	}
	want := uint32(syscall.EPOLLIN)
	if len(c.out) > 0 {
		want |= syscall.EPOLLOUT
	}
	if want != c.events {
		c.events = want
		if syscall.EpollCtl(ep, syscall.EPOLL_CTL_MOD, conn, &syscall.EpollEvent{Events: want, Fd: int32(conn)}) != nil {
			return false
		}
	}
	return true
}

// drop closes a client's socket, which also takes it out of the epoll set.
func drop(conn int, clients map[int]*client) {
	syscall.Close(conn)
	delete(clients, conn)
}

// reverse returns s backwards: "hello" → "olleh".
func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
