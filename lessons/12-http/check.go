// Package http checks lesson 12 with real HTTP requests: the routes, the
// headers, and several clients at once.
package http

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"sockstep/lessons/kit"
)

// Check is lesson 12's checker.
func Check(c *kit.C) {
	client := &http.Client{
		Timeout:   kit.ReplyWait,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
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
			if err := k.Send("Host: " + c.Addr() + "\r\n\r\n"); err != nil {
				return err
			}
			line, err := k.Line("the status line")
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, "HTTP/1.") || !strings.Contains(line, " 200 ") {
				return fmt.Errorf("%s: expected a status line like \"HTTP/1.1 200 OK\", got %q", k.Name(), line)
			}
		}
		return nil
	})
}
