// An echo server: it sends back every byte a client sends it.
// Try it: press Run, then type `nc 127.0.0.1 9000` in a terminal.
package main

import (
	"fmt"
	"syscall"
)

func main() {
	// 1. Create a socket: an endpoint for TCP over IPv4.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	defer syscall.Close(fd)

	// Let a restarted server bind while old connections linger in TIME_WAIT.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		fmt.Println("setsockopt:", err)
		return
	}

	// 2. Bind it to an address and port, so clients know where to find it.
	addr := &syscall.SockaddrInet4{Port: 9000, Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(fd, addr); err != nil {
		fmt.Println("bind:", err)
		return
	}

	// 3. Listen: the kernel now queues connecting clients, up to 5 waiting.
	if err := syscall.Listen(fd, 5); err != nil {
		fmt.Println("listen:", err)
		return
	}
	fmt.Println("listening on 127.0.0.1:9000")

	for {
		// 4. Accept: take one client off the queue, as a new socket.
		conn, peer, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		if p, ok := peer.(*syscall.SockaddrInet4); ok {
			fmt.Printf("client %d.%d.%d.%d:%d connected\n", p.Addr[0], p.Addr[1], p.Addr[2], p.Addr[3], p.Port)
		}

		// 5. Communicate: send back whatever arrives, until the client closes.
		buf := make([]byte, 1024)
		for {
			n, err := syscall.Read(conn, buf)
			if err != nil || n == 0 {
				break // n == 0: the client closed its end
			}
			if _, err := syscall.Write(conn, buf[:n]); err != nil {
				break
			}
		}

		// 6. Close the client's socket, and go back to accept the next one.
		syscall.Close(conn)
		fmt.Println("client left")
	}
}
