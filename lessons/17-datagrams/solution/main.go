// Lesson 17: an echo server over UDP. No listen, no accept, no connection:
// one socket serves every client, and each datagram is answered, whole, to
// the address it came from.
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

	buf := make([]byte, 65536) // room for the largest datagram: what does not fit is lost
	for {
		n, from, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			fmt.Println("recvfrom:", err)
			return
		}
		// n == 0 is an empty datagram, not an end: there is no stream to end.
		if err := syscall.Sendto(fd, buf[:n], 0, from); err != nil {
			// One client we could not answer is no reason to stop serving the others.
			fmt.Println("sendto:", err)
		}
	}
}
