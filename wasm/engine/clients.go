package engine

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/sockstep/sockstep/native/wire"
)

// The client panel's operations, as the page names them: open, send,
// shutdown, close. The engine only relays them: they are not the learner's
// calls and never appear as call or result events.

// ClientCall builds the wire call of one client operation. addr is for open
// ("127.0.0.1:9000"), id for the others, data for send.
func ClientCall(op, addr string, id uint64, data []byte) (*wire.Call, error) {
	c := &wire.Call{Client: id}
	switch op {
	case "open":
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address like 127.0.0.1:9000", addr)
		}
		c.Op, c.Addr, c.Client = wire.OpClientOpen, ap, 0
	case "send":
		c.Op, c.Data = wire.OpClientSend, data
	case "shutdown":
		c.Op = wire.OpClientShutdown
	case "close":
		c.Op = wire.OpClientClose
	default:
		return nil, fmt.Errorf("unknown client operation %q: use open, send, shutdown or close", op)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// ClientError is why a client operation failed, in words for the client's
// terminal, or nil when it succeeded.
func ClientError(r *wire.Result) error {
	switch {
	case r.Refused != nil:
		return errors.New(r.Refused.Error())
	case r.Errno != "":
		if e, ok := wire.ErrnoByName(r.Errno); ok {
			return fmt.Errorf("%s: %s", r.Errno, e.Explain)
		}
		return errors.New(r.Errno)
	}
	return nil
}
