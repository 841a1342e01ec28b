package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/native/wire"
)

// api makes one request with the test token's cookie unless noToken.
func api(t *testing.T, tb *testBridge, method, path, ctype, body string, noToken bool) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, tb.base+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if !noToken {
		req.AddCookie(&http.Cookie{Name: tokenCookie, Value: testToken})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestLessonsAPI(t *testing.T) {
	tb := newTestBridge(t, nil)
	code, body, h := api(t, tb, "GET", "/api/lessons", "", "", false)
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/lessons: %d %s", code, h.Get("Content-Type"))
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 17 {
		t.Fatalf("got %d lessons; want 17", len(list))
	}
	l2 := list[1]
	if l2["id"] != "02-binding" || l2["number"] != 2.0 || l2["title"] != "Binding" || l2["port"] != 9002.0 ||
		!strings.HasPrefix(l2["text"].(string), "# Binding") || !strings.Contains(l2["starter"].(string), "package main") {
		t.Errorf("lesson 2: %v", l2)
	}
	if _, ok := l2["solution"]; ok {
		t.Error("the list carries the solution; it should be asked for on its own")
	}

	code, body, _ = api(t, tb, "GET", "/api/lessons/02-binding/solution", "", "", false)
	var sol struct{ ID, Solution string }
	json.Unmarshal([]byte(body), &sol)
	want, _ := lessons.ByID("02-binding")
	if code != 200 || sol.ID != "02-binding" || sol.Solution != want.Solution {
		t.Errorf("solution: %d %q", code, body)
	}

	for _, tc := range []struct {
		name, method, path, ctype, body string
		noToken                         bool
		want                            int
		says                            string
	}{
		{"list without token", "GET", "/api/lessons", "", "", true, 403, "token"},
		{"solution without token", "GET", "/api/lessons/02-binding/solution", "", "", true, 403, "token"},
		{"check without token", "POST", "/api/check", "application/json", `{"lesson":"02-binding","session":"x"}`, true, 403, "token"},
		{"unknown lesson's solution", "GET", "/api/lessons/99-nothing/solution", "", "", false, 404, `no lesson "99-nothing"`},
		{"unknown API", "GET", "/api/nothing", "", "", false, 404, "no such API"},
		{"check as a form", "POST", "/api/check", "application/x-www-form-urlencoded", `lesson=02-binding`, false, 415, "application/json"},
		{"check with bad JSON", "POST", "/api/check", "application/json", `{"lesson":`, false, 400, "bad check request"},
		{"check of an unknown session", "POST", "/api/check", "application/json", `{"lesson":"02-binding","session":"0123"}`, false, 404, `no open session "0123"`},
		{"check of an unknown lesson", "POST", "/api/check", "application/json", `{"lesson":"13-more","session":"0123"}`, false, 404, `no lesson "13-more"`},
		{"check by GET", "GET", "/api/check", "", "", false, 405, "POST"},
	} {
		code, body, _ := api(t, tb, tc.method, tc.path, tc.ctype, tc.body, tc.noToken)
		if code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s: got %d %q; want %d saying %q", tc.name, code, body, tc.want, tc.says)
		}
	}
}

// checkStream posts a check and reads its NDJSON lines.
func checkStream(t *testing.T, tb *testBridge, lesson, session string, origin string) (int, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", tb.base+"/api/check", strings.NewReader(`{"lesson":"`+lesson+`","session":"`+session+`"}`))
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.AddCookie(&http.Cookie{Name: tokenCookie, Value: testToken})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type: got %q; want application/x-ndjson", ct)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return resp.StatusCode, lines
}

// TestCheckOverASession does what lesson 2's program does, call by call,
// over a real page session, then asks the bridge to check that session.
func TestCheckOverASession(t *testing.T) {
	tb := newTestBridge(t, nil)
	ws, id := dialSessionID(t, tb)

	// Before any call: lesson 2's check fails, saying what is missing.
	_, lines := checkStream(t, tb, "02-binding", id, "")
	if len(lines) != 2 || lines[0]["ok"] != false || !strings.Contains(lines[0]["message"].(string), "EADDRINUSE") ||
		lines[1]["done"] != true || lines[1]["passed"] != false {
		t.Fatalf("check of an empty session: %v", lines)
	}

	port := netip.MustParseAddrPort("127.0.0.1:" + strconv.Itoa(testnet.FreePort(t)))
	for _, c := range []wire.Call{
		{ID: 1, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
		{ID: 2, Op: wire.OpBind, FD: 3, Addr: port},
		{ID: 3, Op: wire.OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"},
	} {
		if r := do(t, ws, c); r.Failed() {
			t.Fatalf("%s: %+v", wire.FormatCall(&c), r)
		}
	}
	if r := do(t, ws, wire.Call{ID: 4, Op: wire.OpBind, FD: 4, Addr: port}); r.Errno != "EADDRINUSE" {
		t.Fatalf("second bind: %+v", r)
	}

	if code, _ := checkStream(t, tb, "02-binding", id, "https://attacker.example"); code != http.StatusForbidden {
		t.Errorf("check from a foreign origin: got %d; want 403", code)
	}
	_, lines = checkStream(t, tb, "02-binding", id, tb.base)
	if len(lines) != 3 || lines[2]["done"] != true || lines[2]["passed"] != true {
		t.Fatalf("check: %v", lines)
	}
	for _, l := range lines[:2] {
		if l["ok"] != true || l["step"] == "" || l["message"] == "" {
			t.Errorf("step: %v", l)
		}
	}

	// One check at a time per page: lesson 3's check waits for a server
	// that this session never started.
	first := make(chan []map[string]any, 1)
	go func() {
		_, lines := checkStream(t, tb, "03-listening", id, "")
		first <- lines
	}()
	for deadline := time.Now().Add(5 * time.Second); !tb.sessionByID(id).checking.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first check did not start within 5s")
		}
	}
	if code, _ := checkStream(t, tb, "02-binding", id, ""); code != http.StatusConflict {
		t.Errorf("a second check while one runs: got %d; want 409", code)
	}
	if lines := <-first; len(lines) == 0 || lines[len(lines)-1]["done"] != true {
		t.Errorf("the first check did not finish: %v", lines)
	}

	// The page goes away: its session with it.
	ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for tb.sessionByID(id) != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := checkStream(t, tb, "02-binding", id, ""); code != http.StatusNotFound {
		t.Errorf("check of a closed session: got %d; want 404", code)
	}
}

// TestCheckCommand runs `sockstep check` against programs built with go
// build, each running as a process of its own: lesson 4's solution passes,
// saying which step only the playground's trace can verify; its starter
// fails, saying how to reproduce it; and a lesson 8 program that ends with
// os.Exit — right from outside, wrong in the trace — gets no plain PASS.
func TestCheckCommand(t *testing.T) {
	l4, _ := lessons.ByID("04-accepting")
	l8, _ := lessons.ByID("08-ending")
	osExit, err := os.ReadFile("../lessons/08-ending/testdata/os_exit.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		lesson lessons.Lesson
		src    string
		want   int
		says   []string
	}{
		{"solution", l4, l4.Solution, 0, []string{"skip  accept gave a new descriptor", "PASS — 1 of ", " steps needs the playground's trace: lesson 04-accepting",
			"not verified here", "\n        accept gave a new descriptor, which was closed; the listener was not\n"}},
		{"starter", l4, l4.Starter, 1, []string{"FAIL: lesson 04-accepting", "try: nc 127.0.0.1 PORT"}},
		{"os.Exit", l8, string(osExit), 0, []string{"PASS — 1 of ", "lesson 08-ending", "not verified here", "the program closed its listener itself"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := strconv.Itoa(testnet.FreePort(t))
			file := filepath.Join(dir, tc.lesson.ID+"-"+tc.name+".go")
			os.WriteFile(file, []byte(strings.ReplaceAll(tc.src, strconv.Itoa(tc.lesson.Port), port)), 0o644)
			bin := filepath.Join(dir, tc.lesson.ID+"-"+tc.name)
			build := exec.Command("go", "build", "-o", bin, file)
			build.Dir = dir
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			server := exec.CommandContext(ctx, bin)
			if err := server.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				server.Process.Kill()
				server.Wait()
			}()
			var out, errOut bytes.Buffer
			code := Main(ctx, []string{"check", strconv.Itoa(tc.lesson.Number), "--addr", "127.0.0.1:" + port}, &out, &errOut)
			if code != tc.want {
				t.Errorf("exit %d; want %d:\n%s%s", code, tc.want, out.String(), errOut.String())
			}
			if strings.Contains(out.String(), "PASS:") && tc.want == 0 {
				t.Errorf("a plain PASS, though steps were skipped:\n%s", out.String())
			}
			for _, says := range tc.says {
				if !strings.Contains(out.String(), strings.ReplaceAll(says, "PORT", port)) {
					t.Errorf("the output should say %q:\n%s", says, out.String())
				}
			}
		})
	}
	for _, args := range [][]string{{"check"}, {"check", "99"}, {"check", "4", "--nope"}, {"check", "--addr", "127.0.0.1:1", "4", "--nope"}, {"check", "4", "extra"}} {
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d; want 2", args, code)
		}
	}
}

// TestCheckCommandSeedAndSignal: `--seed` replays a check's random choices
// (lesson 14's cuts: the same failure, word for word), and lesson 15's
// check finds the natively run program's process by its listening socket,
// signals it, and sees it end.
func TestCheckCommandSeedAndSignal(t *testing.T) {
	dir := t.TempDir()
	start := func(t *testing.T, l lessons.Lesson, src string) (port string, ended <-chan struct{}, exit func() error) {
		t.Helper()
		port = strconv.Itoa(testnet.FreePort(t))
		file := filepath.Join(dir, l.ID+".go")
		os.WriteFile(file, []byte(strings.ReplaceAll(src, strconv.Itoa(l.Port), port)), 0o644)
		bin := filepath.Join(dir, l.ID)
		build := exec.Command("go", "build", "-o", bin, file)
		build.Dir = dir
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		server := exec.Command(bin)
		if err := server.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var err error
		go func() { err = server.Wait(); close(done) }()
		t.Cleanup(func() {
			server.Process.Kill()
			<-done
		})
		return port, done, func() error { <-done; return err }
	}
	check := func(t *testing.T, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out, errOut bytes.Buffer
		code := Main(ctx, append([]string{"check"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}

	t.Run("seed", func(t *testing.T) {
		l, _ := lessons.ByID("14-framing")
		port, _, _ := start(t, l, l.Starter)
		code1, out1 := check(t, "14", "--addr", "127.0.0.1:"+port, "--seed", "7")
		code2, out2 := check(t, "14", "--addr", "127.0.0.1:"+port, "--seed", "7")
		// The steps name the messages and the writes they were cut into;
		// what the wrong server answered depends on how its reads fell.
		steps := func(out string) (lines []string) {
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "ok  ") || strings.HasPrefix(line, "FAIL  ") {
					lines = append(lines, line)
				}
			}
			return lines
		}
		if code1 != 1 || code2 != 1 || !slices.Equal(steps(out1), steps(out2)) || len(steps(out1)) < 3 || !strings.Contains(out1, "--seed 7") {
			t.Errorf("the same seed twice: exit %d and %d; outputs\n%s\nand\n%s", code1, code2, out1, out2)
		}
	})
	t.Run("signal", func(t *testing.T) {
		l, _ := lessons.ByID("15-shutdown")
		port, ended, exit := start(t, l, l.Solution)
		code, out := check(t, "15", "--addr", "127.0.0.1:"+port)
		if code != 0 || !strings.Contains(out, "PASS — 1 of ") || !strings.Contains(out, "ok    once its last client has left, the program ends") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		select {
		case <-ended:
			if err := exit(); err != nil {
				t.Errorf("the program ended with %v; want exit status 0", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the program was still running after the check")
		}
	})
}
