package native

import (
	"fmt"
	"net/netip"

	"github.com/sockstep/sockstep/native/wire"
)

// Policy says what a session may do on the host. A refusal is reported as a
// wire.Refusal naming the bridge flag that changes the rule, never as a
// kernel error: the learner must be able to tell "the bridge said no" from
// "the kernel said no".
type Policy struct {
	// AllowExternal lets bind, connect and sendto use any address, and a UDP
	// socket send before it is bound (which binds it to every address). Without it only
	// loopback addresses (127.0.0.0/8, ::1, and ::ffff:127.0.0.0/104) are
	// allowed, so a learner's server is never reachable from other machines.
	AllowExternal bool
	// MinPort and MaxPort bound the ports of bind and connect. Bind to port
	// 0 (the kernel picks a free port) is always allowed.
	MinPort, MaxPort int
	// MaxSockets caps the sockets a session holds open at once, counting
	// those made by accept. Zero or less allows none.
	MaxSockets int
	// CallsPerSecond caps the rate of a session's calls on average; CallBurst
	// calls may come at once above it. A call over the cap is delayed, never
	// refused, so a program that spins is slowed and keeps working. Zero
	// means no cap.
	CallsPerSecond, CallBurst int
	// MaxClients caps the client panel's connections open at once. They
	// have their own cap so that the page's clients never make the learner's
	// own socket() fail. Zero or less allows none.
	MaxClients int
}

// DefaultPolicy is the bridge's policy unless flags say otherwise: loopback
// only, unprivileged ports, 64 sockets, calls slowed beyond 20,000 a second.
// The cap sits above what a page's engine can make (a few thousand a second
// under `make bench`'s 32-client echo load), so it never slows a learner's
// server; it holds back a program that spins on calls, or anything else
// that speaks the protocol, to a rate the host barely notices.
func DefaultPolicy() Policy {
	return Policy{MinPort: 1024, MaxPort: 65535, MaxSockets: 64, MaxClients: 16, CallsPerSecond: 20000, CallBurst: 2000}
}

// The rules of a Policy, as they appear in a wire.Refusal.
const (
	RuleLoopbackOnly = "loopback-only"
	RulePorts        = "ports"
	RuleMaxSockets   = "max-sockets"
	RuleMaxClients   = "max-clients"
	RuleSharedPort   = "shared-port"
)

// sharedPort refuses a bind or listen with SO_REUSEPORT on a port a socket
// outside the session listens on: the kernel would hand the session some of
// that program's connections. No flag allows it.
func sharedPort(port uint16, holder string) *wire.Refusal {
	return &wire.Refusal{Rule: RuleSharedPort, Message: fmt.Sprintf(
		"%s listens on port %d; with SO_REUSEPORT your socket would share the port with it and receive some of its connections. Choose another port, or do not set SO_REUSEPORT (no flag allows sharing a port with a program outside the playground)", holder, port)}
}

// checkUnboundListen applies the address rule to a listen on a socket that
// was never bound: the kernel would bind it to every address (0.0.0.0 or ::)
// on a port of its choosing.
func (p Policy) checkUnboundListen() *wire.Refusal {
	if p.AllowExternal {
		return nil
	}
	return &wire.Refusal{Rule: RuleLoopbackOnly, Flag: "--allow-external", Message: "listening on a socket that was never bound would listen on every address, open to other machines; bind it to 127.0.0.1 first"}
}

// checkUnboundSend applies the address rule to a send from a datagram
// socket that was never bound: the kernel would bind it to every address
// (0.0.0.0 or ::), and any machine could send to it.
func (p Policy) checkUnboundSend() *wire.Refusal {
	if p.AllowExternal {
		return nil
	}
	return &wire.Refusal{Rule: RuleLoopbackOnly, Flag: "--allow-external", Message: "sending from a UDP socket that was never bound would bind it to every address on a port of the kernel's choosing, open to other machines; bind it to 127.0.0.1 first (port 0 lets the kernel choose one), or connect it"}
}

// checkAddr applies the address and port rules to a bind, a connect or a
// sendto's destination.
func (p Policy) checkAddr(op wire.Op, ap netip.AddrPort) *wire.Refusal {
	reach, not := "connecting to", "connecting; connect to"
	if op == wire.OpSendto {
		reach, not = "sending to", "sending; send to"
	}
	if !p.AllowExternal {
		a := ap.Addr().Unmap()
		loopback := "127.0.0.1"
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			loopback = "::1"
		}
		switch {
		case a.IsUnspecified() && op == wire.OpBind:
			return &wire.Refusal{Rule: RuleLoopbackOnly, Flag: "--allow-external", Message: fmt.Sprintf(
				"binding %s would expose your server to other machines; use %s", a, loopback)}
		case !a.IsLoopback() && op == wire.OpBind:
			return &wire.Refusal{Rule: RuleLoopbackOnly, Flag: "--allow-external", Message: fmt.Sprintf(
				"binding %s would expose your server to other machines; only loopback addresses are allowed, use %s", a, loopback)}
		case a.IsUnspecified():
			return &wire.Refusal{Rule: RuleLoopbackOnly, Flag: "--allow-external", Message: fmt.Sprintf(
				"%s means \"any address\", which is for binding, not %s %s", a, not, loopback)}
		case !a.IsLoopback():
			return &wire.Refusal{Rule: RuleLoopbackOnly, Flag: "--allow-external", Message: fmt.Sprintf(
				"%s %s would reach beyond this machine; only loopback addresses are allowed, use %s", reach, a, loopback)}
		}
	}
	port := int(ap.Port())
	if op == wire.OpBind && port == 0 {
		return nil
	}
	if port < p.MinPort || port > p.MaxPort {
		hint := "pick a port in that range"
		if op == wire.OpBind {
			hint += ", or 0 to let the kernel choose a free one"
		}
		return &wire.Refusal{Rule: RulePorts, Flag: "--ports", Message: fmt.Sprintf(
			"port %d is outside the allowed range %d–%d; %s", port, p.MinPort, p.MaxPort, hint)}
	}
	return nil
}

func (p Policy) tooManySockets() *wire.Refusal {
	return &wire.Refusal{Rule: RuleMaxSockets, Flag: "--max-sockets", Message: fmt.Sprintf(
		"this session already has %d sockets open, the most allowed; close the ones you no longer need", p.MaxSockets)}
}

func (p Policy) tooManyClients() *wire.Refusal {
	return &wire.Refusal{Rule: RuleMaxClients, Flag: "--max-clients", Message: fmt.Sprintf(
		"the client panel already has %d connections open, the most allowed; close one first", p.MaxClients)}
}
