// Lesson 15: the reversing line server of lesson 11, which shuts down
// gracefully on SIGTERM or SIGINT: it stops accepting, finishes the clients
// it has, closes its listener and ends with exit status 0.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
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

	// Ask for SIGTERM (Stop, kill, a service manager) and SIGINT (Ctrl-C)
	// on a channel, instead of being killed by them.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-stop
		fmt.Println("got", sig, "- no new clients; finishing the ones connected")
		// Stop listening: new clients are refused from now on, and the
		// accept blocked below returns (EINVAL). Closing the descriptor
		// would do neither while accept still uses it.
		syscall.Shutdown(fd, syscall.SHUT_RD)
	}()

	var clients sync.WaitGroup
	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			break // shut down (or failed): accept no more
		}
		clients.Add(1)
		go func() {
			defer clients.Done()
			serve(conn)
		}()
	}
	clients.Wait() // each client finishes its conversation
	syscall.Close(fd)
	fmt.Println("every client has left; goodbye")
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
