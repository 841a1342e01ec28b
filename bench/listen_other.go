//go:build !linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// listening reports whether a socket listens on 127.0.0.1:port or
// 0.0.0.0:port, as the kernel lists it in /proc/net/tcp (where there is
// one; the bench runs on Linux).
func listening(port int) (bool, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false, err
	}
	defer f.Close()
	suffix := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st …; st 0A is LISTEN
		if len(fields) > 3 && fields[3] == "0A" && strings.HasSuffix(fields[1], suffix) {
			return true, nil
		}
	}
	return false, sc.Err()
}
