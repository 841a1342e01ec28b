package bridge

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/wasm/engine"
)

// engineClient is a page's engine session (/engine), as the tests drive it.
type engineClient struct {
	t      *testing.T
	ws     *websocket.Conn
	id     string // the session's id, from its first event
	nextID uint64
	seen   []map[string]any // events read and not yet taken
}

func dialEngine(t *testing.T, tb *testBridge) *engineClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+tb.port+"/engine?token="+testToken, map[string][]string{"Origin": {tb.base}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &engineClient{t: t, ws: ws}
	ev := c.event("session", nil)
	c.id = ev["id"].(string)
	return c
}

// event waits for the first event not taken yet of type typ that match
// accepts (nil: any), and takes it.
func (c *engineClient) event(typ string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for i, e := range c.seen {
			if e["type"] == typ && (match == nil || match(e)) {
				c.seen = append(c.seen[:i], c.seen[i+1:]...)
				return e
			}
		}
		c.ws.SetReadDeadline(deadline)
		kind, frame, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for a %s event: %v", typ, err)
		}
		if kind != websocket.TextMessage {
			c.t.Fatalf("an engine session sent a binary frame")
		}
		var events []map[string]any
		if err := json.Unmarshal(frame, &events); err != nil {
			c.t.Fatalf("unreadable events %q: %v", frame, err)
		}
		c.seen = append(c.seen, events...)
	}
}

// do sends a request and returns its answer event.
func (c *engineClient) do(r engine.Request) map[string]any {
	c.t.Helper()
	c.nextID++
	r.ID = c.nextID
	if err := c.ws.WriteJSON(r); err != nil {
		c.t.Fatal(err)
	}
	return c.event("answer", func(e map[string]any) bool { return e["id"] == float64(r.ID) })
}

// run starts source and returns the runner's pid.
func (c *engineClient) run(source string) int {
	c.t.Helper()
	a := c.do(engine.Request{Method: engine.MethodRun, Source: source, Name: "lessons/04-accepting/main.go"})
	v, _ := a["value"].(map[string]any)
	if a["error"] != nil || v == nil || v["pid"].(float64) <= 0 {
		c.t.Fatalf("run: %v", a)
	}
	return int(v["pid"].(float64))
}

// echoSource is the playground's echo server on port.
func echoSource(t *testing.T, port int) string {
	src, err := os.ReadFile("../examples/echo/main.go")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(string(src), "Port: 9000", "Port: "+strconv.Itoa(port), 1)
}

// gone reports whether process pid has ended (a zombie has).
func gone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z")
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !gone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("runner %d still there %s later", pid, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEngineRunsEchoInARunner(t *testing.T) {
	tb := newTestBridge(t, nil)
	c := dialEngine(t, tb)
	port := testnet.FreePort(t)
	pid := c.run(echoSource(t, port))
	if ev := c.event("process", nil); ev["pid"] != float64(pid) || ev["name"] != "04-accepting" {
		t.Errorf("process event %v; want pid %d named 04-accepting", ev, pid)
	}

	c.event("sockets", func(e map[string]any) bool { return strings.Contains(fmt.Sprint(e["sockets"]), "listening:true") })
	// The program is a process of its own, named after what it runs, with
	// nothing of the bridge's environment, in an empty directory.
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "04-accepting" {
		t.Errorf("the runner's name is %q", comm)
	}
	if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err != nil || len(env) != 0 {
		t.Errorf("the runner's environment is %q (%v); want empty", env, err)
	}
	// A directory of its own, which it removed as it started: nothing to
	// reach there, and nothing left behind.
	if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); !strings.Contains(cwd, "sockstep-run-") || !strings.HasSuffix(cwd, " (deleted)") {
		t.Errorf("the runner works in %q; want a sockstep-run- directory of its own, removed", cwd)
	}

	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "hello runner\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := bufio.NewReader(conn).ReadString('\n'); got != "hello runner\n" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	c.event("result", func(e map[string]any) bool { return strings.HasPrefix(e["text"].(string), "13") })

	// A client of the page's panel, through the bridge.
	open := c.do(engine.Request{Method: engine.MethodClient, Op: "open", Addr: "127.0.0.1:" + strconv.Itoa(port)})
	if open["error"] != nil {
		t.Fatalf("client open: %v", open)
	}

	if a := c.do(engine.Request{Method: engine.MethodStop}); a["error"] != nil {
		t.Fatalf("stop: %v", a)
	}
	if ev := c.event("exit", nil); ev["error"] != "terminated by SIGTERM" {
		t.Errorf("exit %v; want terminated by SIGTERM", ev)
	}
	waitGone(t, pid, time.Second)
	if a := c.do(engine.Request{Method: engine.MethodStep, Kind: "step"}); a["error"] != errNotRunning.Error() {
		t.Errorf("step with nothing running: %v", a)
	}
}

func TestEngineRefusesBadRequests(t *testing.T) {
	tb := newTestBridge(t, nil)
	c := dialEngine(t, tb)
	for _, bad := range []string{`{`, `{"id":3,"method":"launch"}`, `{"id":4,"method":"run"}`, `{"id":5,"method":"step","kind":"sideways"}`, `{"id":6,"method":"run","source":"x","extra":1}`} {
		c.ws.WriteMessage(websocket.TextMessage, []byte(bad))
		if a := c.event("answer", nil); a["error"] == nil || a["error"] == "" {
			t.Errorf("%s: answer %v; want an error", bad, a)
		}
	}
	c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if a := c.event("answer", nil); a["error"] == nil {
		t.Errorf("a binary frame: answer %v; want an error", a)
	}
	// The session still works.
	pid := c.run("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"still here\") }\n")
	if ev := c.event("exit", nil); ev["error"] != "" {
		t.Errorf("exit %v", ev)
	}
	waitGone(t, pid, time.Second)
}

func TestRunnerEndsWithItsPage(t *testing.T) {
	tb := newTestBridge(t, nil)
	c := dialEngine(t, tb)
	pid := c.run("package main\n\nfunc main() { for {} }\n")
	c.ws.Close()
	waitGone(t, pid, time.Second)
}

func TestCheckReadsTheRunnersTrace(t *testing.T) {
	tb := newTestBridge(t, nil)
	c := dialEngine(t, tb)
	l, _ := lessons.ByID("10-service") // its server sets SO_REUSEADDR: other tests' runs leave TIME_WAITs
	c.run(l.Solution)
	_, lines := checkStream(t, tb, l.ID, c.id, "")
	if len(lines) == 0 || lines[len(lines)-1]["passed"] != true {
		t.Fatalf("check of lesson 10's solution in a runner: %v\nevents: %v", lines, c.seen)
	}
}

// TestSIGKILLedBridgeLeavesNoRunner kills a bridge process outright while its
// page runs a program: the kernel ends the runner with it.
func TestSIGKILLedBridgeLeavesNoRunner(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), benchBridgeEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	_, port, _ := net.SplitHostPort(addr)
	c := dialEngine(t, &testBridge{bridge: &bridge{port: port}, base: "http://" + addr})
	pid := c.run("package main\n\nfunc main() { for {} }\n")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, time.Second)
}

// untilExit waits for the program's exit event and returns what it printed
// and how it ended.
func (c *engineClient) untilExit() (output, status string) {
	c.t.Helper()
	exit := c.event("exit", nil)
	var b strings.Builder
	for _, e := range c.seen {
		if e["type"] == "output" {
			b.WriteString(e["text"].(string))
		}
	}
	c.seen = c.seen[:0]
	return b.String(), exit["error"].(string)
}

// TestHostileProgramInARunner runs hostile (learner_test.go) in a runner:
// the numbers it tries name none of the runner's real descriptors (its
// control socket included), and another page's program keeps listening.
// Imports that would reach files or processes do not compile.
func TestHostileProgramInARunner(t *testing.T) {
	tb := newTestBridge(t, nil)
	other := dialEngine(t, tb)
	port := testnet.FreePort(t)
	other.run(echoSource(t, port))
	other.event("sockets", func(e map[string]any) bool { return strings.Contains(fmt.Sprint(e["sockets"]), "listening:true") })

	c := dialEngine(t, tb)
	c.run(hostile)
	out, status := c.untilExit()
	if status != "" {
		t.Fatalf("the program ended with %q:\n%s", status, out)
	}
	if !strings.Contains(out, "on 0…1023: 0 closed, 0 read, 0 written") {
		t.Errorf("a learner's program reached a descriptor it did not open:\n%s", out)
	}
	if !strings.Contains(out, "socket 65: refused by the bridge's policy (max-sockets)") || !strings.Contains(out, "opened 64 sockets") {
		t.Errorf("sockets until refused: want the 65th refused by max-sockets:\n%s", out)
	}
	checkListens(t, "127.0.0.1:"+strconv.Itoa(port))

	for _, imp := range []string{"os/exec", "io/ioutil", "unsafe", "reflect", "net/http", "path/filepath"} {
		c.run("package main\n\nimport _ \"" + imp + "\"\n\nfunc main() {}\n")
		if _, status := c.untilExit(); !strings.Contains(status, "not available here") {
			t.Errorf("import %s: %q; want a compile error saying it is not available", imp, status)
		}
	}
	c.run("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() { _, err := os.ReadFile(\"/etc/passwd\"); fmt.Println(err) }\n")
	if _, status := c.untilExit(); !strings.Contains(status, "did not compile") {
		t.Errorf("os.ReadFile: %q; want a compile error", status)
	}
}
