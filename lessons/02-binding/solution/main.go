// Lesson 2: bind a socket to 127.0.0.1:9002, then show that a second socket
// cannot bind the same port.
package main

import (
	"fmt"
	"syscall"
)

func main() {
	addr := &syscall.SockaddrInet4{Port: 9002, Addr: [4]byte{127, 0, 0, 1}}

	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, addr); err != nil {
		fmt.Println("bind:", err)
		return
	}
	fmt.Println("descriptor", fd, "is bound to 127.0.0.1:9002")

	second, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(second)
	err = syscall.Bind(second, addr)
	if err == syscall.EADDRINUSE {
		fmt.Println("the second bind failed, as it should:", err)
	} else {
		fmt.Println("the second bind did not fail with EADDRINUSE:", err)
	}
}
