// Wrong for lesson 7: it answers the complete lines of each read and drops
// what follows the last "\n" — the start of a line that came with the line
// before it.
//
// want: the server lost
// native: fail
package main

import (
	"bytes"
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
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9007, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
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
		if bytes.IndexByte(pending, '\n') < 0 {
			continue // a line in pieces: wait for its end
		}
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSuffix(string(pending[:i]), "\r")
			pending = pending[i+1:]
			syscall.Write(conn, []byte(reverse(line)+"\r\n"))
		}
		pending = nil // wrong: the start of the next line is lost
	}
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
