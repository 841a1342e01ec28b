package main

import (
	"strconv"
	"strings"

	"github.com/sockstep/sockstep/examples"
)

// The playground programs the benchmark runs. Each is written the way a
// learner writes one (the standard syscall package) and builds natively too.

// echoOn is the learner's default program, the iterative echo server that
// serves one client at a time, moved to port.
func echoOn(port int) string {
	return strings.ReplaceAll(examples.Echo, "9000", strconv.Itoa(port))
}

// concurrentEchoOn is an echo server with a goroutine per client, for the
// 32-client and bulk figures.
func concurrentEchoOn(port int) string {
	return strings.ReplaceAll(`package main

import (
	"fmt"
	"syscall"
)

func serve(conn int) {
	defer syscall.Close(conn)
	buf := make([]byte, 32<<10)
	for {
		n, err := syscall.Read(conn, buf)
		if err != nil || n == 0 {
			return
		}
		if _, err := syscall.Write(conn, buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: PORT, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return
	}
	if err := syscall.Listen(fd, 64); err != nil {
		fmt.Println("listen:", err)
		return
	}
	for {
		conn, _, err := syscall.Accept(fd)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		go serve(conn)
	}
}
`, "PORT", strconv.Itoa(port))
}

// roundTrip times relayed getsockname calls inside the interpreter and prints
// the median and the 99th percentile in nanoseconds.
const roundTrip = `package main

import (
	"fmt"
	"sort"
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
	const warmup, rounds = 100, 2000
	took := make([]time.Duration, 0, rounds)
	for i := 0; i < warmup+rounds; i++ {
		start := time.Now()
		if _, err := syscall.Getsockname(fd); err != nil {
			fmt.Println("getsockname:", err)
			return
		}
		if i >= warmup {
			took = append(took, time.Since(start))
		}
	}
	sort.Slice(took, func(a, b int) bool { return took[a] < took[b] })
	fmt.Printf("round trip p50=%d p99=%d ns\n", int64(took[len(took)/2]), int64(took[len(took)*99/100]))
}
`

// stepLoop is a program to step through: from main's first line, every step
// moves the current line (6, 7, 8, 9, 8, 9, …), for longer than the bench
// steps.
const stepLoop = `package main

import "fmt"

func main() {
	total := 0
	for i := 0; i < 1000; i++ {
		total += i
		total %= 1000
	}
	fmt.Println(total)
}
`
