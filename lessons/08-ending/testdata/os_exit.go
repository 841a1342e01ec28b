// Wrong for lesson 8: after "bye" it calls os.Exit, and leaves its sockets
// to the kernel. From outside it looks right — the exit closes everything —
// so only the trace can tell.
//
// want: the program ended with its listener open
// native: unverified: the program closed its listener itself
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
)

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9008, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
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
			line := strings.TrimSuffix(string(pending[:i]), "\r")
			pending = pending[i+1:]
			if line == "shutdown" {
				syscall.Write(conn, []byte("bye\r\n"))
				os.Exit(0) // wrong: nothing is closed by the program
			}
			syscall.Write(conn, []byte(reverse(line)+"\r\n"))
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
