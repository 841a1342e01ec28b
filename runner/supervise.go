package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/wasm/engine"
)

// Config is how the bridge starts runners.
type Config struct {
	// Command starts a runner: the sockstep binary and "runner" (a test
	// binary that handles "runner" in TestMain serves as well).
	Command []string
	// Grace is how long Stop waits after SIGTERM before SIGKILL.
	Grace time.Duration
	// MemoryFlag names the bridge's flag for Program.MaxMemory, for the
	// sentence that says a program used too much.
	MemoryFlag string
}

// Handlers receive what a runner sends. Each is called from the
// runner's reading goroutine, in order; Events may block, which holds
// the runner back (it then leaves out what the page cannot take).
type Handlers struct {
	Events func(json []byte)               // a JSON array of engine events for the page
	Own    func(*Own)                      // the program's own sockets
	Exit   func(p *Process, status string) // the process has exited; status is how the program ended
}

// Process is a running runner, seen from the bridge.
type Process struct {
	Pid  int
	Name string

	cmd     *exec.Cmd
	conn    net.Conn
	stderr  *headBuffer
	cfg     Config
	start   *Program
	workDir string

	ran      chan Handlers // Run (or Discard) gives read its handlers
	mu       sync.Mutex
	writeMu  sync.Mutex
	ended    *string                    // the runner's own word on how the program ended
	trace    []native.TraceEntry        // the last trace it sent
	traceReq []chan []native.TraceEntry // Trace calls waiting for the next one
	stopping bool                       // Stop sent SIGTERM
	killed   bool                       // SIGKILL after the grace period
	done     chan struct{}              // closed once the process has exited and Exit was called
	status   string
}

// Start starts a runner for st: Spawn, then Run.
func Start(cfg Config, st *Program, h Handlers) (*Process, error) {
	p, err := Spawn(cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Run(st, h); err != nil {
		return nil, err
	}
	return p, nil
}

// Spawn starts a runner that waits for its program: the bridge keeps one
// ready for each page, so that Run does not wait for a process to start
// (about 15 ms here, most of it the runtime's start). The process has an
// empty environment, /dev/null for input, an empty working directory of its
// own, a process group of its own, and dies with the bridge.
func Spawn(cfg Config) (*Process, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("no runner command")
	}
	// Close-on-exec, under ForkLock as os/exec does: no other child started
	// meanwhile may inherit either end (and keep the runner from seeing EOF).
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "runner-control"), os.NewFile(uintptr(fds[1]), "control")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	dir, err := os.MkdirTemp("", workDirPrefix)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("working directory: %w", err)
	}
	p := &Process{cfg: cfg, conn: conn, stderr: &headBuffer{max: 16 << 10}, workDir: dir, done: make(chan struct{}), ran: make(chan Handlers, 1)}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Args = append([]string{"sockstep"}, cfg.Command[1:]...)
	cmd.Env = []string{} // not the bridge's: a learner's variables may hold secrets
	cmd.Dir = dir
	cmd.Stderr = p.stderr // the Go runtime's last words, if it dies
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = sysProcAttr()
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		conn.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start a runner: %w", err)
	}
	p.Pid = cmd.Process.Pid
	go p.read()
	return p, nil
}

// Run hands a spawned runner its program; h receives what the runner
// sends from then on. A runner runs one program. When it fails (the runner
// died while it waited), the runner is discarded and h never called.
func (p *Process) Run(st *Program, h Handlers) error {
	p.mu.Lock()
	if p.start != nil {
		p.mu.Unlock()
		return errors.New("this runner already runs a program")
	}
	p.start, p.Name = st, processName(st.Name)
	p.mu.Unlock()
	if err := p.send(toRunner{Start: st}); err != nil {
		p.Discard() // it died waiting: nobody is to hear of its end
		return fmt.Errorf("start the program: %w", err)
	}
	p.ran <- h
	return nil
}

// Discard ends a runner that will not be used: a spare whose page went away.
func (p *Process) Discard() {
	p.Kill()
	select {
	case p.ran <- Handlers{Events: func([]byte) {}, Own: func(*Own) {}, Exit: func(*Process, string) {}}:
	default: // Run already gave read its handlers
	}
	<-p.done
}

func (p *Process) send(m toRunner) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := p.conn.Write(line(m))
	return err
}

// Request passes a request that steers the program (step, pause,
// setBreakpoints) to the runner, which answers it with an answer event.
func (p *Process) Request(r engine.Request) error {
	if err := p.send(toRunner{Request: &r}); err != nil {
		return errors.New("the program has ended")
	}
	return nil
}

// Trace is the program's trace: asked of the runner while it runs, the
// last one it sent once it has ended.
func (p *Process) Trace() []native.TraceEntry {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.trace
	default:
	}
	ch := make(chan []native.TraceEntry, 1)
	p.mu.Lock()
	p.traceReq = append(p.traceReq, ch)
	p.mu.Unlock()
	if p.send(toRunner{Trace: true}) == nil {
		select {
		case t := <-ch:
			return t
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trace
}

// Stop asks the program to end as a terminal's Ctrl-C would not: SIGTERM,
// which a program may catch to shut down gracefully, then SIGKILL after the
// grace period.
func (p *Process) Stop() {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return
	}
	p.stopping = true
	p.mu.Unlock()
	p.signal(syscall.SIGTERM)
	go func() {
		select {
		case <-p.done:
		case <-time.After(p.cfg.Grace):
			p.mu.Lock()
			p.killed = true
			p.mu.Unlock()
			p.signal(syscall.SIGKILL)
		}
	}()
}

// Signal sends the program sig, as a terminal's Ctrl-C (SIGINT) or a
// service manager (SIGTERM) would: a lesson's check asks a server to shut
// down gracefully with it. Unlike Stop, it never follows with SIGKILL.
func (p *Process) Signal(sig syscall.Signal) { p.signal(sig) }

// Kill ends the program at once: its page went away, or the bridge stops.
func (p *Process) Kill() { p.signal(syscall.SIGKILL) }

// signal signals the runner's process group: the runner and anything it
// may have started.
func (p *Process) signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.Pid, sig)
}

// Done is closed once the process has exited and Handlers.Exit was told.
func (p *Process) Done() <-chan struct{} { return p.done }

// Status is how the program ended, once Done: "" when it ended normally.
func (p *Process) Status() string {
	<-p.done
	return p.status
}

// read takes the runner's lines until it exits, then tells how it ended.
// It starts with the process, and waits for Run before reading: a runner
// says nothing before its program arrives.
func (p *Process) read() {
	h := <-p.ran
	in := bufio.NewReaderSize(p.conn, 64<<10)
	for {
		b, err := in.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			b, err = readLong(in, b)
		}
		if err != nil {
			break
		}
		b = bytes.TrimSuffix(b, []byte{'\n'})
		if len(b) > 0 && b[0] == '[' {
			h.Events(b)
			continue
		}
		var m fromRunner
		if json.Unmarshal(b, &m) != nil {
			continue // not ours to guess at; the process's end will say what went wrong
		}
		switch {
		case m.Own != nil:
			h.Own(m.Own)
		case m.Trace != nil || m.NoTrace:
			t := fromWire(m.Trace)
			p.mu.Lock()
			p.trace = t
			waiting := p.traceReq
			p.traceReq = nil
			p.mu.Unlock()
			for _, ch := range waiting {
				ch <- t
			}
		case m.Ended != nil:
			p.mu.Lock()
			p.ended = m.Ended
			p.mu.Unlock()
		}
	}
	err := p.cmd.Wait()
	p.conn.Close()
	os.RemoveAll(p.workDir)
	p.status = p.describe(err) // read before done is closed, by nobody else
	close(p.done)
	h.Exit(p, p.status)
}

// readLong finishes a line longer than the reader's buffer (a trace).
func readLong(in *bufio.Reader, first []byte) ([]byte, error) {
	b := append([]byte(nil), first...)
	for {
		more, err := in.ReadSlice('\n')
		b = append(b, more...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return b, err
		}
	}
}

var panicLine = regexp.MustCompile(`(?m)^panic: (.*?)(?: \[recovered.*)?$`)

// describe says how the process ended, in the exit event's words.
func (p *Process) describe(waitErr error) string {
	p.mu.Lock()
	ended, stopping, killed := p.ended, p.stopping, p.killed
	p.mu.Unlock()
	if ended != nil && waitErr == nil || ended != nil && *ended != "" {
		return *ended // the runner said it, and exited as it said
	}
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) {
		if waitErr != nil {
			return "the runner failed: " + waitErr.Error()
		}
		return ""
	}
	ws, _ := exit.Sys().(syscall.WaitStatus)
	crash := p.stderr.String()
	switch {
	case ws.Signaled() && killed:
		return fmt.Sprintf("killed after Stop: it did not end within %s of SIGTERM", p.cfg.Grace)
	case ws.Signaled() && ws.Signal() == syscall.SIGTERM && stopping:
		return "terminated by SIGTERM"
	case ws.Signaled():
		return "terminated by " + signalName(ws.Signal())
	// The same sentences as the page's runner says (site/src/worker.js).
	case strings.Contains(crash, "out of memory"):
		return fmt.Sprintf("your program used all the memory a run may have (%d MiB; start the bridge with %s to change it)", p.start.MaxMemory>>20, p.cfg.MemoryFlag)
	case strings.Contains(crash, "stack overflow") || strings.Contains(crash, "stack exceeds"):
		return fmt.Sprintf("your program recursed too deeply: a goroutine's stack passed %d MiB (is a recursive function missing its base case?)", p.start.MaxStack>>20)
	case panicLine.MatchString(crash):
		return fmt.Sprintf("your program panicked in a goroutine: %s. A panic that its own goroutine does not recover ends the whole program", panicLine.FindStringSubmatch(crash)[1])
	case strings.HasPrefix(crash, "fatal error: "):
		first, _, _ := strings.Cut(crash, "\n")
		return first
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	}
	return s.String()
}

// headBuffer keeps the first max bytes written to it: where a crashing Go
// runtime says why, before its goroutine dump.
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *headBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// SweepWorkDirs removes the empty working directories that runners killed
// before they could remove their own (a bridge killed within milliseconds
// of starting one) left in the temporary directory. Empty and a minute
// old: no runner still starting owns it.
func SweepWorkDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), workDirPrefix+"*"))
	for _, d := range dirs {
		if info, err := os.Stat(d); err == nil && info.IsDir() && time.Since(info.ModTime()) > time.Minute {
			os.Remove(d) // fails, harmlessly, unless it is empty
		}
	}
}
