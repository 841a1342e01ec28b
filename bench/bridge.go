package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// bridgeProc is bin/sockstep running as its own process, as a learner runs it.
type bridgeProc struct {
	cmd  *exec.Cmd
	url  string // the page's address, token included
	base string // http://127.0.0.1:PORT

	mu  sync.Mutex
	log []string // what it wrote to stderr
}

// startBridge runs the binary on a free port and reads the URL it prints.
func startBridge(ctx context.Context, bin string, args ...string) (*bridgeProc, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--port", "0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (make build makes it)", bin, err)
	}
	b := &bridgeProc{cmd: cmd}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.mu.Lock()
			b.log = append(b.log, sc.Text())
			b.mu.Unlock()
		}
	}()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "http://") {
				found <- line
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-found:
		b.url = u
		parsed, err := url.Parse(u)
		if err != nil {
			b.stop()
			return nil, fmt.Errorf("the bridge printed %q: %w", u, err)
		}
		b.base = "http://" + parsed.Host
		return b, nil
	case <-time.After(10 * time.Second):
		b.stop()
		return nil, fmt.Errorf("%s printed no URL within 10s", bin)
	}
}

func (b *bridgeProc) pid() int { return b.cmd.Process.Pid }

func (b *bridgeProc) token() string {
	u, _ := url.Parse(b.url)
	return u.Query().Get("token")
}

// stderrLines returns what the bridge logged so far.
func (b *bridgeProc) stderrLines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

func (b *bridgeProc) stop() {
	b.cmd.Process.Kill()
	b.cmd.Wait()
}

// served is one asset as the bridge serves it to a client that accepts
// acceptEncoding: its size on the wire and its Content-Encoding.
func (b *bridgeProc) served(name, acceptEncoding string) (size int64, encoding string, err error) {
	req, err := http.NewRequest(http.MethodGet, b.base+"/"+name+"?token="+b.token(), nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept-Encoding", acceptEncoding)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("GET %s: %s", name, resp.Status)
	}
	size, err = io.Copy(io.Discard, resp.Body)
	return size, resp.Header.Get("Content-Encoding"), err
}

// idleSession opens a WebSocket session as a page would, and waits for the
// bridge's hello.
func (b *bridgeProc) idleSession() (*websocket.Conn, error) {
	wsURL := strings.Replace(b.base, "http://", "ws://", 1) + "/ws?token=" + b.token()
	header := http.Header{"Origin": {b.base}}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial(wsURL, header)
	if err != nil {
		return nil, fmt.Errorf("open a session: %w", err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil {
		ws.Close()
		return nil, fmt.Errorf("the session's hello: %w", err)
	}
	return ws, nil
}
