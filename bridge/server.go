package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/runner"
	"github.com/sockstep/sockstep/site"
)

// tokenCookie keeps the token after the first load, so the page may drop it
// from the address bar.
const tokenCookie = "sockstep_token"

// bridge serves one playground: the page, and a WebSocket session per page.
type bridge struct {
	cfg      config
	ln       net.Listener
	port     string // the port actually bound, for the Host check
	token    string
	assets   fs.FS
	log      *bridgeLog
	upgrader websocket.Upgrader
	api      *http.ServeMux // /api/: the lessons and their checks

	recent recentPorts // ports of ended sessions, whose leftovers new sessions show

	mu       sync.Mutex
	sessions map[*session]struct{}
	opening  int            // sessions between the cap's check and their entry in sessions
	closing  bool           // shutting down: no session may start, and one still opening ends at once
	freeing  bool           // memory is about to be given back (giveMemoryBack)
	running  sync.WaitGroup // one per session, from the cap's check on
	etags    sync.Map       // asset name → its ETag

	// base is every request's context; shutting down cancels it, which ends
	// the lesson checks in progress.
	base     context.Context
	stopBase context.CancelFunc

	afterUpgrade func() // tests: runs between a WebSocket's upgrade and its session's start
}

// listen binds 127.0.0.1:port and prepares the bridge. A taken port gets a
// message that says what to do.
func listen(cfg config, logTo io.Writer) (*bridge, error) {
	runner.SweepWorkDirs()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("port %d is already in use by another program; choose another: PORT=%d make run (or sockstep --port %d)", cfg.port, cfg.port+1, cfg.port+1)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:%d: %w", cfg.port, err)
	}
	token := cfg.token
	if token == "" {
		token = randomHex()
	}
	base, stopBase := context.WithCancel(context.Background())
	b := &bridge{
		base:     base,
		stopBase: stopBase,
		cfg:      cfg,
		ln:       ln,
		port:     strconv.Itoa(ln.Addr().(*net.TCPAddr).Port),
		token:    token,
		assets:   site.Dist(),
		log:      newBridgeLog(logTo),
		sessions: make(map[*session]struct{}),
	}
	b.api = b.lessonAPI()
	b.upgrader = websocket.Upgrader{
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 64 << 10,
		CheckOrigin:     b.originAllowed,
	}
	return b, nil
}

// randomHex is 128 random bits in hex: a token, a session's id.
func randomHex() string {
	secret := make([]byte, 16)
	rand.Read(secret)
	return hex.EncodeToString(secret)
}

// url is the address to open, token included.
func (b *bridge) url() string {
	return "http://127.0.0.1:" + b.port + "/?token=" + b.token
}

// courseLinks are the addresses that open the page each allowed origin
// hosts (--allow-origin) with this bridge: its address and token travel in
// the fragment, which the browser never sends to the course's server. The
// page reads them there (site/src/bridge.js).
func (b *bridge) courseLinks() []string {
	links := make([]string, len(b.cfg.coursePages))
	for i, page := range b.cfg.coursePages {
		links[i] = page + "#bridge=127.0.0.1:" + b.port + "&token=" + b.token
	}
	return links
}

// serve answers requests until ctx ends, then closes every session and
// waits for them to finish.
func (b *bridge) serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          b.log.std("errors of the HTTP server"),
		BaseContext:       func(net.Listener) context.Context { return b.base },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(b.ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	b.log.Print("shutting down: closing every session")
	// Sessions first: hijacked WebSockets are not the server's business,
	// and ending a session ends its lesson check, for which Shutdown would
	// otherwise wait.
	b.closeSessions()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	b.running.Wait()
	return err
}

// ServeHTTP checks every request — Host, then token — before routing it.
// Every answer, refusals included, carries the headers that keep other
// pages from framing or sniffing it. Only the lesson API's answers to a page
// of an origin listed with --allow-origin carry CORS headers (that page holds
// the token, from the link the bridge printed); a page of any other origin
// can at most send a request (fetch with mode "no-cors"), never read an
// answer.
func (b *bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	if !b.hostAllowed(r.Host) {
		b.refuse(w, r, http.StatusForbidden, fmt.Sprintf("Host %s is not this bridge's loopback address (a guard against DNS rebinding); open http://127.0.0.1:%s/", quoted(r.Host), b.port))
		return
	}
	api := strings.HasPrefix(r.URL.Path, "/api/")
	if api {
		b.allowCourse(w, r)
	}
	if !b.tokenValid(r) {
		b.refuse(w, r, http.StatusForbidden, "missing or wrong token: open the URL that sockstep printed when it started")
		return
	}
	if r.URL.Path == "/ws" || r.URL.Path == "/engine" {
		b.serveWebSocket(w, r, r.URL.Path == "/engine")
		return
	}
	if api {
		if r.Method == http.MethodOptions && h.Get("Access-Control-Allow-Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			b.preflight(w, r)
			return
		}
		b.api.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		b.refuse(w, r, http.StatusMethodNotAllowed, "only GET is served here")
		return
	}
	if r.URL.Query().Get("token") != "" {
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: b.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	b.serveAsset(w, r)
}

// refuse answers with status and a one-line reason, and logs the refusal in
// one line (the method and path as untrusted text, rate-limited by the kind
// of refusal: see logs.go).
func (b *bridge) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	b.log.Kindf(refusalKind(status, reason), "refused %s %s from %s: %s", untrusted(r.Method), untrusted(r.URL.Path), r.RemoteAddr, reason)
	http.Error(w, reason, status)
}

// refusalKind names a refusal's kind for the log's rate limit: its status
// and its reason up to the first quote, colon or parenthesis, where the
// words from the request begin ("refused (403): missing or wrong token").
// So the kinds are as few as the reasons the bridge gives.
func refusalKind(status int, reason string) string {
	if i := strings.IndexAny(reason, `"(:`); i >= 0 {
		reason = reason[:i]
	}
	return fmt.Sprintf("refused (%d): %s", status, strings.TrimSpace(cut(reason, 48)))
}

// contentSecurityPolicy lets the page load only its own scripts, styles,
// workers and engine, connect only to its own origin, and never be framed
// (no clickjacking of Run).
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// hostAllowed accepts only loopback names with the bridge's port: a page on
// another site that rebinds its own name to 127.0.0.1 still sends its name.
// Names compare as DNS does, without case and with or without the root's
// trailing dot; addresses in any spelling of a loopback address (127.0.0.0/8,
// ::1, ::ffff:127.0.0.1), never with an IPv6 zone.
func (b *bridge) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port != b.port {
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Zone() == "" && addr.Unmap().IsLoopback()
}

// tokenValid compares the token from the query or the cookie in constant time.
func (b *bridge) tokenValid(r *http.Request) bool {
	given := r.URL.Query().Get("token")
	if given == "" {
		if c, err := r.Cookie(tokenCookie); err == nil {
			given = c.Value
		}
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(b.token)) == 1
}

// originAllowed lets only the bridge's own page (or one listed with
// --allow-origin) open a WebSocket: browsers send Origin, and a foreign page
// cannot forge it.
func (b *bridge) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" { // "null": a sandboxed frame, a file:// page, a redirect
		return false
	}
	if strings.EqualFold(origin, "http://"+r.Host) { // browsers send both in lower case
		return true
	}
	return b.listedOrigin(origin)
}

// listedOrigin reports whether origin is one listed with --allow-origin.
func (b *bridge) listedOrigin(origin string) bool {
	return origin != "" && slices.ContainsFunc(b.cfg.allowOrigins, func(o string) bool { return strings.EqualFold(origin, o) })
}

// allowCourse lets a page of an origin listed with --allow-origin read the
// lesson API's answer (its refusals too, which say what went wrong): the
// answer names that origin in Access-Control-Allow-Origin. Cookies never
// count for it (no Access-Control-Allow-Credentials): such a page must send
// the token itself. The bridge's own page needs no CORS; any other origin
// gets no CORS header, so its reads stay refused.
func (b *bridge) allowCourse(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); b.listedOrigin(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
	}
}

// preflight answers a CORS preflight of an allowed course page (POST
// /api/check as JSON needs one): the methods and the one header the lesson
// API takes. Chrome's Private Network Access preflights (the forerunner of
// Local Network Access) ask whether a public page may reach this machine;
// for an allowed origin the answer is yes.
func (b *bridge) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveAsset serves the built page: precompressed when the build made a .br
// (brotli) or .gz twin the browser takes, cached for good when the name
// carries its content's hash, revalidated by ETag otherwise.
func (b *bridge) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" {
		name = "index.html"
		if !site.Built() {
			name = "placeholder.html"
		}
	}
	info, err := fs.Stat(b.assets, name)
	if err != nil || info.IsDir() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	// Cross-origin isolation: nothing of another origin may share the page's
	// process, and the page's clock (performance.now) gets its fine resolution.
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Embedder-Policy", "require-corp")
	if hashedName.MatchString(name) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if ctype := contentType(name); ctype != "" {
		h.Set("Content-Type", ctype)
	}
	served := name
	for _, enc := range encodings {
		if _, err := fs.Stat(b.assets, name+enc.suffix); err != nil {
			continue
		}
		h.Set("Vary", "Accept-Encoding") // the answer depends on it, whichever is chosen
		if served == name && accepts(r.Header.Get("Accept-Encoding"), enc.coding) {
			served = name + enc.suffix
			h.Set("Content-Encoding", enc.coding)
		}
	}
	if tag, err := b.etag(served); err == nil {
		h.Set("ETag", tag)
	}
	http.ServeFileFS(w, r, b.assets, served)
}

// encodings are the precompressed twins the build makes, best first.
var encodings = []struct{ coding, suffix string }{
	{"br", ".br"},
	{"gzip", ".gz"},
}

// hashedName matches the names site/build.mjs gives bundles: the content's
// hash is in the name, so a name never changes meaning.
var hashedName = regexp.MustCompile(`^[a-z]+-[A-Za-z0-9]{8,}\.(js|css)(\.map)?$`)

// accepts reports whether an Accept-Encoding header admits coding: listed
// (or "*") without q=0.
func accepts(header, coding string) bool {
	for _, part := range strings.Split(header, ",") {
		token, params, _ := strings.Cut(part, ";")
		token = strings.ToLower(strings.TrimSpace(token))
		if token != coding && token != "*" {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// etag is a strong validator for an embedded asset, from its content,
// computed on first use: embedded files have no modification time.
func (b *bridge) etag(name string) (string, error) {
	if tag, ok := b.etags.Load(name); ok {
		return tag.(string), nil
	}
	content, err := fs.ReadFile(b.assets, name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	tag := `"` + hex.EncodeToString(sum[:12]) + `"`
	b.etags.Store(name, tag)
	return tag, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".wasm":
		return "application/wasm"
	}
	return ""
}
