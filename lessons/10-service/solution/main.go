// Lesson 10: a directory of services. Each line a client sends is a service
// name; the server answers with its port from the services database, as
// getservbyname does, or "unknown".
package main

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
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
	fmt.Println("listening on 127.0.0.1:9010")

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

// serve answers each service name one client sends, until it leaves.
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
			fmt.Printf("a client asks for %q\n", line)
			if writeAll(conn, []byte(portOf(line)+"\r\n")) != nil {
				return
			}
		}
	}
}

// portOf answers one line: the port of the service it names, or "unknown".
// net.LookupPort takes more than names — a number is its own answer, and
// natively "" gives 0 — so what is not a name is not looked up.
func portOf(name string) string {
	if _, err := strconv.Atoi(name); err == nil || name == "" {
		return "unknown"
	}
	port, err := net.LookupPort("tcp", name)
	if err != nil {
		return "unknown"
	}
	return strconv.Itoa(port)
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
