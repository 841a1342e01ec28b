//go:build !linux

package kit

import "errors"

// errNoView says the kernel's view is not available on this platform.
var errNoView = errors.New("the kernel's table of sockets is not readable here")

// portSockets is Linux-only: elsewhere checks do without the kernel's view.
func portSockets(port int) ([]Socket, error) { return nil, errNoView }
