// Package http checks lesson 12 with real HTTP requests: the routes, the
// headers, and several clients at once.
package http

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sockstep/sockstep/lessons/kit"
)

// piecePause lets each piece of a request arrive in a read of its own, and
// is how long the check listens for an answer that should not come yet.
const piecePause = 150 * time.Millisecond

// answered says what a server did too early: what it sent, or that it
// closed the connection.
func answered(early string) string {
	if early == "" {
		return "closed the connection"
	}
	return fmt.Sprintf("answered (%q)", early)
}

// response reads a whole response from k: status 200, and body want unless
// want is "" — then any body.
func response(k *kit.Conn, path, want string) error {
	k.SetReadDeadline(time.Now().Add(kit.ReplyWait))
	resp, err := http.ReadResponse(k.Reader(), nil)
	if err != nil {
		return fmt.Errorf("%s waited for the response to GET %s: %v", k.Name(), path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: GET %s: reading the body (Content-Length %d): %v", k.Name(), path, resp.ContentLength, err)
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: GET %s: expected status 200 OK, got %q", k.Name(), path, resp.Status)
	}
	if want != "" && strings.TrimSpace(string(body)) != want {
		return fmt.Errorf("%s: GET %s with User-Agent %q: expected that as the body, got %q", k.Name(), path, want, body)
	}
	return nil
}

// Check is lesson 12's checker.
func Check(c *kit.C) {
	// The connections end with a reset, not a FIN: the server closes
	// first (Connection: close), and a FIN from the client after that would
	// leave the server's end in TIME_WAIT, blocking its port for a minute
	// to a program that binds without SO_REUSEADDR.
	dialer := &net.Dialer{}
	client := &http.Client{
		Timeout: kit.ReplyWait,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := dialer.DialContext(ctx, network, addr)
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				return conn, err
			}},
	}
	base := "http://" + c.Addr()
	curl := func(path string, flags ...string) string {
		return strings.Join(append(append([]string{"curl -i"}, flags...), base+path), " ")
	}
	// get makes one request and reads the whole response.
	get := func(path, agent string) (*http.Response, string, error) {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			return nil, "", err
		}
		if agent != "" {
			req.Header.Set("User-Agent", agent)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, "", fmt.Errorf("GET %s: reading the body (Content-Length %d): %v", path, resp.ContentLength, err)
		}
		return resp, string(body), nil
	}
	status := func(path string, resp *http.Response, want int) error {
		if resp.StatusCode != want {
			return fmt.Errorf("GET %s: expected status %d %s, got %q", path, want, http.StatusText(want), resp.Status)
		}
		return nil
	}

	c.Step("the server listens", curl("/"), func() error {
		conn, err := c.Dial()
		if err == nil {
			conn.Close()
		}
		return err
	})
	c.Step("GET / answers 200", curl("/"), func() error {
		resp, _, err := get("/", "")
		if err != nil {
			return err
		}
		return status("/", resp, 200)
	})
	unknown := "/" + c.Word()
	c.Step("GET "+unknown+" (an unknown path) answers 404", curl(unknown), func() error {
		resp, _, err := get(unknown, "")
		if err != nil {
			return err
		}
		return status(unknown, resp, 404)
	})
	echo := c.Word()
	c.Step("GET /echo/"+echo+" answers "+echo+" as text/plain, with its Content-Length", curl("/echo/"+echo), func() error {
		path := "/echo/" + echo
		resp, body, err := get(path, "")
		if err != nil {
			return err
		}
		if err := status(path, resp, 200); err != nil {
			return err
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			return fmt.Errorf("GET %s: expected Content-Type text/plain, got %q", path, ct)
		}
		cl := resp.Header.Get("Content-Length")
		if cl == "" {
			return fmt.Errorf("GET %s: expected a Content-Length header, found none", path)
		}
		if cl != strconv.Itoa(len(body)) {
			return fmt.Errorf("GET %s: Content-Length says %s, but the body has %d bytes", path, cl, len(body))
		}
		if body != echo {
			return fmt.Errorf("GET %s: expected the body %q, got %q", path, echo, body)
		}
		return nil
	})
	agent := "sockstep-check/" + c.Word()
	c.Step("GET /user-agent answers the User-Agent header", curl("/user-agent", "-A '"+agent+"'"), func() error {
		resp, body, err := get("/user-agent", agent)
		if err != nil {
			return err
		}
		if err := status("/user-agent", resp, 200); err != nil {
			return err
		}
		if strings.TrimSpace(body) != agent {
			return fmt.Errorf("GET /user-agent with User-Agent %q: expected that as the body, got %q", agent, body)
		}
		return nil
	})

	// A request in pieces: the request line is cut, and the User-Agent
	// header is only complete with the blank line. A server must read until
	// the blank line before it answers (lesson 7's pieces, for HTTP).
	pieceAgent := "sockstep-pieces/" + c.Word()
	cut := len("sockstep-pieces/") + 2
	pieces := []string{
		"GET /user-a",
		"gent HTTP/1.1\r\nHost: " + c.Addr() + "\r\nUser-Agent: " + pieceAgent[:cut],
		pieceAgent[cut:] + "\r\n\r\n",
	}
	c.Step("a request that arrives in pieces is answered once, after its blank line", "(printf 'GET /user-a'; sleep 1; printf 'gent HTTP/1.1\\r\\n'; sleep 1; printf 'User-Agent: x\\r\\n\\r\\n') | "+c.NCN(), func() error {
		k, err := c.Client("the client")
		if err != nil {
			return err
		}
		defer k.Close()
		for i, p := range pieces {
			if i > 0 {
				if early, ok := k.Early(piecePause); ok {
					return fmt.Errorf("sent %q so far, with no blank line yet, and the server already %s: a request ends with an empty line (\\r\\n\\r\\n); read until it has come, then answer — the headers, User-Agent among them, come after the request line", strings.Join(pieces[:i], ""), answered(early))
				}
			}
			if err := k.Send(p); err != nil {
				return err
			}
		}
		return response(k, "/user-agent", pieceAgent)
	})

	// Several at once: two clients stall half-way through their request, and
	// a third must still be served.
	var stalled []*kit.Conn
	defer func() {
		for _, k := range stalled {
			k.Close()
		}
	}()
	c.Step("two clients send half a request and stall", "(printf 'GET / HTTP/1.1\\r\\n'; sleep 30) | "+c.NC(), func() error {
		for i := range 2 {
			k, err := c.Client(fmt.Sprintf("stalled client %d", i+1))
			if err != nil {
				return err
			}
			stalled = append(stalled, k)
			if err := k.Send("GET / HTTP/1.1\r\n"); err != nil {
				return err
			}
		}
		return nil
	})
	meanwhile := c.Word()
	c.Step("meanwhile, a third client is answered", curl("/echo/"+meanwhile)+"   # while two nc are stalled", func() error {
		resp, body, err := get("/echo/"+meanwhile, "")
		if err != nil {
			return fmt.Errorf("%v — while two clients were stalled mid-request; serve each connection in a goroutine of its own", err)
		}
		if resp.StatusCode != 200 || body != meanwhile {
			return fmt.Errorf("GET /echo/%s: expected 200 and %q, got %q and %q", meanwhile, meanwhile, resp.Status, body)
		}
		return nil
	})
	c.Step("the stalled clients finish their requests and are answered", "", func() error {
		for _, k := range stalled {
			if early, ok := k.Early(20 * time.Millisecond); ok {
				return fmt.Errorf("%s sent only its request line, and the server already %s: a request ends with an empty line (\\r\\n\\r\\n); read until it has come, then answer", k.Name(), answered(early))
			}
			if err := k.Send("Host: " + c.Addr() + "\r\n\r\n"); err != nil {
				return err
			}
			if err := response(k, "/", ""); err != nil {
				return err
			}
		}
		return nil
	})
}
