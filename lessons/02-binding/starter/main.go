// Lesson 2: bind a socket to 127.0.0.1:9002, then show that a second socket
// cannot bind the same port.
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

	// TODO: bind fd to 127.0.0.1:9002 with syscall.Bind and a *syscall.SockaddrInet4.

	// TODO: create a second socket, bind it to the same address, and print
	// the error: it should be syscall.EADDRINUSE.
}
