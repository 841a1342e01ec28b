package bridge

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/runner"
)

// DefaultPort is where the bridge listens unless told otherwise.
const DefaultPort = 7777

// config is everything the command line decides.
type config struct {
	port         int
	allowOrigins []string // origins besides the bridge's own that may open the WebSocket and read the lesson API
	coursePages  []string // for each of allowOrigins, the address of the page hosted there ("https://course.example/sockstep/")
	maxSessions  int      // pages connected at once
	maxPending   int      // calls one page may have waiting at once (each holds a goroutine, e.g. blocked in accept)
	policy       native.Policy
	token        string        // the secret in the URL; random unless a test sets it
	runner       runner.Config // how a Run starts its runner process
	maxMemory    int64         // bytes of memory one runner's program may use
	// maxDataInFlight bounds the bytes of data one page's calls hold in the
	// bridge at once (writes waiting for room, reads waiting to be sent):
	// past it, the page's further calls wait.
	maxDataInFlight int64
}

// runnerGrace is how long Stop waits after SIGTERM before SIGKILL: enough
// for a program that catches SIGTERM to close its clients and its listener.
const runnerGrace = 2 * time.Second

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{policy: native.DefaultPolicy()}
	exe, err := os.Executable()
	if err != nil {
		return cfg, fmt.Errorf("find the sockstep binary, which also runs programs: %w", err)
	}
	cfg.runner = runner.Config{Command: []string{exe, "runner"}, Grace: runnerGrace, MemoryFlag: "--max-memory"}
	maxMemoryMiB := 512
	dataMiB := 8
	fs := flag.NewFlagSet("sockstep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sockstep [flags]\n\nServes the sockstep playground on 127.0.0.1 and performs its socket calls.")
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.port, "port", DefaultPort, "`port` to serve the playground on, on 127.0.0.1 (0: any free port)")
	fs.Func("allow-origin", "also let the page hosted at this `origin` (e.g. https://course.example, or with the page's path: https://course.example/sockstep/) drive the bridge; repeatable", func(s string) error {
		origin, page, err := parseCourseOrigin(s)
		if err != nil {
			return err
		}
		cfg.allowOrigins = append(cfg.allowOrigins, origin)
		cfg.coursePages = append(cfg.coursePages, page)
		return nil
	})
	fs.IntVar(&cfg.maxSessions, "max-sessions", 16, "most pages connected at once")
	fs.IntVar(&cfg.maxPending, "max-pending-calls", 256, "most calls one page's program may have waiting at once (blocked in accept, read, …)")
	fs.IntVar(&cfg.policy.CallsPerSecond, "max-calls-per-second", cfg.policy.CallsPerSecond, "calls a second one page's program may make on average before its calls are slowed down (never refused); 0: no limit")
	fs.IntVar(&cfg.policy.CallBurst, "call-burst", cfg.policy.CallBurst, "calls one page's program may make at once above --max-calls-per-second before it is slowed")
	fs.BoolVar(&cfg.policy.AllowExternal, "allow-external", false, "let learner programs bind and connect beyond loopback (other machines could then reach them)")
	fs.IntVar(&cfg.policy.MaxSockets, "max-sockets", cfg.policy.MaxSockets, "most sockets one page's program may hold open")
	fs.IntVar(&cfg.policy.MaxClients, "max-clients", cfg.policy.MaxClients, "most connections one page's client panel may hold open")
	fs.IntVar(&maxMemoryMiB, "max-memory", maxMemoryMiB, "`MiB` of memory one program may use; past it the program ends with a sentence that says so")
	fs.IntVar(&dataMiB, "max-data-in-flight", dataMiB, "`MiB` of data one page's calls may hold in the bridge at once (writes waiting for room, reads waiting to be sent); past it, its further calls wait")
	fs.Func("ports", fmt.Sprintf("`range` of ports learner programs may bind and connect to (default %d-%d)", cfg.policy.MinPort, cfg.policy.MaxPort), func(s string) error {
		var lo, hi int
		if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d-%d", &lo, &hi); err != nil || lo < 1 || hi > 65535 || lo > hi {
			return fmt.Errorf("%q is not a port range like 1024-65535", s)
		}
		cfg.policy.MinPort, cfg.policy.MaxPort = lo, hi
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see sockstep -h)", fs.Arg(0))
	}
	if cfg.port < 0 || cfg.port > 65535 {
		return cfg, fmt.Errorf("--port %d is not a port number", cfg.port)
	}
	if cfg.maxSessions < 1 || cfg.policy.MaxSockets < 1 || cfg.maxPending < 1 || cfg.policy.MaxClients < 0 {
		return cfg, fmt.Errorf("--max-sessions, --max-sockets and --max-pending-calls must be at least 1, --max-clients at least 0")
	}
	if maxMemoryMiB < 16 {
		return cfg, fmt.Errorf("--max-memory must be at least 16 (MiB): the interpreter needs that much")
	}
	cfg.maxMemory = int64(maxMemoryMiB) << 20
	if dataMiB < 1 {
		return cfg, fmt.Errorf("--max-data-in-flight must be at least 1 (MiB)")
	}
	cfg.maxDataInFlight = int64(dataMiB) << 20
	if cfg.policy.CallsPerSecond < 0 || cfg.policy.CallBurst < 1 {
		return cfg, fmt.Errorf("--max-calls-per-second must be 0 (no limit) or more, and --call-burst at least 1")
	}
	return cfg, nil
}

// parseCourseOrigin reads an --allow-origin value: an origin as browsers send
// it in the Origin header (scheme, host in lower case, a port only when it is
// not the scheme's default), and the address of the page hosted there, which
// may add a path to the origin ("https://course.example/sockstep/").
func parseCourseOrigin(s string) (origin, page string, err error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", "", fmt.Errorf("%q is not an origin like https://host[:port], with at most the page's path after it", s)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	origin = u.Scheme + "://" + host
	if port != "" {
		origin += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return origin, origin + path, nil
}

// insecureOrigin reports whether pages of origin are not a secure context:
// plain http to a host other than a loopback name or address. Chrome lets only
// secure pages ask for the permission to reach this machine (Local Network
// Access), so such a page could not reach the bridge there.
func insecureOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	addr, err := netip.ParseAddr(host)
	return err != nil || !addr.Unmap().IsLoopback()
}
