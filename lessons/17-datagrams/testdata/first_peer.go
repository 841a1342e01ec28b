// Wrong for lesson 17: a UDP echo that connects its socket to its first
// client and then reads and writes as over TCP: the kernel delivers it the
// datagrams of that client only.
//
// want: the server answers only its first client
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

	buf := make([]byte, 65536)
	n, from, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		fmt.Println("recvfrom:", err)
		return
	}
	// From here on, the first client is the only one.
	if err := syscall.Connect(fd, from); err != nil {
		fmt.Println("connect:", err)
		return
	}
	for {
		if _, err := syscall.Write(fd, buf[:n]); err != nil {
			fmt.Println("write:", err)
		}
		if n, err = syscall.Read(fd, buf); err != nil {
			fmt.Println("read:", err)
			return
		}
	}
}
