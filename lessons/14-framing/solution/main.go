// Lesson 14: a server of framed messages — a 4-byte length, then that many
// bytes —, each answered with its bytes reversed, however the stream cuts
// them.
package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"
)

// maxMessage is the longest message the server accepts: a peer that
// announces more is not believed, and its connection is closed.
const maxMessage = 8 << 20 // 8 MiB

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9014, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9014")

	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		go serve(conn)
	}
}

// serve answers each message of one client until it leaves, then closes
// its socket. An error on the connection — the client reset it (read:
// ECONNRESET), or left while we wrote (write: EPIPE) — ends this client
// only: the server goes on serving the others.
func serve(conn int) {
	defer syscall.Close(conn)
	header := make([]byte, 4)
	for {
		if err := readFull(conn, header); err != nil {
			if err != io.EOF { // io.EOF: the client left between messages, as it should
				fmt.Printf("client %d: %v\n", conn, err)
			}
			return
		}
		n := int(header[0])<<24 | int(header[1])<<16 | int(header[2])<<8 | int(header[3])
		if n > maxMessage {
			fmt.Printf("client %d announced %d bytes, more than %d: closing\n", conn, n, maxMessage)
			return
		}
		msg := make([]byte, n)
		if err := readFull(conn, msg); err != nil {
			fmt.Printf("client %d, in the middle of a message: %v\n", conn, err)
			return
		}
		answer := make([]byte, 4+n)
		copy(answer, header) // the same length
		for i, b := range msg {
			answer[4+n-1-i] = b
		}
		if err := writeAll(conn, answer); err != nil {
			fmt.Printf("client %d: %v\n", conn, err)
			return
		}
	}
}

// errCut is a stream that ended in the middle of what readFull waited for.
var errCut = errors.New("the client left in the middle of a message")

// readFull reads exactly len(b) bytes, however many reads it takes. It
// returns io.EOF when the stream ended before the first byte, and errCut
// when it ended after some.
func readFull(fd int, b []byte) error {
	for got := 0; got < len(b); {
		n, err := syscall.Read(fd, b[got:])
		if err != nil {
			return err
		}
		if n == 0 {
			if got == 0 {
				return io.EOF
			}
			return errCut
		}
		got += n
	}
	return nil
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
