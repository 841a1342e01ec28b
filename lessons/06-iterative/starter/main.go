// Lesson 6: serve clients one after another: greet each, answer each name it
// sends, and close its socket when it leaves.
package main

import (
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
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9006, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9006")

	// TODO: this serves one client and ends. Loop: accept the next client,
	// talk with it, close its socket, and go back to accept.
	conn, _, err := syscall.Accept(fd)
	if err != nil {
		fmt.Println("accept:", err)
		return
	}
	talk(conn)
}

// talk greets one client and answers each name it sends, until it closes.
func talk(conn int) {
	if writeAll(conn, []byte("What is your name?\n")) != nil {
		return
	}
	buf := make([]byte, 1024)
	for {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		name := strings.TrimRight(string(buf[:n]), "\r\n")
		if writeAll(conn, []byte("Hello, "+name+"!\n")) != nil {
			return
		}
	}
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
