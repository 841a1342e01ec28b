package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The clients and the native server the playground is compared with. Every
// loop is bounded by a deadline.

// nativeEcho is a Go echo server with a goroutine per client, reading and
// writing with a buffer as the playground's servers do.
type nativeEcho struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startNativeEcho() (*nativeEcho, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("native echo server: %w", err)
	}
	s := &nativeEcho{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := conn.Read(buf)
					if n > 0 {
						if _, err := conn.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return s, nil
}

func (s *nativeEcho) addr() string { return s.ln.Addr().String() }

func (s *nativeEcho) close() { s.ln.Close() }

// pace, when not 0, holds each ping-pong client to that many echoes a
// second (-pace): CPU per echo at a set rate moves less with other work on
// the machine than the rate a loaded machine reaches.
var pace float64

// pingPong runs clients that each send 64 bytes and wait for them to come
// back, for d, and returns the echoes per second of them all.
func pingPong(ctx context.Context, addr string, clients int, d time.Duration) (float64, error) {
	conns := make([]net.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range clients {
		c, err := dialRetry(ctx, addr)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
	}
	var echoes atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(end.Add(5 * time.Second))
			msg := make([]byte, 64)
			for i := range msg {
				msg[i] = byte('a' + i%26)
			}
			back := make([]byte, 64)
			for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
				if pace > 0 { // at most pace echoes a second, each client
					if ahead := time.Until(start.Add(time.Duration(float64(n) / pace * float64(time.Second)))); ahead > 0 {
						time.Sleep(ahead)
					}
				}
				if _, err := c.Write(msg); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if _, err := io.ReadFull(c, back); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				echoes.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := firstErr.Load().(error); ok {
		return 0, fmt.Errorf("ping-pong with %s: %w", addr, err)
	}
	return float64(echoes.Load()) / elapsed.Seconds(), nil
}

// maxPerRequest bounds the connections perRequest makes: each leaves a
// socket in TIME_WAIT for a minute, in the host's table and its ports.
const maxPerRequest = 60_000

// perRequest makes one client connect, send 64 bytes, read them back and
// close, again and again, for d or maxPerRequest echoes, as a load tool
// does against a server that takes a connection per request; it returns the
// echoes made and their rate.
func perRequest(ctx context.Context, addr string, d time.Duration) (int, float64, error) {
	c, err := dialRetry(ctx, addr) // the server is up
	if err != nil {
		return 0, 0, err
	}
	c.Close()
	msg, back := make([]byte, 64), make([]byte, 64)
	start := time.Now()
	end := start.Add(d)
	n := 0
	for ; n < maxPerRequest && time.Now().Before(end) && ctx.Err() == nil; n++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return n, 0, fmt.Errorf("connection %d to %s: %w", n, addr, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		msg[0] = byte(n)
		_, err = c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, back)
		}
		c.Close()
		if err == nil && back[0] != msg[0] {
			err = errors.New("a different echo came back")
		}
		if err != nil {
			return n, 0, fmt.Errorf("echo %d with %s: %w", n, addr, err)
		}
	}
	return n, float64(n) / time.Since(start).Seconds(), nil
}

// bulk streams 64 KiB writes through the echo server at addr for d while
// reading the echo, and returns the megabytes per second that came back.
func bulk(ctx context.Context, addr string, d time.Duration) (float64, error) {
	c, err := dialRetry(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	end := start.Add(d)
	c.SetDeadline(end)
	go func() {
		chunk := make([]byte, 64<<10)
		for time.Now().Before(end) && ctx.Err() == nil {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	var got int64
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		got += int64(n)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // the end of the measured window
			}
			return 0, fmt.Errorf("bulk from %s: %w", addr, err)
		}
	}
	return float64(got) / 1e6 / time.Since(start).Seconds(), nil
}

// dialRetry connects to addr, retrying for a few seconds while a server
// comes up.
func dialRetry(ctx context.Context, addr string) (net.Conn, error) {
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.(*net.TCPConn).SetNoDelay(true)
			return c, nil
		}
	}
	return nil, fmt.Errorf("connect to %s: %v", addr, err)
}

// freePort returns a loopback port nothing listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening asks the kernel every 0.1 ms until port listens (want
// true) or no longer does, for at most limit, and returns when it saw the
// change.
func waitListening(port int, want bool, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		ok, err := listening(port)
		now := time.Now()
		if err != nil {
			return now, err
		}
		if ok == want {
			return now, nil
		}
		if now.After(deadline) {
			return now, fmt.Errorf("port %d: listening=%v still after %s", port, !want, limit)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// rssKiB is a process's resident set size, from /proc/PID/status.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}
