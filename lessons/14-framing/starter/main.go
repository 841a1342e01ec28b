// Lesson 14: a server of framed messages — a 4-byte length, then that many
// bytes —, each answered with its bytes reversed. This one believes that
// each read returns exactly one message.
package main

import (
	"fmt"
	"syscall"
)

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

// serve answers the messages of one client, then closes its socket.
// TODO: a read may return part of a message, or several: read exactly the
// 4 bytes of the length, then exactly that many bytes (write readFull, the
// reading twin of writeAll); refuse a length over 8 MiB (8 << 20); and let
// an error end this client only.
func serve(conn int) {
	defer syscall.Close(conn)
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		if n < 4 {
			continue // not even a length: wrong, as the check will show
		}
		size := int(buf[0])<<24 | int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
		end := 4 + size
		if end > n || end < 4 {
			end = n
		}
		msg := buf[4:end]
		answer := make([]byte, 4+len(msg))
		copy(answer, buf[:4])
		for i, b := range msg {
			answer[4+len(msg)-1-i] = b
		}
		if writeAll(conn, answer) != nil {
			return
		}
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
