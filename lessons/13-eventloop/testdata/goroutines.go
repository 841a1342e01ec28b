// Wrong for lesson 13: lesson 11's server — a goroutine per client —, which
// answers everybody, but with one blocked read per client, each holding a
// thread natively. Only the trace shows the calls overlapping.
//
// want: two calls at once come from two goroutines
// native: unverified: one call at a time
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
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9013, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9013")

	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		go serve(conn) // each client in its own goroutine: nobody waits for another
	}
}

// serve answers each line of one client reversed, until it leaves, then
// closes its socket.
func serve(conn int) {
	defer syscall.Close(conn)
	buf := make([]byte, 1024)
	var pending []byte // read, but not yet a whole line
	for {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break // the rest of the line is still on its way
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
