// Lesson 1: create a socket, print its descriptor, close it.
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
	fmt.Println("the kernel gave me descriptor", fd)

	if err := syscall.Close(fd); err != nil {
		fmt.Println("close:", err)
	}
}
