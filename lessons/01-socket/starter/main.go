// Lesson 1: create a socket, print its descriptor, close it.
package main

import (
	"fmt"
)

func main() {
	// TODO: create a TCP socket over IPv4 with syscall.Socket (add "syscall"
	// to the imports above), and print the descriptor it returns.
	fd := -1

	fmt.Println("the kernel gave me descriptor", fd)

	// TODO: give the descriptor back with syscall.Close.
}
