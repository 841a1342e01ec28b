// Package wire is the vocabulary spoken between the worker (the learner's
// program in the browser) and the bridge (the native process that performs
// the socket calls). It imports no platform code, so both sides use it.
//
// A WebSocket binary message is a frame of one or more records. A record is a
// small JSON header followed by raw bytes (the data of a write or a read), so
// the hot path never inflates data with base64. See codec.go.
//
// Socket constants cross as names ("AF_INET", "SO_REUSEADDR"), never as
// numbers: the learner's numbers are Linux's, the host's may not be (macOS),
// and names read well in a trace. Errors cross as errno names too.
package wire

import "net/netip"

// Op names one socket operation.
type Op string

// The operations a session performs.
const (
	OpSocket      Op = "socket"
	OpSetsockopt  Op = "setsockopt"
	OpGetsockopt  Op = "getsockopt"
	OpBind        Op = "bind"
	OpListen      Op = "listen"
	OpAccept      Op = "accept"
	OpConnect     Op = "connect"
	OpRead        Op = "read"
	OpWrite       Op = "write"
	OpClose       Op = "close"
	OpShutdown    Op = "shutdown"
	OpGetsockname Op = "getsockname"
	OpGetpeername Op = "getpeername"
	OpLookupPort  Op = "lookupport"    // net.LookupPort, the getservbyname step
	OpFcntl       Op = "fcntl"         // F_GETFL, F_SETFL: only O_NONBLOCK changes anything
	OpEpollCreate Op = "epoll_create1" // a new epoll instance: itself a descriptor
	OpEpollCtl    Op = "epoll_ctl"     // add, change or remove Target in FD's interest list
	OpEpollWait   Op = "epoll_wait"    // wait for the events of FD's interest list
	OpRecvfrom    Op = "recvfrom"      // read one datagram (or stream bytes), and who sent it
	OpSendto      Op = "sendto"        // send Data to Addr (or to the connected peer)
)

// The client panel's operations: real TCP connections the page opens
// through the bridge to the learner's server. They are not the learner's
// descriptors: they are numbered apart (Call.Client), never appear in the
// learner's trace, and die with the session.
const (
	OpClientOpen     Op = "client-open"     // connect to Addr; Result.Ret is the new client's id
	OpClientSend     Op = "client-send"     // write Data to Client
	OpClientShutdown Op = "client-shutdown" // shut down Client's writing side (the peer reads end of stream)
	OpClientClose    Op = "client-close"    // close Client
)

// IsClient reports whether op is one of the client panel's operations.
func (op Op) IsClient() bool {
	switch op {
	case OpClientOpen, OpClientSend, OpClientShutdown, OpClientClose:
		return true
	}
	return false
}

// Call asks the bridge to perform one operation. Only the fields its Op uses
// are set.
type Call struct {
	ID     uint64         `json:"id"`                // chosen by the caller; the Result carries it back
	Op     Op             `json:"op"`                // what to do
	FD     int            `json:"fd,omitempty"`      // the learner's (virtual) descriptor
	Family string         `json:"family,omitempty"`  // socket: "AF_INET" or "AF_INET6"
	Type   string         `json:"type,omitempty"`    // socket: "SOCK_STREAM"
	Proto  int            `json:"proto,omitempty"`   // socket: 0 or IPPROTO_TCP (6)
	Addr   netip.AddrPort `json:"addr,omitzero"`     // bind, connect: the address; sendto: the destination (zero: the connected peer)
	Level  string         `json:"level,omitempty"`   // setsockopt, getsockopt: "SOL_SOCKET", "IPPROTO_TCP" or "IPPROTO_IPV6"
	Option string         `json:"option,omitempty"`  // setsockopt, getsockopt: "SO_REUSEADDR", …; fcntl: "F_GETFL" or "F_SETFL"; epoll_ctl: "EPOLL_CTL_ADD", "EPOLL_CTL_MOD" or "EPOLL_CTL_DEL"
	Value  int            `json:"value,omitempty"`   // setsockopt: the value; listen: the backlog; socket, accept (accept4): SOCK_NONBLOCK, SOCK_CLOEXEC; fcntl F_SETFL: the flags; epoll_create1: its flags; epoll_ctl: the events; epoll_wait: the timeout in ms (-1: none); recvfrom, sendto: the MSG_ flags (Linux values)
	Size   int            `json:"size,omitempty"`    // read, recvfrom: the most bytes to return; epoll_wait: the most events
	How    string         `json:"how,omitempty"`     // shutdown: "SHUT_RD", "SHUT_WR" or "SHUT_RDWR"
	Net    string         `json:"network,omitempty"` // lookupport: "tcp", "tcp4", "tcp6"
	Name   string         `json:"service,omitempty"` // lookupport: the service name, e.g. "http"
	Client uint64         `json:"client,omitempty"`  // client-send, client-shutdown, client-close: the client's id
	Target int            `json:"target,omitempty"`  // epoll_ctl: the descriptor watched (FD is the epoll instance)
	Tag    uint64         `json:"tag,omitempty"`     // epoll_ctl: the program's epoll_data (Go's EpollEvent Fd, then Pad), given back by epoll_wait
	Data   []byte         `json:"-"`                 // write, sendto, client-send: the bytes, carried raw after the header
	// Into is where a read puts its bytes when the caller shares the
	// session's process (a runner): the Result's Data is then Into's
	// start, with no copy. It never crosses the wire.
	Into []byte `json:"-"`
	// AtExit marks a close the engine made for a program that had ended
	// with the descriptor still open, as the kernel does at exit: lesson
	// checkers must not count it as the learner's close.
	AtExit bool `json:"atExit,omitempty"`
}

// Result answers one Call. Exactly one of Errno and Refused is set when the
// call failed.
type Result struct {
	ID      uint64         `json:"id"`                // the Call's ID
	Ret     int            `json:"ret"`               // socket, accept, epoll_create1: the new descriptor; read, write, recvfrom, sendto, client-send: bytes; getsockopt: the value; fcntl F_GETFL: the flags; epoll_wait: the events' count; lookupport: the port; client-open: the client's id
	Addr    netip.AddrPort `json:"addr,omitzero"`     // accept, getpeername: the peer; recvfrom: the sender; getsockname, client-open: the local address
	Errno   string         `json:"errno,omitempty"`   // the kernel's error, by name ("EADDRINUSE")
	Refused *Refusal       `json:"refused,omitempty"` // the bridge's policy said no; the kernel was not asked
	Events  []EpollEvent   `json:"events,omitempty"`  // epoll_wait: what is ready
	Data    []byte         `json:"-"`                 // read, recvfrom: the bytes, carried raw after the header
}

// EpollEvent is one ready descriptor an epoll_wait reports.
type EpollEvent struct {
	FD     int    `json:"fd"`            // the program's (virtual) descriptor that is ready, for traces and checkers
	Events uint32 `json:"events"`        // EPOLLIN, EPOLLOUT, … (Linux values)
	Tag    uint64 `json:"tag,omitempty"` // the epoll_data the program gave epoll_ctl for FD: what the program reads back
}

// Failed reports whether the call did not succeed.
func (r *Result) Failed() bool { return r.Errno != "" || r.Refused != nil }

// Refusal says which rule of the bridge's policy refused a call, in words a
// learner can act on.
type Refusal struct {
	Rule    string `json:"rule"`           // short name of the rule, e.g. "loopback-only"
	Message string `json:"message"`        // why, in plain words
	Flag    string `json:"flag,omitempty"` // the bridge's command-line flag that changes the rule, if any
}

func (r *Refusal) Error() string {
	s := "refused by the bridge's policy (" + r.Rule + "): " + r.Message
	if r.Flag != "" {
		s += " (start the bridge with " + r.Flag + " to allow it)"
	}
	return s
}

// Event is something the bridge tells the page without being asked.
type Event struct {
	Kind    string       `json:"kind"`              // what happened; see the Event* constants
	Message string       `json:"message,omitempty"` // human words: hello: the bridge's version; sockets: why part of the table is unknown; client-closed: why it closed
	Sockets []SocketInfo `json:"sockets,omitzero"`  // sockets: the whole table, as the kernel reports it (empty: no sockets)
	Client  uint64       `json:"client,omitempty"`  // client-data, client-eof, client-closed: which client
	Data    []byte       `json:"-"`                 // client-data: the bytes the client received, carried raw after the header
	// Session is the hello's random id of this session: the page names
	// its session with it in the bridge's HTTP API (POST /api/check runs
	// a lesson's checker over this session's trace).
	Session string `json:"session,omitempty"`
}

// Event kinds.
const (
	EventHello        = "hello"         // first record on a new session; Message names the bridge's version
	EventSockets      = "sockets"       // the session's socket table changed; Sockets holds all of it
	EventClientData   = "client-data"   // a client of the client panel received Data
	EventClientEOF    = "client-eof"    // the server closed its side of a client's connection (a read returned 0); the client may still send
	EventClientClosed = "client-closed" // a client is gone: client-close, an error, or the session's end; Message says which
)

// SocketInfo is one socket as the kernel reports it: one of the learner's
// descriptors, one of the client panel's connections, or a leftover on one of
// the session's ports that no descriptor owns (TIME_WAIT after a close, a
// connection still in a listener's accept queue). A field the host cannot
// report is absent (nil, or "" for State): the page shows it as unknown,
// never as a guess.
type SocketInfo struct {
	FD        int            `json:"fd,omitempty"`        // the learner's descriptor; 0 for a client or a leftover
	Client    uint64         `json:"client,omitempty"`    // the client panel's id for one of its connections; 0 otherwise
	Orphan    bool           `json:"orphan,omitempty"`    // no descriptor owns it: a leftover the kernel keeps, or a connection not yet accepted
	Listening bool           `json:"listening,omitempty"` // a listener (State is LISTEN)
	State     string         `json:"state,omitempty"`     // TCP state as the kernel names it: LISTEN, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, CLOSING; "" when unknown
	Local     netip.AddrPort `json:"local,omitzero"`      // local address; zero before bind (and when unknown)
	Peer      netip.AddrPort `json:"peer,omitzero"`       // peer address; zero when not connected (and when unknown)
	Queue     *int           `json:"queue,omitempty"`     // listener: connections waiting for accept; connected: bytes received and not yet read (ss's Recv-Q); nil when unknown
	Backlog   *int           `json:"backlog,omitempty"`   // listener: the accept queue's limit as the kernel applies it (ss's Send-Q); nil otherwise or when unknown
	Unsent    *int           `json:"unsent,omitempty"`    // connected: bytes written and not yet acknowledged by the peer (ss's Send-Q); nil when unknown
	Timer     *int           `json:"timer,omitempty"`     // leftover in TIME_WAIT (or another timed state): milliseconds until the kernel drops it; nil when unknown
}

// MaxSockets bounds the table one sockets event carries; entries past it are
// dropped (leftovers first) and Event.Message says how many.
const MaxSockets = 256

// Problem answers a record the bridge could not accept: malformed,
// truncated, oversized or unknown. The session carries on.
type Problem struct {
	ID      uint64 `json:"id,omitempty"` // the call it concerns, when one could be read
	Message string `json:"message"`      // what was wrong
}

func (p *Problem) Error() string { return "bridge: " + p.Message }

// Record is one unit of a frame: exactly one field is set.
type Record struct {
	Call    *Call    `json:"call,omitempty"`
	Result  *Result  `json:"result,omitempty"`
	Event   *Event   `json:"event,omitempty"`
	Problem *Problem `json:"problem,omitempty"`
}
