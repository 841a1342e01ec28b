// Wrong for lesson 5: it answers two names, then closes, whether or not the
// client has left. With exactly two names in the check it used to pass.
//
// want: after 2 names; the server should answer every line until the client leaves
// native: fail
package main

import (
	"fmt"
	"strings"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9005, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	conn, _, err := syscall.Accept(fd)
	if err != nil {
		fmt.Println("accept:", err)
		return
	}
	defer syscall.Close(conn)
	syscall.Write(conn, []byte("What is your name?\n"))
	buf := make([]byte, 1024)
	for i := 0; i < 2; i++ {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		name := strings.TrimRight(string(buf[:n]), "\r\n")
		syscall.Write(conn, []byte("Hello, "+name+"!\n"))
	}
}
