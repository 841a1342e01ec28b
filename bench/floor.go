package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// The floor under the call round trip: a bare WebSocket ping-pong between a
// Chromium worker and a Go server, with no engine and no interpreter, in the
// same browser and run. The relayed call can only be slower than this.

const floorPage = `<!doctype html><meta charset="utf-8"><title>floor</title><pre id="out">running</pre>
<script>new Worker("worker.js").onmessage = (e) => { document.getElementById("out").textContent = e.data; };</script>`

// floorWorker sends 64-byte binary messages one at a time and reports the
// median and 99th percentile round trip in nanoseconds.
const floorWorker = `const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws");
ws.binaryType = "arraybuffer";
const msg = new Uint8Array(64), took = [];
const warmup = 200, rounds = 2000; // floorRounds in all
let start = 0, n = 0;
ws.onopen = () => { start = performance.now(); ws.send(msg); };
ws.onmessage = () => {
  const now = performance.now();
  if (n++ >= warmup) took.push(now - start);
  if (took.length === rounds) {
    took.sort((a, b) => a - b);
    postMessage("floor p50=" + Math.round(took[rounds / 2] * 1e6) + " p99=" + Math.round(took[Math.floor(rounds * 0.99)] * 1e6) + " ns");
    ws.close();
    return;
  }
  start = performance.now();
  ws.send(msg);
};
ws.onerror = () => postMessage("floor failed");`

// floorRounds is how many round trips the floor's worker makes, warm-up included.
const floorRounds = 2200

// webSocketFloor serves the page above on a loopback port of its own and
// reads the worker's figures from it in the browser p: the round trip, and
// the worker thread's CPU per round trip (Chromium's own cost of a message
// each way, which a relayed call pays too).
func webSocketFloor(ctx context.Context, p *page) (p50, p99, cpu time.Duration, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, 0, err
	}
	defer ln.Close()
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "http://"+r.Host }}
	mux := http.NewServeMux()
	isolated := func(w http.ResponseWriter, ctype, body string) {
		// Cross-origin isolated, as the playground is, for the same clock resolution.
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		w.Header().Set("Cross-Origin-Embedder-Policy", "require-corp")
		w.Header().Set("Content-Type", ctype)
		fmt.Fprint(w, body)
	}
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { isolated(w, "text/html", floorPage) })
	mux.HandleFunc("/worker.js", func(w http.ResponseWriter, r *http.Request) { isolated(w, "text/javascript", floorWorker) })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for i := 0; i < 10_000; i++ { // bounded: the worker sends floorRounds
			ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			kind, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(kind, msg); err != nil {
				return
			}
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	before, _ := p.rendererThreads() // the playground's worker, which navigating away ends
	if err := navigate(p, "http://"+ln.Addr().String()+"/"); err != nil {
		return 0, 0, 0, err
	}
	if err := p.waitFor(`/floor (p50|failed)/.test(document.getElementById("out").textContent)`, time.Minute); err != nil {
		return 0, 0, 0, fmt.Errorf("bare WebSocket round trip: %w", err)
	}
	out, err := eval[string](p, `document.getElementById("out").textContent`)
	if err != nil {
		return 0, 0, 0, err
	}
	m := regexp.MustCompile(`floor p50=(\d+) p99=(\d+) ns`).FindStringSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("bare WebSocket round trip: the worker said %q", out)
	}
	a, _ := strconv.ParseInt(m[1], 10, 64)
	b, _ := strconv.ParseInt(m[2], 10, 64)
	// Read while the floor's worker lives: the one thread that was not there before.
	after, err := p.rendererThreads()
	if err != nil {
		return 0, 0, 0, err
	}
	for id, th := range after {
		if _, old := before[id]; th.worker && !old {
			cpu += th.cpu
		}
	}
	return time.Duration(a), time.Duration(b), cpu / floorRounds, nil
}
