// Wrong for lesson 17: lesson 5's way — a TCP server on the port — which
// never hears a datagram: UDP's port 9017 is another port.
//
// want: syscall.SOCK_DGRAM
// native: fail
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
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9017, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			return
		}
		buf := make([]byte, 65536)
		for {
			n, err := syscall.Read(conn, buf)
			if err != nil || n == 0 {
				break
			}
			syscall.Write(conn, buf[:n])
		}
		syscall.Close(conn)
	}
}
