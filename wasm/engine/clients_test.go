package engine

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/sockstep/sockstep/native/wire"
)

func TestClientCall(t *testing.T) {
	for _, tc := range []struct {
		op, addr string
		id       uint64
		data     string
		want     wire.Op
		err      string
	}{
		{"open", "127.0.0.1:9000", 0, "", wire.OpClientOpen, ""},
		{"open", "localhost:9000", 0, "", "", "not an address"},
		{"send", "", 2, "hi\r\n", wire.OpClientSend, ""},
		{"send", "", 0, "hi", "", "missing client"},
		{"shutdown", "", 2, "", wire.OpClientShutdown, ""},
		{"close", "", 2, "", wire.OpClientClose, ""},
		{"accept", "", 2, "", "", "unknown client operation"},
	} {
		c, err := ClientCall(tc.op, tc.addr, tc.id, []byte(tc.data))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: got %v; want an error with %q", tc.op, tc.addr, err, tc.err)
			}
			continue
		}
		if err != nil || c.Op != tc.want || string(c.Data) != tc.data {
			t.Errorf("%s: got %+v, %v; want op %s with data %q", tc.op, c, err, tc.want, tc.data)
		}
	}
}

func TestBridgeEventsAsJSON(t *testing.T) {
	lo := netip.MustParseAddrPort("127.0.0.1:9000")
	for _, tc := range []struct {
		in   wire.Event
		want string
	}{
		{wire.Event{Kind: wire.EventSockets}, `{"type":"sockets","sockets":[],"message":""}`},
		{wire.Event{Kind: wire.EventSockets, Sockets: []wire.SocketInfo{{FD: 3, Listening: true, State: "LISTEN", Local: lo, Queue: new(2), Backlog: new(5)}}},
			`{"type":"sockets","sockets":[{"fd":3,"listening":true,"state":"LISTEN","local":"127.0.0.1:9000","queue":2,"backlog":5}],"message":""}`},
		{wire.Event{Kind: wire.EventClientData, Client: 1, Data: []byte("ok\n")}, `{"type":"client-data","client":1,"data":"b2sK"}`},
		{wire.Event{Kind: wire.EventClientClosed, Client: 1, Message: "closed"}, `{"type":"client-closed","client":1,"message":"closed"}`},
	} {
		ev, ok := FromBridge(&tc.in)
		if !ok {
			t.Errorf("%s: not passed to the page", tc.in.Kind)
			continue
		}
		got, err := json.Marshal(ev)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.in.Kind, got, err, tc.want)
		}
	}
	if _, ok := FromBridge(&wire.Event{Kind: wire.EventHello}); ok {
		t.Error("hello: passed to the page; want it kept")
	}
}
