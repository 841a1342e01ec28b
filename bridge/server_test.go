package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"sockstep/native/wire"
)

const testToken = "0123456789abcdef0123456789abcdef"

// testBridge is a bridge serving on a free loopback port for one test.
type testBridge struct {
	*bridge
	base string // http://127.0.0.1:PORT
}

func newTestBridge(t *testing.T, change func(*config)) *testBridge {
	t.Helper()
	return newTestBridgeServing(t, change, nil)
}

// newTestBridgeServing is newTestBridge serving assets instead of the
// embedded page, when assets is not nil.
func newTestBridgeServing(t *testing.T, change func(*config), assets fs.FS) *testBridge {
	t.Helper()
	cfg, err := parseFlags([]string{"--port", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.token = testToken
	if change != nil {
		change(&cfg)
	}
	b, err := listen(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if assets != nil {
		b.assets = assets
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the bridge did not shut down within 10s")
		}
	})
	return &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port}
}

func TestPageRefusals(t *testing.T) {
	tb := newTestBridge(t, nil)
	for _, tc := range []struct {
		name   string
		path   string
		host   string // empty: the bridge's own
		cookie string
		want   int
	}{
		{"no token", "/", "", "", http.StatusForbidden},
		{"wrong token", "/?token=00000000000000000000000000000000", "", "", http.StatusForbidden},
		{"token prefix", "/?token=" + testToken[:10], "", "", http.StatusForbidden},
		{"right token", "/?token=" + testToken, "", "", http.StatusOK},
		{"cookie", "/", "", testToken, http.StatusOK},
		{"wrong cookie", "/", "", "nope", http.StatusForbidden},
		{"localhost", "/?token=" + testToken, "localhost:" + tb.port, "", http.StatusOK},
		{"ipv6 loopback", "/?token=" + testToken, "[::1]:" + tb.port, "", http.StatusOK},
		{"rebound name", "/?token=" + testToken, "attacker.example:" + tb.port, "", http.StatusForbidden},
		{"other port", "/?token=" + testToken, "127.0.0.1:1", "", http.StatusForbidden},
		{"no port", "/?token=" + testToken, "127.0.0.1", "", http.StatusForbidden},
		{"websocket without token", "/ws", "", "", http.StatusForbidden},
		{"asset without token", "/placeholder.html", "", "", http.StatusForbidden},
		{"missing asset", "/nothing-here.js?token=" + testToken, "", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest("GET", tb.base+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: tokenCookie, Value: tc.cookie})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: got %d; want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func TestTokenBecomesCookie(t *testing.T) {
	tb := newTestBridge(t, nil)
	resp, err := http.Get(tb.base + "/?token=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var got *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == tokenCookie {
			got = c
		}
	}
	if got == nil || got.Value != testToken || !got.HttpOnly || got.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie: got %+v; want %s, HttpOnly, SameSite=Strict", got, testToken)
	}
	if p := resp.Header.Get("Referrer-Policy"); p != "no-referrer" {
		t.Errorf("Referrer-Policy: got %q; want no-referrer (the token is in the URL)", p)
	}
}

func TestWebSocketRefusals(t *testing.T) {
	tb := newTestBridge(t, func(c *config) { c.allowOrigins = []string{"https://course.example"} })
	own := tb.base
	for _, tc := range []struct {
		name, query, origin string
		ok                  bool
	}{
		{"own origin", "?token=" + testToken, own, true},
		{"listed origin", "?token=" + testToken, "https://course.example", true},
		{"no token", "", own, false},
		{"wrong token", "?token=ffffffffffffffffffffffffffffffff", own, false},
		{"foreign origin", "?token=" + testToken, "http://attacker.example", false},
		{"foreign origin on our port", "?token=" + testToken, "http://attacker.example:" + tb.port, false},
		{"no origin", "?token=" + testToken, "", false},
	} {
		header := http.Header{}
		if tc.origin != "" {
			header.Set("Origin", tc.origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+tb.port+"/ws"+tc.query, header)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: got %v; want a session", tc.name, err)
				continue
			}
			ws.Close()
			continue
		}
		if err == nil {
			ws.Close()
			t.Errorf("%s: got a session; want a refusal", tc.name)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: got %v; want 403", tc.name, err)
		}
	}
}

// dialSession opens a session the way the bridge's own page does.
func dialSession(t *testing.T, tb *testBridge) *websocket.Conn {
	t.Helper()
	ws, _ := dialSessionID(t, tb)
	return ws
}

// dialSessionID opens a session and returns the id its hello gave.
func dialSessionID(t *testing.T, tb *testBridge) (*websocket.Conn, string) {
	t.Helper()
	header := http.Header{"Origin": {tb.base}}
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+tb.port+"/ws?token="+testToken, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	rec := next(t, ws)
	if rec.Event == nil || rec.Event.Kind != wire.EventHello || len(rec.Event.Session) != 32 {
		t.Fatalf("first record: got %+v; want a hello event with a session id", rec)
	}
	return ws, rec.Event.Session
}

// next reads one record, failing the test after a few seconds.
func next(t *testing.T, ws *websocket.Conn) wire.Record {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		records, err := wire.DecodeFrame(frame)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		for _, rec := range records {
			// Tests send one call at a time; the sockets table comes unasked.
			if rec.Event == nil || rec.Event.Kind != wire.EventSockets {
				return rec
			}
		}
	}
}

func do(t *testing.T, ws *websocket.Conn, c wire.Call) *wire.Result {
	t.Helper()
	frame, err := wire.EncodeFrame(wire.Record{Call: &c})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	rec := next(t, ws)
	if rec.Result == nil || rec.Result.ID != c.ID {
		t.Fatalf("%s: got %+v; want the result of call %d", c.Op, rec, c.ID)
	}
	return rec.Result
}

func TestBadRecordsGetProblems(t *testing.T) {
	tb := newTestBridge(t, nil)
	ws := dialSession(t, tb)
	result, _ := wire.EncodeFrame(wire.Record{Result: &wire.Result{ID: 1}})
	for _, tc := range []struct {
		name  string
		kind  int
		frame []byte
	}{
		{"text message", websocket.TextMessage, []byte(`{"call":{"id":1,"op":"socket"}}`)},
		{"garbage", websocket.BinaryMessage, []byte{0xff, 0xff, 0xff}},
		{"truncated", websocket.BinaryMessage, []byte{40, '{', '"'}},
		{"not json", websocket.BinaryMessage, append([]byte{3}, "abc\x00"...)},
		{"a result from the page", websocket.BinaryMessage, result},
	} {
		if err := ws.WriteMessage(tc.kind, tc.frame); err != nil {
			t.Fatal(err)
		}
		if rec := next(t, ws); rec.Problem == nil {
			t.Errorf("%s: got %+v; want a problem", tc.name, rec)
		}
	}
	// An unknown op and a malformed call are answered by ID.
	for _, c := range []wire.Call{{ID: 7, Op: "frobnicate"}, {ID: 8, Op: wire.OpSocket, Family: "AF_UNIX", Type: "SOCK_STREAM"}} {
		frame, _ := wire.EncodeFrame(wire.Record{Call: &c})
		ws.WriteMessage(websocket.BinaryMessage, frame)
		if rec := next(t, ws); rec.Problem == nil || rec.Problem.ID != c.ID {
			t.Errorf("%s: got %+v; want a problem for call %d", c.Op, rec, c.ID)
		}
	}
	// The session carries on.
	if r := do(t, ws, wire.Call{ID: 9, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}); r.Failed() || r.Ret != 3 {
		t.Errorf("socket after bad records: got %+v; want descriptor 3", r)
	}
}

func TestOversizedMessageEndsOnlyItsSession(t *testing.T) {
	tb := newTestBridge(t, nil)
	ws := dialSession(t, tb)
	ws.WriteMessage(websocket.BinaryMessage, make([]byte, wire.MaxFrame+1))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil { // events the bridge pushed may come first
		_, _, err = ws.ReadMessage()
	}
	var closed *websocket.CloseError
	if !errors.As(err, &closed) || closed.Code != websocket.CloseMessageTooBig {
		t.Errorf("oversized message: got %v; want close 1009 (message too big)", err)
	}
	other := dialSession(t, tb)
	if r := do(t, other, wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}); r.Failed() {
		t.Errorf("another session after an oversized message: got %+v", r)
	}
}

// listenOnFreePort makes the session listen on a port the kernel picks and
// returns that address.
func listenOnFreePort(t *testing.T, ws *websocket.Conn) netip.AddrPort {
	t.Helper()
	loopback := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)
	steps := []wire.Call{
		{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 2, Op: wire.OpBind, FD: 3, Addr: loopback},
		{ID: 3, Op: wire.OpListen, FD: 3, Value: 5},
		{ID: 4, Op: wire.OpGetsockname, FD: 3},
	}
	var r *wire.Result
	for _, c := range steps {
		if r = do(t, ws, c); r.Failed() {
			t.Fatalf("%s: %+v", wire.FormatCall(&c), r)
		}
	}
	return r.Addr
}

// refusedWithin waits until nothing listens on addr any more.
func refusedWithin(addr netip.AddrPort, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func TestClosedPageClosesItsSockets(t *testing.T) {
	tb := newTestBridge(t, nil)
	ws := dialSession(t, tb)
	addr := listenOnFreePort(t, ws)
	if c, err := net.Dial("tcp", addr.String()); err != nil {
		t.Fatalf("the session's listener does not accept: %v", err)
	} else {
		c.Close()
	}
	// A blocked accept must not keep the session alive.
	frame, _ := wire.EncodeFrame(wire.Record{Call: &wire.Call{ID: 5, Op: wire.OpAccept, FD: 3}})
	ws.WriteMessage(websocket.BinaryMessage, frame)
	next(t, ws) // the connection made above is accepted
	ws.WriteMessage(websocket.BinaryMessage, frame)
	ws.Close()
	if !refusedWithin(addr, time.Second) {
		t.Errorf("%s still accepts connections a second after the page went away", addr)
	}
}

func TestShutdownClosesSessions(t *testing.T) {
	cfg, _ := parseFlags([]string{"--port", "0"}, io.Discard)
	cfg.token = testToken
	b, err := listen(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.serve(ctx) }()
	ws := dialSession(t, &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port})
	addr := listenOnFreePort(t, ws)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return within 5s of shutdown")
	}
	if !refusedWithin(addr, time.Second) {
		t.Errorf("%s still accepts connections after shutdown", addr)
	}
	ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	err = nil
	for err == nil { // events the bridge pushed may come first
		_, _, err = ws.ReadMessage()
	}
	if !strings.Contains(err.Error(), "1001") {
		t.Errorf("page after shutdown: got %v; want close 1001 (going away)", err)
	}
}

func TestTakenPortIsExplained(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg, _ := parseFlags(nil, io.Discard)
	cfg.port = port
	_, err = listen(cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "PORT=") {
		t.Errorf("listen on a taken port: got %v; want a message naming PORT=", err)
	}
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
