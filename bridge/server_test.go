package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/native/wire"
)

const testToken = "0123456789abcdef0123456789abcdef"

// testBridge is a bridge serving on a free loopback port for one test.
type testBridge struct {
	*bridge
	base string // http://127.0.0.1:PORT
	log  *logBuffer
}

// logBuffer is the bridge's log, kept for a test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitLog waits until a line of the bridge's log contains every one of parts.
func (tb *testBridge) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(tb.log.String(), "\n") {
			if containsAll(line, parts) {
				return
			}
		}
	}
	t.Errorf("no line of the bridge's log contains %q; the log:\n%s", parts, tb.log)
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
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
	logs := &logBuffer{}
	b, err := listen(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	if assets != nil {
		b.assets = assets
	}
	serveInBackground(t, b)
	return &testBridge{bridge: b, base: "http://127.0.0.1:" + b.port, log: logs}
}

// serveInBackground serves b until the returned stop is called (at the
// latest when the test ends); stop waits for the shutdown, at most 10s.
func serveInBackground(t *testing.T, b *bridge) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.serve(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("the bridge did not shut down within 10s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestPageRefusals(t *testing.T) {
	tb := newTestBridge(t, nil)
	tok := "?token=" + testToken
	for _, tc := range []struct {
		name   string
		method string // empty: GET
		path   string
		host   string // empty: the bridge's own
		cookie string
		origin string
		json   bool // the body is sent as application/json
		want   int
		logged string // what the bridge's log line must say; empty: nothing to check
	}{
		{name: "no token", path: "/", want: http.StatusForbidden, logged: "missing or wrong token"},
		{name: "wrong token", path: "/?token=00000000000000000000000000000000", want: http.StatusForbidden},
		{name: "token prefix", path: "/?token=" + testToken[:10], want: http.StatusForbidden},
		{name: "token twice as long", path: tok + testToken, want: http.StatusForbidden},
		{name: "right token", path: "/" + tok, want: http.StatusOK},
		{name: "cookie", path: "/", cookie: testToken, want: http.StatusOK},
		{name: "wrong cookie", path: "/", cookie: "nope", want: http.StatusForbidden},
		{name: "wrong token beats right cookie", path: "/?token=ffff", cookie: testToken, want: http.StatusForbidden},
		{name: "localhost", path: "/" + tok, host: "localhost:" + tb.port, want: http.StatusOK},
		{name: "LOCALHOST", path: "/" + tok, host: "LocalHost:" + tb.port, want: http.StatusOK},
		{name: "localhost with the root's dot", path: "/" + tok, host: "localhost.:" + tb.port, want: http.StatusOK},
		{name: "ipv6 loopback", path: "/" + tok, host: "[::1]:" + tb.port, want: http.StatusOK},
		{name: "ipv6 loopback in full", path: "/" + tok, host: "[0:0:0:0:0:0:0:1]:" + tb.port, want: http.StatusOK},
		{name: "ipv4-mapped loopback", path: "/" + tok, host: "[::ffff:127.0.0.1]:" + tb.port, want: http.StatusOK},
		{name: "rebound name", path: "/" + tok, host: "attacker.example:" + tb.port, want: http.StatusForbidden, logged: "DNS rebinding"},
		{name: "rebound name ending in localhost", path: "/" + tok, host: "evil.localhost.attacker.example:" + tb.port, want: http.StatusForbidden},
		{name: "localhost as a subdomain", path: "/" + tok, host: "localhost.attacker.example:" + tb.port, want: http.StatusForbidden},
		{name: "other machine's address", path: "/" + tok, host: "192.0.2.1:" + tb.port, want: http.StatusForbidden},
		{name: "unspecified address", path: "/" + tok, host: "0.0.0.0:" + tb.port, want: http.StatusForbidden},
		{name: "decimal address", path: "/" + tok, host: "2130706433:" + tb.port, want: http.StatusForbidden},
		{name: "other port", path: "/" + tok, host: "127.0.0.1:1", want: http.StatusForbidden},
		{name: "no port", path: "/" + tok, host: "127.0.0.1", want: http.StatusForbidden},
		{name: "websocket without token", path: "/ws", want: http.StatusForbidden},
		{name: "websocket GET without upgrade", path: "/ws" + tok, origin: tb.base, want: http.StatusBadRequest, logged: "refused websocket"},
		{name: "websocket GET without upgrade or Origin", path: "/ws" + tok, want: http.StatusForbidden, logged: "no Origin"},
		{name: "asset without token", path: "/placeholder.html", want: http.StatusForbidden},
		{name: "missing asset", path: "/nothing-here.js" + tok, want: http.StatusNotFound},
		{name: "POST from another site (fetch no-cors)", method: "POST", path: "/" + tok, origin: "http://attacker.example", want: http.StatusMethodNotAllowed, logged: "only GET"},
		{name: "POST without token", method: "POST", path: "/", origin: "http://attacker.example", want: http.StatusForbidden},
		{name: "check from a form or no-cors fetch (text/plain)", method: "POST", path: "/api/check" + tok, origin: "http://attacker.example", want: http.StatusUnsupportedMediaType, logged: "application/json"},
		{name: "check as JSON from another origin", method: "POST", path: "/api/check" + tok, origin: "http://127.0.0.1:1", json: true, want: http.StatusForbidden, logged: "may not run checks"},
		{name: "check without token", method: "POST", path: "/api/check", json: true, want: http.StatusForbidden},
		{name: "CORS preflight", method: "OPTIONS", path: "/ws" + tok, origin: "http://attacker.example", want: http.StatusForbidden},
	} {
		method := tc.method
		if method == "" {
			method = "GET"
		}
		req, _ := http.NewRequest(method, tb.base+tc.path, strings.NewReader(""))
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: tokenCookie, Value: tc.cookie})
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if tc.json {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: got %d; want %d", tc.name, resp.StatusCode, tc.want)
		}
		// No answer lets a page of another origin read it, or frame it.
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q; want none", tc.name, v)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q; want frame-ancestors 'none'", tc.name, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: want X-Content-Type-Options: nosniff", tc.name)
		}
		if tc.logged != "" {
			tb.waitLog(t, "refused", tc.logged)
		}
	}
}

// TestHostWithZone sends the request by hand: Go's client drops an IPv6
// zone from the Host header.
func TestHostWithZone(t *testing.T) {
	tb := newTestBridge(t, nil)
	for _, host := range []string{"[::1%25lo]:" + tb.port, "[fe80::1%25lo]:" + tb.port, "[::1]:" + tb.port + ":" + tb.port, "localhost:" + tb.port + "@evil"} {
		conn, err := net.Dial("tcp", "127.0.0.1:"+tb.port)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /?token=%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", testToken, host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil {
			t.Fatalf("Host %s: %v", host, err)
		}
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("Host %s: got %d; want 403 (or 400 from the HTTP server)", host, resp.StatusCode)
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
		{"own origin in upper case", "?token=" + testToken, strings.ToUpper(own), true},
		{"foreign origin on our port", "?token=" + testToken, "http://attacker.example:" + tb.port, false},
		{"foreign origin with the cookie's token", "?token=" + testToken, "http://127.0.0.1:1", false},
		{"own host over https", "?token=" + testToken, "https://127.0.0.1:" + tb.port, false},
		{"localhost for 127.0.0.1", "?token=" + testToken, "http://localhost:" + tb.port, false},
		{"sandboxed frame or file://", "?token=" + testToken, "null", false},
		{"listed origin's subdomain", "?token=" + testToken, "https://evil.course.example", false},
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

// do sends one call and returns its result.
func do(t *testing.T, ws *websocket.Conn, c wire.Call) *wire.Result {
	t.Helper()
	send(t, ws, c)
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

// TestPolicyRefusalsOverWebSocket: each rule of the policy refuses over a
// real session, names itself and the flag that changes it, and the bridge
// logs it in one line.
func TestPolicyRefusalsOverWebSocket(t *testing.T) {
	tb := newTestBridge(t, func(c *config) { c.policy.MaxSockets = 2 })
	ws := dialSession(t, tb)
	ap := func(s string) netip.AddrPort { return mustAddrPort(t, s) }
	do(t, ws, wire.Call{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"})
	do(t, ws, wire.Call{ID: 2, Op: wire.OpSocket, Family: "AF_INET6", Type: "SOCK_STREAM"})
	for _, tc := range []struct {
		name       string
		call       wire.Call
		rule, flag string
	}{
		{"bind any address", wire.Call{Op: wire.OpBind, FD: 3, Addr: ap("0.0.0.0:0")}, "loopback-only", "--allow-external"},
		{"bind any IPv6 address", wire.Call{Op: wire.OpBind, FD: 4, Addr: ap("[::]:0")}, "loopback-only", "--allow-external"},
		{"bind another machine's address", wire.Call{Op: wire.OpBind, FD: 3, Addr: ap("192.0.2.1:8080")}, "loopback-only", "--allow-external"},
		{"connect beyond this machine", wire.Call{Op: wire.OpConnect, FD: 3, Addr: ap("192.0.2.1:80")}, "loopback-only", "--allow-external"},
		{"connect to an IPv4-mapped outside address", wire.Call{Op: wire.OpConnect, FD: 4, Addr: ap("[::ffff:192.0.2.1]:80")}, "loopback-only", "--allow-external"},
		{"bind a privileged port", wire.Call{Op: wire.OpBind, FD: 3, Addr: ap("127.0.0.1:80")}, "ports", "--ports"},
		{"connect to port 0", wire.Call{Op: wire.OpConnect, FD: 3, Addr: ap("127.0.0.1:0")}, "ports", "--ports"},
		{"one socket too many", wire.Call{Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}, "max-sockets", "--max-sockets"},
	} {
		tc.call.ID = 100
		r := do(t, ws, tc.call)
		if r.Refused == nil || r.Refused.Rule != tc.rule || r.Refused.Flag != tc.flag || r.Errno != "" {
			t.Errorf("%s: got %+v; want a refusal by %s naming %s", tc.name, r, tc.rule, tc.flag)
			continue
		}
		tb.waitLog(t, "refused "+string(tc.call.Op), tc.rule, tc.flag)
	}
}

func TestSessionCap(t *testing.T) {
	tb := newTestBridge(t, func(c *config) { c.maxSessions = 2 })
	dialSession(t, tb)
	dialSession(t, tb)
	ws, resp, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+tb.port+"/ws?token="+testToken, http.Header{"Origin": {tb.base}})
	if err == nil {
		ws.Close()
		t.Fatal("a third page got a session; want a refusal at --max-sessions 2")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third page: got %v; want 503", err)
	}
	tb.waitLog(t, "refused", "--max-sessions")
}

// TestPendingCallCap: calls beyond --max-pending-calls are answered with a
// problem naming the flag; the session and its blocked calls carry on.
func TestPendingCallCap(t *testing.T) {
	tb := newTestBridge(t, func(c *config) { c.maxPending = 2 })
	ws := dialSession(t, tb)
	listenOnFreePort(t, ws)
	var frame []byte
	for id := uint64(10); id < 13; id++ { // two block in accept, the third is one too many
		frame, _ = wire.AppendRecord(frame, wire.Record{Call: &wire.Call{ID: id, Op: wire.OpAccept, FD: 3}})
	}
	ws.WriteMessage(websocket.BinaryMessage, frame)
	rec := next(t, ws)
	if rec.Problem == nil || rec.Problem.ID != 12 || !strings.Contains(rec.Problem.Message, "--max-pending-calls") {
		t.Fatalf("third blocked call: got %+v; want a problem for call 12 naming --max-pending-calls", rec)
	}
	tb.waitLog(t, "refused a record", "--max-pending-calls")
}

// TestCallsAreSlowedAndLogged: over the calls-per-second cap, calls still
// succeed, and the bridge says once that it slows the session.
func TestCallsAreSlowedAndLogged(t *testing.T) {
	tb := newTestBridge(t, func(c *config) { c.policy.CallsPerSecond, c.policy.CallBurst = 20, 1 })
	ws := dialSession(t, tb)
	for id := range uint64(4) {
		if r := do(t, ws, wire.Call{ID: id + 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}); r.Failed() {
			t.Fatalf("call %d over the cap: got %+v; want it slowed, not failed", id+1, r)
		}
	}
	tb.waitLog(t, "slowing its calls to 20 a second", "--max-calls-per-second")
	if n := strings.Count(tb.log.String(), "slowing"); n != 1 {
		t.Errorf("the log says it slows the session %d times; want once", n)
	}
}

func TestFlagsForEveryCap(t *testing.T) {
	cfg, err := parseFlags([]string{"--max-pending-calls", "9", "--max-calls-per-second", "0", "--call-burst", "3", "--max-sockets", "5", "--max-sessions", "4", "--ports", "2000-3000", "--allow-external"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.policy
	if cfg.maxPending != 9 || p.CallsPerSecond != 0 || p.CallBurst != 3 || p.MaxSockets != 5 || cfg.maxSessions != 4 || p.MinPort != 2000 || p.MaxPort != 3000 || !p.AllowExternal {
		t.Errorf("flags: got %+v", cfg)
	}
	for _, bad := range [][]string{{"--max-pending-calls", "0"}, {"--max-calls-per-second", "-1"}, {"--call-burst", "0"}, {"--ports", "80"}, {"--allow-origin", "attacker.example"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}
