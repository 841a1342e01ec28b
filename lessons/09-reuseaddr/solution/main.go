// Lesson 9: a server that restarts after every client. Each round it makes
// a fresh listener on 127.0.0.1:9009, serves one client, and closes both.
package main

import (
	"fmt"
	"strconv"
	"syscall"
)

func main() {
	for round := 1; ; round++ {
		if !serveOne(round) {
			return
		}
	}
}

// serveOne makes a listener, tells one client which round this is, and
// closes everything. It reports whether the round went well.
func serveOne(round int) bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return false
	}
	defer syscall.Close(fd)
	// Bind even while an old connection of this port lingers: it needs this
	// on the new socket, and — set here, on the listener — on the socket the
	// next round's leftover comes from.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		fmt.Println("setsockopt:", err)
		return false
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9009, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("round", round, "bind:", err)
		return false
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return false
	}
	fmt.Println("round", round, "listening on 127.0.0.1:9009")

	conn, _, err := syscall.Accept(fd)
	if err != nil {
		fmt.Println("accept:", err)
		return false
	}
	if err := writeAll(conn, []byte("round "+strconv.Itoa(round)+"\n")); err != nil {
		fmt.Println("write:", err)
	}
	syscall.Close(conn) // the server closes first: its end of the connection lingers (TIME_WAIT)
	return true
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
