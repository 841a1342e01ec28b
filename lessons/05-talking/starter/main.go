// Lesson 5: greet one client, answer each name it sends, and stop when it
// closes.
package main

import (
	"fmt"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9005, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9005")

	conn, _, err := syscall.Accept(fd)
	if err != nil {
		fmt.Println("accept:", err)
		return
	}
	defer syscall.Close(conn)
	if err := writeAll(conn, []byte("What is your name?\n")); err != nil {
		fmt.Println("write:", err)
		return
	}

	// TODO: read from conn in a loop. For each name, write "Hello, NAME!\n".
	// When Read returns 0, the client has closed: stop.
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
