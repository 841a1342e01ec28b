//go:build !linux

package kit

// portSockets is Linux-only: elsewhere checks do without the kernel's view.
func portSockets(port int) ([]Socket, error) { return nil, errNoView }
