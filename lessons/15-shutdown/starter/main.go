// Lesson 15: the reversing line server of lesson 11, which should shut
// down gracefully on SIGTERM or SIGINT. As it is, either signal kills it
// wherever it is, its clients cut off in the middle.
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
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9015, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		syscall.Close(fd)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		syscall.Close(fd)
		return
	}
	fmt.Println("listening on 127.0.0.1:9015")

	// TODO: ask for SIGTERM and SIGINT on a channel (os/signal). When one
	// comes: stop accepting (syscall.Shutdown of the listener wakes the
	// accept below), let the clients connected finish (sync.WaitGroup),
	// close the listener, and return from main.
	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		go serve(conn)
	}
}

// serve answers each line of one client reversed, until it leaves, then
// closes its socket.
func serve(conn int) {
	defer syscall.Close(conn)
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
			if writeAll(conn, []byte(reverse(line)+"\r\n")) != nil {
				return
			}
		}
	}
}

// reverse returns s backwards: "hello" → "olleh".
func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
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
