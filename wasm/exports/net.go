package exports

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/traefik/yaegi/interp"

	"github.com/sockstep/sockstep/native/wire"
)

// Net returns the learner's `net` package: only LookupPort, the
// getservbyname step, which reads the host's services database through call.
// Go's js/wasm net, an in-process fake network, is never exposed.
func Net(call Perform) interp.Exports {
	lookup := func(network, service string) (int, error) { return lookupPort(call, network, service) }
	return interp.Exports{"net/net": {"LookupPort": reflect.ValueOf(lookup)}}
}

// lookupPort behaves as Go's net.LookupPort: a number needs no lookup.
func lookupPort(call Perform, network, service string) (int, error) {
	if p, err := strconv.Atoi(service); err == nil {
		if p < 0 || p > 0xffff {
			return 0, fmt.Errorf("address %s: invalid port", service)
		}
		return p, nil
	}
	switch network {
	case "":
		network = "tcp"
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return 0, fmt.Errorf("address %s: unknown network", network)
	}
	if service == "" {
		return 0, fmt.Errorf("lookup %s/: unknown port", network)
	}
	res, err := sys{call}.do(&wire.Call{Op: wire.OpLookupPort, Net: network, Name: service})
	if res != nil && res.Errno != "" {
		return 0, fmt.Errorf("lookup %s/%s: unknown port", network, service)
	}
	if err != nil {
		return 0, err
	}
	return res.Ret, nil
}
