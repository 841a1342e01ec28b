// Lesson 17: an echo server over UDP. No listen, no accept, no connection:
// one socket serves every client, and each datagram is answered, whole, to
// the address it came from.
//
// This one receives datagrams and shows them, but answers none: it reads
// with Read, which does not say who sent them. Use Recvfrom, and answer
// each datagram with Sendto.
package main

import (
	"fmt"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9017, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	fmt.Println("waiting for datagrams on 127.0.0.1:9017 (UDP)")

	buf := make([]byte, 65536)
	for {
		n, err := syscall.Read(fd, buf) // TODO: from whom? (syscall.Recvfrom)
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		fmt.Printf("a datagram of %d bytes: %q\n", n, buf[:n])
		// TODO: send it back (syscall.Sendto) to the address it came from.
	}
}
