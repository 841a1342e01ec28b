package bridge

// make dist's binaries, tested as a learner gets them (make dist runs these
// with SOCKSTEP_DIST set; elsewhere they are skipped).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockstep/sockstep/site"
	"github.com/sockstep/sockstep/wasm/engine"
)

// distPlatforms are the binaries make dist builds, by GOOS/GOARCH.
var distPlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}

// distDir is make dist's output, or the test is skipped.
func distDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SOCKSTEP_DIST")
	if dir == "" {
		t.Skip("SOCKSTEP_DIST is not set: make dist runs this test on what it built")
	}
	return dir
}

// TestDistBinaries: every platform's binary is there, matches SHA256SUMS, is
// a self-contained executable for its system and processor — statically
// linked on Linux; on macOS linking only the system's own libraries, and
// signed (macOS runs no unsigned arm64 code) — built without cgo, with paths
// trimmed and no VCS stamp, and embeds the page byte for byte.
func TestDistBinaries(t *testing.T) {
	dir := distDir(t)
	sums := readSums(t, filepath.Join(dir, "SHA256SUMS"))
	if len(sums) != len(distPlatforms)+1 {
		t.Errorf("SHA256SUMS lists %d files; want %d (a binary per platform, and the page): %v", len(sums), len(distPlatforms)+1, sums)
	}
	page := pageFiles(t)
	for _, platform := range distPlatforms {
		goos, goarch, _ := strings.Cut(platform, "/")
		name := "sockstep-" + goos + "-" + goarch
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, name)
			bin, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(bin)
			if got := hex.EncodeToString(sum[:]); sums[name] != got {
				t.Errorf("SHA256SUMS says %q; the file's is %s", sums[name], got)
			}
			if info, err := os.Stat(file); err != nil || info.Mode()&0o111 == 0 {
				t.Errorf("not executable: %v %v", info.Mode(), err)
			}
			checkBuildInfo(t, file, goos, goarch)
			switch goos {
			case "linux":
				checkELF(t, file, goarch)
			case "darwin":
				checkMachO(t, file, goarch)
			}
			for name, content := range page {
				if !bytes.Contains(bin, content) {
					t.Errorf("the page's %s (%d bytes) is not embedded", name, len(content))
				}
			}
		})
	}
}

// TestDistPage: the page for a course's own site is the built page, every
// file byte for byte in a folder sockstep-page/, nothing else, readable by
// all; and its sum is listed.
func TestDistPage(t *testing.T) {
	dir := distDir(t)
	file := filepath.Join(dir, "sockstep-page.tar.gz")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := readSums(t, filepath.Join(dir, "SHA256SUMS"))["sockstep-page.tar.gz"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256SUMS says %q for the page; the file's is %x", got, sum)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	err = fs.WalkDir(site.Dist(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == ".compressed" || strings.HasPrefix(name, "placeholder.html") {
			return err
		}
		want[name], err = fs.ReadFile(site.Dist(), name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		name, ok := strings.CutPrefix(h.Name, "sockstep-page/")
		content, _ := io.ReadAll(tr)
		switch {
		case !ok || h.Typeflag != tar.TypeReg:
			t.Errorf("%s: not a file in sockstep-page/", h.Name)
		case want[name] == nil:
			t.Errorf("%s: not a file of the built page", h.Name)
		case !bytes.Equal(content, want[name]):
			t.Errorf("%s differs from the built page's", h.Name)
		}
		if h.Mode&0o444 != 0o444 || h.Uid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mode %o, owner %d, time %v; want readable by all, 0, the epoch (the same bytes everywhere)", h.Name, h.Mode, h.Uid, h.ModTime)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("the page's %s is missing", name)
	}
}

// readSums reads a sha256sum listing: name → hex digest.
func readSums(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: a line that is not a SHA-256 sum and a name: %q", file, sc.Text())
		}
		sums[strings.TrimPrefix(name, "*")] = sum
	}
	return sums
}

// pageFiles is the built page (what this test binary embeds from
// site/dist): the files a dist binary must hold too.
func pageFiles(t *testing.T) map[string][]byte {
	t.Helper()
	if !site.Built() {
		t.Fatal("the page is not built (make dist builds it)")
	}
	files := map[string][]byte{}
	err := fs.WalkDir(site.Dist(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(site.Dist(), name)
		if len(b) >= 64 { // shorter files could be found by chance
			files[name] = b
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"index.html", "engine.wasm", "engine.wasm.br", "wasm_exec.js"} {
		if files[name] == nil {
			t.Fatalf("the built page has no %s", name)
		}
	}
	return files
}

func checkBuildInfo(t *testing.T, file, goos, goarch string) {
	t.Helper()
	info, err := buildinfo.ReadFile(file)
	if err != nil {
		t.Fatalf("no Go build information: %v", err)
	}
	if info.Path != "github.com/sockstep/sockstep/cmd/sockstep" {
		t.Errorf("main package %q; want github.com/sockstep/sockstep/cmd/sockstep", info.Path)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{"GOOS": goos, "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true", "-buildmode": "exe"} {
		if settings[key] != want {
			t.Errorf("built with %s=%q; want %q", key, settings[key], want)
		}
	}
	for key := range settings {
		if strings.HasPrefix(key, "vcs") {
			t.Errorf("stamped with %s=%q: a commit or a dirty tree would change the bytes", key, settings[key])
		}
	}
}

func checkELF(t *testing.T, file, goarch string) {
	t.Helper()
	f, err := elf.Open(file)
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	if f.Machine != want || f.Type != elf.ET_EXEC {
		t.Errorf("an ELF %v %v; want an executable for %v", f.Type, f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("dynamically linked (%v): it would need the system's libraries", p.Type)
		}
	}
}

func checkMachO(t *testing.T, file, goarch string) {
	t.Helper()
	f, err := macho.Open(file)
	if err != nil {
		t.Fatalf("not a Mach-O file: %v", err)
	}
	defer f.Close()
	want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
	if f.Cpu != want || f.Type != macho.TypeExec {
		t.Errorf("a Mach-O %v for %v; want an executable for %v", f.Type, f.Cpu, want)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		if !strings.HasPrefix(lib, "/usr/lib/") && !strings.HasPrefix(lib, "/System/Library/") {
			t.Errorf("links %s, which a Mac does not have", lib)
		}
	}
	const (
		lcCodeSignature = 0x1d
		lcBuildVersion  = 0x32
		platformMacOS   = 1
		sgReadOnly      = 0x10
	)
	signed := false
	minOS := uint32(0)
	for _, l := range f.Loads {
		raw := l.Raw()
		switch cmd := f.ByteOrder.Uint32(raw); {
		case cmd == lcCodeSignature:
			signed = true
		case cmd == lcBuildVersion && len(raw) >= 16:
			if p := f.ByteOrder.Uint32(raw[8:]); p != platformMacOS {
				t.Errorf("built for Apple platform %d; want macOS (%d)", p, platformMacOS)
			}
			minOS = f.ByteOrder.Uint32(raw[12:])
		}
		// macOS 26's loader refuses a __DATA_CONST segment not marked read-only.
		if seg, ok := l.(*macho.Segment); ok && seg.Name == "__DATA_CONST" && seg.Flag&sgReadOnly == 0 {
			t.Errorf("__DATA_CONST is not marked SG_READ_ONLY: macOS 26 will not start it")
		}
	}
	if goarch == "arm64" && !signed {
		t.Errorf("not signed: macOS on Apple silicon runs no unsigned code")
	}
	// The oldest macOS it starts on (X.Y as 0xXXXXYY00), which README names.
	if major, minor := minOS>>16, minOS>>8&0xff; minOS == 0 || major > 12 {
		t.Errorf("needs macOS %d.%d; README says 12 or later", major, minor)
	}
}

// TestDistRunsHere starts this machine's dist binary as a learner does:
// it prints the URL, serves the page with the token (and refuses it
// without), and runs a program in a runner (the same binary).
func TestDistRunsHere(t *testing.T) {
	dir := distDir(t)
	name := "sockstep-" + runtime.GOOS + "-" + runtime.GOARCH
	file := filepath.Join(dir, name)
	if _, err := os.Stat(file); err != nil {
		t.Skipf("no dist binary for this machine (%s/%s): %v", runtime.GOOS, runtime.GOARCH, err)
	}
	cmd := exec.Command(file, "--port", "0", "--allow-origin", "https://course.example")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%s ended after SIGTERM with %v; log:\n%s", name, err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("%s still ran 10s after SIGTERM", name)
		}
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	var pageURL, courseLink string
	for line := range lines {
		if u := strings.TrimSpace(line); strings.HasPrefix(u, "http://127.0.0.1:") {
			pageURL = u
		}
		if strings.HasPrefix(line, "https://course.example/#bridge=") {
			courseLink = line
		}
		if strings.Contains(line, "Ctrl-C") {
			break
		}
	}
	if pageURL == "" || courseLink == "" {
		t.Fatalf("%s printed no URL or no course link; log:\n%s", name, stderr.String())
	}
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")
	if !strings.HasSuffix(courseLink, "&token="+token) {
		t.Errorf("the course link %s does not carry the token %s", courseLink, token)
	}
	base := "http://" + u.Host

	// The page, with the token, is the built page; without, refused.
	resp, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	index, _ := fs.ReadFile(site.Dist(), "index.html")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, index) {
		t.Errorf("GET %s: %s, %d bytes; want 200 and the built index.html (%d bytes)", pageURL, resp.Status, len(body), len(index))
	}
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET / without the token: %v %v; want 403", resp.Status, err)
	}

	// A program, run as the page runs one: in a runner process.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+u.Host+"/engine?token="+token, http.Header{"Origin": {base}})
	if err != nil {
		t.Fatalf("open /engine: %v", err)
	}
	defer ws.Close()
	c := &engineClient{t: t, ws: ws}
	c.event("session", nil)
	a := c.do(engine.Request{Method: engine.MethodRun, Source: "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello from the dist binary\")\n}\n", Name: "main.go"})
	if a["error"] != nil {
		t.Fatalf("run: %v", a)
	}
	c.event("output", func(e map[string]any) bool {
		return strings.Contains(fmt.Sprint(e["text"]), "hello from the dist binary")
	})
	if ev := c.event("exit", nil); ev["error"] != "" && ev["error"] != nil {
		t.Errorf("the program ended with %v", ev["error"])
	}
}
