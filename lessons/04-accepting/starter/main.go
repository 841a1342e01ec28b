// Lesson 4: accept clients one by one and tell each its own address.
package main

import (
	"fmt"
	"syscall"
	"time"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9004, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9004")

	for {
		// TODO: accept a client with syscall.Accept, write it the line
		// "you are A.B.C.D:PORT\n" with its address (use writeAll), and
		// close its socket.
		time.Sleep(time.Second)
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
