// Wrong for lesson 9: it never restarts. One listener serves every client
// and a counter makes up the rounds, so no bind ever meets a lingering
// connection, and SO_REUSEADDR is never needed.
//
// want: the same listening socket
// native: fail
package main

import (
	"fmt"
	"strconv"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9009, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	for round := 1; ; round++ {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		syscall.Write(conn, []byte("round "+strconv.Itoa(round)+"\n"))
		syscall.Close(conn)
	}
}
