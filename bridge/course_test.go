package bridge

// A course's own site hosting the page (--allow-origin): the flag, the link
// the bridge prints, and the lesson API's CORS answers, for the allowed
// origin only. The same end to end in Chromium: course_e2e_test.go.

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCourseOriginFlag(t *testing.T) {
	for _, tc := range []struct{ in, origin, page string }{
		{"https://course.example", "https://course.example", "https://course.example/"},
		{"https://course.example/", "https://course.example", "https://course.example/"},
		{"https://Course.Example:443/sockstep/", "https://course.example", "https://course.example/sockstep/"},
		{"HTTPS://course.example:8443/a/b/index.html", "https://course.example:8443", "https://course.example:8443/a/b/index.html"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"http://[::1]:80/x/", "http://[::1]", "http://[::1]/x/"},
	} {
		cfg, err := parseFlags([]string{"--allow-origin", tc.in}, io.Discard)
		if err != nil {
			t.Errorf("--allow-origin %s: %v", tc.in, err)
			continue
		}
		if len(cfg.allowOrigins) != 1 || cfg.allowOrigins[0] != tc.origin || cfg.coursePages[0] != tc.page {
			t.Errorf("--allow-origin %s: origins %q, pages %q; want %q and %q", tc.in, cfg.allowOrigins, cfg.coursePages, tc.origin, tc.page)
		}
	}
	for _, bad := range []string{"course.example", "ftp://course.example", "https://", "https://user@course.example",
		"https://course.example/?x=1", "https://course.example/#bridge=1", "https://course.example?", "https://:443"} {
		if _, err := parseFlags([]string{"--allow-origin", bad}, io.Discard); err == nil {
			t.Errorf("--allow-origin %s: accepted; want a refusal", bad)
		}
	}
	for origin, insecure := range map[string]bool{
		"https://course.example": false, "http://course.example": true, "http://127.0.0.1:8080": false,
		"http://localhost:3000": false, "http://[::1]:3000": false, "http://10.0.0.1": true, "http://app.localhost:3000": false,
	} {
		if got := insecureOrigin(origin); got != insecure {
			t.Errorf("insecureOrigin(%s) = %v; want %v", origin, got, insecure)
		}
	}
}

// TestCourseLinkIsPrinted: sockstep --allow-origin prints, on a line of its
// own that starts with the origin, the course's page with the bridge's
// address and token in the fragment; plain http is warned about.
func TestCourseLinkIsPrinted(t *testing.T) {
	var stdout, stderr logBuffer // read while the bridge writes
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--port", "0", "--allow-origin", "https://course.example/sockstep/", "--allow-origin", "http://course.example:8080"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the bridge ended with %v", err)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "Ctrl-C"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no start-up message within 10s:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	var own, token, port string
	links := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	for sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "http://127.0.0.1:"); ok && own == "" {
			own = line
			port, token, _ = strings.Cut(u, "/?token=")
		}
		for _, origin := range []string{"https://course.example", "http://course.example:8080"} {
			if strings.HasPrefix(line, origin) {
				links[origin] = line
			}
		}
	}
	if own == "" || len(token) != 32 {
		t.Fatalf("no URL of the bridge's own page in:\n%s", stdout.String())
	}
	want := map[string]string{
		"https://course.example":     "https://course.example/sockstep/#bridge=127.0.0.1:" + port + "&token=" + token,
		"http://course.example:8080": "http://course.example:8080/#bridge=127.0.0.1:" + port + "&token=" + token,
	}
	for origin, link := range want {
		if links[origin] != link {
			t.Errorf("the line starting with %s: %q; want %q\n%s", origin, links[origin], link, stdout.String())
		}
	}
	if s := stderr.String(); !strings.Contains(s, "http://course.example:8080 is plain http") || strings.Contains(s, "https://course.example is") {
		t.Errorf("want a note about the plain http origin only; stderr:\n%s", s)
	}
}

// TestCourseCORS: the lesson API answers a page of an allowed origin with
// CORS headers (refusals too, so the page can say what went wrong), never
// one of another origin, and never with credentials. Nothing else of the
// bridge gets CORS headers.
func TestCourseCORS(t *testing.T) {
	const course = "https://course.example"
	tb := newTestBridge(t, func(c *config) {
		c.allowOrigins = []string{course}
		c.coursePages = []string{course + "/"}
	})
	tok := "?token=" + testToken
	_, session := dialSessionID(t, tb)
	for _, tc := range []struct {
		name, method, path, origin string
		header                     map[string]string
		body                       string
		want                       int
		cors                       bool // the answer names origin in Access-Control-Allow-Origin
	}{
		{name: "lessons", path: "/api/lessons" + tok, origin: course, want: 200, cors: true},
		{name: "lessons, origin in another case", path: "/api/lessons" + tok, origin: "https://COURSE.example", want: 200, cors: true},
		{name: "lessons, HEAD", method: "HEAD", path: "/api/lessons" + tok, origin: course, want: 200, cors: true},
		{name: "a solution", path: "/api/lessons/02-binding/solution" + tok, origin: course, want: 200, cors: true},
		{name: "no such lesson", path: "/api/lessons/99-nothing/solution" + tok, origin: course, want: 404, cors: true},
		{name: "wrong token", path: "/api/lessons?token=ffffffffffffffffffffffffffffffff", origin: course, want: 403, cors: true},
		{name: "no token", path: "/api/lessons", origin: course, want: 403, cors: true},
		{name: "preflight of a check", method: "OPTIONS", path: "/api/check" + tok, origin: course,
			header: map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}, want: 204, cors: true},
		{name: "check", method: "POST", path: "/api/check" + tok, origin: course, header: map[string]string{"Content-Type": "application/json"},
			body: `{"lesson":"99-nothing","session":"` + session + `"}`, want: 404, cors: true},
		{name: "check of another origin", method: "POST", path: "/api/check" + tok, origin: "https://attacker.example",
			header: map[string]string{"Content-Type": "application/json"}, body: `{"lesson":"02-binding","session":"` + session + `"}`, want: 403},
		{name: "lessons from another origin", path: "/api/lessons" + tok, origin: "https://attacker.example", want: 200},
		{name: "lessons from a subdomain", path: "/api/lessons" + tok, origin: "https://evil.course.example", want: 200},
		{name: "lessons from http", path: "/api/lessons" + tok, origin: "http://course.example", want: 200},
		{name: "lessons from null", path: "/api/lessons" + tok, origin: "null", want: 200},
		{name: "preflight from another origin", method: "OPTIONS", path: "/api/check" + tok, origin: "https://attacker.example",
			header: map[string]string{"Access-Control-Request-Method": "POST"}, want: 405},
		{name: "preflight without token", method: "OPTIONS", path: "/api/check", origin: course,
			header: map[string]string{"Access-Control-Request-Method": "POST"}, want: 403, cors: true},
		{name: "OPTIONS that is no preflight", method: "OPTIONS", path: "/api/check" + tok, origin: course, want: 405, cors: true},
		{name: "the page, from the course", path: "/" + tok, origin: course, want: 200},
		{name: "an asset, from the course", path: "/placeholder.html" + tok, origin: course, want: 200},
		{name: "preflight of the WebSocket's address", method: "OPTIONS", path: "/ws" + tok, origin: course,
			header: map[string]string{"Access-Control-Request-Method": "GET"}, want: 400},
		{name: "the bridge's own page", path: "/api/lessons" + tok, origin: tb.base, want: 200},
	} {
		method := tc.method
		if method == "" {
			method = "GET"
		}
		req, _ := http.NewRequest(method, tb.base+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Origin", tc.origin)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: got %d; want %d", tc.name, resp.StatusCode, tc.want)
		}
		acao := resp.Header.Get("Access-Control-Allow-Origin")
		switch {
		case tc.cors && acao != tc.origin:
			t.Errorf("%s: Access-Control-Allow-Origin %q; want %q", tc.name, acao, tc.origin)
		case !tc.cors && acao != "":
			t.Errorf("%s: Access-Control-Allow-Origin %q; want none", tc.name, acao)
		}
		if v := resp.Header.Get("Access-Control-Allow-Credentials"); v != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q; want none: the token, never the cookie, lets a course page in", tc.name, v)
		}
		if tc.cors && !strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Errorf("%s: Vary %q; want Origin", tc.name, resp.Header.Get("Vary"))
		}
		if tc.method == "OPTIONS" && tc.want == 204 {
			if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
				t.Errorf("%s: Access-Control-Allow-Methods %q; want POST", tc.name, m)
			}
			if h := resp.Header.Get("Access-Control-Allow-Headers"); !strings.EqualFold(h, "Content-Type") {
				t.Errorf("%s: Access-Control-Allow-Headers %q; want Content-Type", tc.name, h)
			}
		}
	}
	tb.waitLog(t, "refused POST /api/check", `Origin "https://attacker.example" may not run checks`)
}
