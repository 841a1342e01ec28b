// Wrong for lesson 7: it waits a moment before each read, so that a line
// typed in pieces has arrived whole, then splits what it read at each "\n"
// and answers every piece — the start of a line still on its way included.
// A pause on the server's side passed the pieces probe.
//
// want: the start of a line still on its way, as if it were a whole line
// native: fail
package main

import (
	"fmt"
	"strings"
	"syscall"
	"time"
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
	for {
		time.Sleep(400 * time.Millisecond) // let the line arrive whole
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if line != "" {
				syscall.Write(conn, []byte(reverse(line)+"\r\n"))
			}
		}
	}
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
