// Lesson 4: accept clients one by one and tell each its own address.
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
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9004, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9004")

	for {
		conn, peer, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		who := "an unknown address"
		if p, ok := peer.(*syscall.SockaddrInet4); ok {
			who = fmt.Sprintf("%d.%d.%d.%d:%d", p.Addr[0], p.Addr[1], p.Addr[2], p.Addr[3], p.Port)
		}
		fmt.Println("accepted", who, "as descriptor", conn)
		if err := writeAll(conn, []byte("you are "+who+"\n")); err != nil {
			fmt.Println("write:", err)
		}
		syscall.Close(conn)
	}
}

// writeAll writes all of b, however many calls it takes: Write may take
// fewer bytes than it was given (a short write).
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
