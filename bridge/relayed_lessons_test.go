package bridge

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/lessons"
	"github.com/sockstep/sockstep/lessons/kit"
)

// TestEventLoopAndDatagramsRelayed runs the solutions of lessons 13 (epoll,
// non-blocking sockets) and 17 (UDP) as the in-page runner does: every call
// crosses the page's WebSocket and waits in the bridge — epoll_wait and
// recvfrom included —, and each lesson's check passes against them.
func TestEventLoopAndDatagramsRelayed(t *testing.T) {
	tb := newTestBridge(t, nil)
	for _, id := range []string{"13-eventloop", "17-datagrams"} {
		t.Run(id, func(t *testing.T) {
			l, ok := lessons.ByID(id)
			if !ok {
				t.Fatalf("no lesson %s", id)
			}
			port := testnet.FreePort(t)
			src := strings.ReplaceAll(l.Solution, strconv.Itoa(l.Port), strconv.Itoa(port))
			var ev events
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- engineOverWebSocket(t, tb, ev.emit).Run(ctx, src) }()
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Error("the program did not stop within 10s")
				}
			}()
			checkCtx, stop := context.WithTimeout(context.Background(), time.Minute)
			defer stop()
			steps, passed := l.Check(checkCtx, kit.Target{Addr: "127.0.0.1:" + strconv.Itoa(port)})
			var lines []string
			for s := range steps {
				lines = append(lines, s.Name+": "+s.Message)
			}
			if !passed() {
				t.Fatalf("the check of the relayed solution failed:\n  %s\nits output:\n%s", strings.Join(lines, "\n  "), ev.output())
			}
			t.Logf("steps:\n  %s", strings.Join(lines, "\n  "))
		})
	}
}
