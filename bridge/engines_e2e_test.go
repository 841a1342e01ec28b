//go:build linux

package bridge

// The core path in the two engines besides Chromium's: Gecko (Debian's
// firefox-esr, over WebDriver BiDi with puppeteer-core) and WebKit (WebKitGTK's
// MiniBrowser, over classic WebDriver, on a virtual X display). The steps are
// site/test/core-path.mjs, one script for both; these tests start the bridge,
// the script and whatever it needs, and make sure every process they started
// has ended.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockstep/sockstep/internal/testnet"
	"github.com/sockstep/sockstep/site"
)

const (
	firefoxPath    = "/usr/bin/firefox-esr"
	webkitDriver   = "/usr/bin/WebKitWebDriver"
	xvfbPath       = "/usr/bin/Xvfb"
	corePathScript = "test/core-path.mjs" // in ../site
)

// needs fails the test in CI, or skips it on a developer's machine, when a
// file it needs is missing; install says how to get them.
func needs(t *testing.T, install string, paths ...string) {
	t.Helper()
	var missing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if !site.Built() {
		missing = append(missing, "the built page")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing %s: %s", strings.Join(missing, ", "), install)
	}
	t.Skipf("missing %s: %s", strings.Join(missing, ", "), install)
}

// nodePath is node, which make build needs anyway.
func nodePath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no node on PATH")
		}
		t.Skip("no node on PATH (install Node.js, then make build)")
	}
	return p
}

func TestBrowserFirefoxCorePath(t *testing.T) {
	node := nodePath(t)
	needs(t, "apt-get install firefox-esr, then make build (which runs npm ci for puppeteer-core)",
		firefoxPath, "../site/node_modules/puppeteer-core/package.json")
	tb := newTestBridge(t, nil)
	profile := t.TempDir()
	out := runCorePath(t, node, "--browser", "firefox", "--firefox", firefoxPath, "--profile", profile,
		"--url", tb.url(), "--port", strconv.Itoa(testnet.FreePort(t)))

	// puppeteer starts Firefox in a process group of its own, whose id the
	// script prints; everything in it must be gone, and so must anything
	// else using this test's profile.
	m := regexp.MustCompile(`(?m)^browser pid (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Errorf("the script did not print Firefox's pid")
	} else {
		pid, _ := strconv.Atoi(m[1])
		noneLeft(t, "Firefox's process group", "-g", strconv.Itoa(pid))
	}
	noneLeft(t, "processes using the test's Firefox profile", "-f", profile)
}

func TestBrowserWebKitCorePath(t *testing.T) {
	node := nodePath(t)
	// WebKitGTK's browser for automation, in the library's folder for this architecture.
	miniBrowser, _ := filepath.Glob("/usr/lib/*/webkit2gtk-4.1/MiniBrowser")
	miniBrowser = append(miniBrowser, "MiniBrowser of libwebkit2gtk-4.1-0")
	needs(t, "apt-get install webkit2gtk-driver xvfb", webkitDriver, miniBrowser[0], xvfbPath)
	tb := newTestBridge(t, nil)
	display := startXvfb(t)
	driver := startWebKitDriver(t, display)
	runCorePath(t, node, "--browser", "webkit", "--webdriver", driver, "--minibrowser", miniBrowser[0],
		"--url", tb.url(), "--port", strconv.Itoa(testnet.FreePort(t)))
}

// runCorePath runs core-path.mjs with args in a process group of its own,
// logs what it printed, fails the test if it failed, and returns its
// standard output. At the end, nothing of the group is left.
func runCorePath(t *testing.T, node string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.Command(node, append([]string{corePathScript}, args...)...)
	cmd.Dir = "../site"
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// SIGTERM if this test's process dies first: puppeteer then ends Firefox.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", corePathScript, err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-pgid, syscall.SIGKILL)
		err = fmt.Errorf("no end within 4 minutes: %w", <-done)
	}
	// The script may have left a child behind (it never should); end it.
	syscall.Kill(-pgid, syscall.SIGKILL)
	t.Logf("node %s %s (%v):\n%s%s", corePathScript, args[:2], time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	if err != nil {
		t.Errorf("the core path failed (the script's output above says at which step): %v", err)
	}
	noneLeft(t, "the script's process group", "-g", strconv.Itoa(pgid))
	return stdout.String()
}

// noneLeft fails the test if pgrep finds a process by its arguments (-g
// PGID, -f PATTERN), and ends each it finds, by its id.
func noneLeft(t *testing.T, what string, pgrepArgs ...string) {
	t.Helper()
	var pids []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := exec.Command("pgrep", pgrepArgs...).Output()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 {
			return // none
		}
		if err != nil {
			t.Errorf("pgrep %s: %v", strings.Join(pgrepArgs, " "), err)
			return
		}
		pids = strings.Fields(string(out))
		if time.Now().After(deadline) {
			break
		}
	}
	t.Errorf("%s: processes %v still run 5s after the test ended them", what, pids)
	for _, p := range pids {
		if pid, err := strconv.Atoi(p); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// startProcess starts cmd in a process group of its own, and when the test
// ends, asks the group to end (SIGTERM), then ends what remains after 5s
// (SIGKILL) and fails the test if anything had to be killed.
func startProcess(t *testing.T, what string, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM} // also if this test's process dies first
	var log logBuffer
	if cmd.Stdout == nil {
		cmd.Stdout = &log
	}
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s did not end within 5s of SIGTERM", what)
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		noneLeft(t, what+"'s process group", "-g", strconv.Itoa(pgid))
		if t.Failed() && log.String() != "" {
			t.Logf("%s said:\n%s", what, log.String())
		}
	})
}

// startXvfb starts a virtual X display for WebKitGTK, which has no
// headless mode, and returns its name (":99"). Xvfb picks a free display
// number itself (-displayfd), so tests on one machine cannot clash.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(xvfbPath, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w} // fd 3
	startProcess(t, "Xvfb", cmd)
	w.Close()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case n := <-line:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb gave no display number: %q", n)
		}
		return ":" + n
	case <-time.After(30 * time.Second):
		t.Fatal("Xvfb gave no display number within 30s")
	}
	return ""
}

// startWebKitDriver starts WebKitWebDriver on a free loopback port, on
// display, and returns its address once it answers.
func startWebKitDriver(t *testing.T, display string) string {
	t.Helper()
	port := strconv.Itoa(testnet.FreePort(t))
	cmd := exec.Command(webkitDriver, "--port="+port)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	startProcess(t, "WebKitWebDriver", cmd)
	addr := "http://127.0.0.1:" + port
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(addr + "/status")
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"ready":true`)) {
			return addr
		}
		last = fmt.Errorf("%s: %s", resp.Status, body)
	}
	t.Fatalf("WebKitWebDriver did not answer on %s within 30s: %v", addr, last)
	return ""
}
