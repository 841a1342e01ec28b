package main

import (
	"net"
	"testing"
)

// TestListening: the netlink question sees a listener as it starts and
// stops listening, on its own port only.
func TestListening(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if ok, err := listening(port); !ok || err != nil {
		t.Errorf("port %d listens: listening says %v, %v", port, ok, err)
	}
	// A connected socket on another port is no listener.
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, err := listening(c.LocalAddr().(*net.TCPAddr).Port); ok || err != nil {
		t.Errorf("a client's port: listening says %v, %v", ok, err)
	}
	ln.Close()
	if ok, err := listening(port); ok || err != nil {
		t.Errorf("port %d closed: listening says %v, %v", port, ok, err)
	}
}
