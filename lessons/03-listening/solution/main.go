// Lesson 3: listen on 127.0.0.1:9003, and let clients queue up in the kernel.
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
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9003, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}

	fmt.Println("listening on 127.0.0.1:9003; try nc 127.0.0.1 9003")
	for {
		time.Sleep(time.Minute) // never accept: clients wait in the kernel's queue
	}
}
