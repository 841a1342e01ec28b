package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sockstep/sockstep/native"
	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/engine"
)

// Main is the runner process (`sockstep runner`): it reads its Program from
// the control socket, runs the program, and exits as the program does —
// with its os.Exit status, 2 after a panic, 1 when it did not compile. It
// exits at once when the bridge goes away (the control socket closes).
func Main() int {
	control, err := net.FileConn(os.NewFile(controlFD, "control"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockstep runner: no control socket: this mode is started by the bridge, not by hand:", err)
		return 2
	}
	if wd, err := os.Getwd(); err == nil && strings.HasPrefix(filepath.Base(wd), workDirPrefix) {
		os.Remove(wd) // empty, and ours alone
	}
	r := newProcess(control)
	if !readable(controlFD) {
		// A spare, started before its program was known, makes the
		// program's interpreter while it waits (on failure, the run makes
		// its own). That was a third of Run → listening; a warm-up program
		// run before it, as spares did, took so long (20-75 ms) that a Run
		// pressed soon after the last one waited for it.
		r.engine.Prepare()
		runtime.GC() // its garbage, collected now rather than while the program starts
	}
	in := bufio.NewReader(control)
	var first toRunner
	if err := readLine(in, &first); err != nil || first.Start == nil {
		fmt.Fprintln(os.Stderr, "sockstep runner: no start message:", err)
		return 2
	}
	st := first.Start
	if err := confine(st); err != nil {
		fmt.Fprintln(os.Stderr, "sockstep runner:", err)
		return 2
	}
	r.begin(st)
	go r.serve(in)
	return r.run()
}

// process is the runner's state: the program's session and engine, and the
// one writer of the control socket.
type process struct {
	start   *Program
	session *native.Session
	engine  *engine.Engine
	out     *sink
	watch   *watcher

	control net.Conn
	mu      sync.Mutex // serializes whole lines on the control socket
	w       *bufio.Writer
	ended   string // the engine's exit status
}

// newProcess makes the process's engine, which a spare prepares before its
// program is known; begin gives it the program's session.
func newProcess(control net.Conn) *process {
	p := &process{control: control, w: bufio.NewWriterSize(control, 64<<10)}
	p.engine = engine.New(p.call, p.emit)
	return p
}

// begin readies the process for st: its session, and what reports to the
// bridge.
func (p *process) begin(st *Program) {
	p.start, p.session = st, native.NewSession(st.Policy)
	p.out = newSink(p.writeLine, func() bool { return unsent(p.control) == 0 })
	p.watch = newWatcher(p.session, func(o *Own) { p.writeLine(line(fromRunner{Own: o})) })
}

// call performs one of the program's calls on its own session.
func (p *process) call(ctx context.Context, c *wire.Call) (*wire.Result, error) {
	res, err := p.session.Do(ctx, c)
	p.watch.touch(native.ChangesLeftovers(c.Op))
	return res, err
}

// emit takes the engine's events: the exit is the bridge's to tell (it
// knows how the process ended), the rest goes to the page.
func (p *process) emit(e engine.Event) {
	if exit, ok := e.(engine.ExitEvent); ok {
		p.mu.Lock()
		p.ended = exit.Error
		p.mu.Unlock()
		return
	}
	p.out.add(e)
}

// writeLine writes one whole line to the bridge.
func (p *process) writeLine(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(b); err != nil {
		return err
	}
	return p.w.Flush()
}

// run runs the program and returns the process's exit status.
func (p *process) run() int {
	go p.watch.run()
	p.engine.RunWith(context.Background(), p.start.Source, engine.Options{Debug: p.start.Debug, Breakpoints: p.start.Breakpoints})
	p.out.flush()
	p.watch.stop()
	p.mu.Lock()
	ended := p.ended
	p.mu.Unlock()
	p.sendTrace()
	p.writeLine(line(fromRunner{Ended: &ended}))
	return exitCode(ended)
}

// exitCode is the status a native program would exit with.
func exitCode(ended string) int {
	switch {
	case ended == "":
		return 0
	case strings.HasPrefix(ended, "exit status "):
		if n, err := strconv.Atoi(strings.TrimPrefix(ended, "exit status ")); err == nil {
			return n
		}
	case strings.HasPrefix(ended, "panic: "):
		return 2 // as Go's runtime exits after a panic
	}
	return 1
}

// serve reads the bridge's requests until the control socket closes, which
// means the bridge is gone: then the runner exits at once.
func (p *process) serve(in *bufio.Reader) {
	for {
		var m toRunner
		err := readLine(in, &m)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			os.Exit(137) // nobody is left to watch this program
		}
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "sockstep runner: bad message from the bridge:", err)
			os.Exit(2)
		case m.Trace:
			p.sendTrace()
		case m.Request != nil:
			go func(r engine.Request) { p.out.add(engine.Answer(r.ID, nil, p.engine.Control(r))) }(*m.Request)
		}
	}
}

func (p *process) sendTrace() {
	t := p.session.Trace()
	p.writeLine(line(fromRunner{Trace: toWire(t), NoTrace: len(t) == 0}))
}

// maxLine bounds one line from the bridge: the Program carries the source.
const maxLine = engine.MaxRequest + 64<<10

func readLine(in *bufio.Reader, v any) error {
	var buf []byte
	for {
		chunk, isPrefix, err := in.ReadLine()
		if err != nil {
			return err
		}
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return fmt.Errorf("a line longer than %d bytes", maxLine)
		}
		if !isPrefix {
			break
		}
	}
	return json.Unmarshal(buf, v)
}

// confine applies the limits every runner has before any learner code
// runs: the memory cap, the stack cap, and the process's name.
func confine(st *Program) error {
	if st.MaxStack > 0 {
		debug.SetMaxStack(st.MaxStack)
	}
	if st.MaxMemory > 0 && !raceEnabled {
		// The collector works harder as the program nears the cap, before
		// the address-space limit makes an allocation fail outright.
		debug.SetMemoryLimit(st.MaxMemory)
		if err := limitMemory(st.MaxMemory); err != nil {
			return fmt.Errorf("cap memory: %w", err)
		}
	}
	setName(processName(st.Name))
	return nil
}

// processName is what `ps` and `ss -tlnp` show for a program: its lesson's
// folder (04-accepting) or its file's name, as the kernel keeps it (15
// bytes).
func processName(file string) string {
	name := strings.TrimSuffix(file, "/main.go")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = "sockstep-run"
	}
	if len(name) > 15 {
		name = name[:15]
	}
	return name
}

// readable reports whether fd has input waiting, without waiting for any:
// a runner started for a program at once (no spare) finds it there.
func readable(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}
