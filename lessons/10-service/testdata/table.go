// Wrong for lesson 10: a table of a few well-known services written into the
// program, in place of the services database.
//
// want: (the services database says
// native: fail
package main

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
)

var table = map[string]string{
	"ftp": "21", "ssh": "22", "telnet": "23", "smtp": "25",
	"http": "80", "https": "443", "pop3": "110", "imaps": "993",
}

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		fmt.Println("setsockopt:", err)
		return
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9010, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		serve(conn)
		syscall.Close(conn)
	}
}

func serve(conn int) {
	buf := make([]byte, 1024)
	var pending []byte
	for {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSpace(string(pending[:i]))
			pending = pending[i+1:]
			answer, ok := table[line]
			if !ok {
				answer = "unknown"
			}
			syscall.Write(conn, []byte(answer+"\r\n"))
		}
	}
}
