// Wrong for lesson 17: a UDP echo that takes recvfrom's 0 for an end of
// stream, as a TCP server does, and stops.
//
// want: not the end of a stream
// native: fail
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
		if n == 0 {
			return // the client has finished
		}
		if err := syscall.Sendto(fd, buf[:n], 0, from); err != nil {
			// One client we could not answer is no reason to stop serving the others.
			fmt.Println("sendto:", err)
		}
	}
}
