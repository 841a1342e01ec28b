// Lesson 12: a small HTTP server on 127.0.0.1:9012, one request per
// connection. Try: curl -i http://127.0.0.1:9012/echo/hello
package main

import (
	"bytes"
	"fmt"
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
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9012, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("serving http://127.0.0.1:9012/")

	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		// TODO: serve each client in its own goroutine.
		serve(conn)
	}
}

// maxRequest bounds the bytes read before the end of the headers.
const maxRequest = 8192

// serve reads one request, answers it, and closes the connection.
func serve(conn int) {
	defer syscall.Close(conn)
	var req []byte
	buf := make([]byte, 1024)
	for !bytes.Contains(req, []byte("\r\n\r\n")) {
		if len(req) > maxRequest {
			respond(conn, "431 Request Header Fields Too Large", "request too large\n")
			return
		}
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return // the client left before finishing its request
		}
		req = append(req, buf[:n]...)
	}
	head, _, _ := strings.Cut(string(req), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	parts := strings.Fields(lines[0]) // GET /path HTTP/1.1
	if len(parts) != 3 {
		respond(conn, "400 Bad Request", "bad request line\n")
		return
	}
	method, path := parts[0], parts[1]
	userAgent := ""
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "User-Agent") {
			userAgent = strings.TrimSpace(value)
		}
	}
	fmt.Println(method, path)
	if method != "GET" {
		respond(conn, "405 Method Not Allowed", "only GET\n")
		return
	}
	// TODO: answer "/user-agent" with the User-Agent header, "/echo/{s}"
	// with s, and any other path but "/" with 404 Not Found.
	status, body := "200 OK", "hello from sockstep\n"
	_ = userAgent
	respond(conn, status, body)
}

// respond writes a whole response, its length said in Content-Length.
func respond(conn int, status, body string) {
	head := "HTTP/1.1 " + status + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Connection: close\r\n\r\n"
	if err := writeAll(conn, []byte(head+body)); err != nil {
		fmt.Println("write:", err)
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
