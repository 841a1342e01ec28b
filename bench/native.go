package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// What the playground is compared with: the same programs the runners run,
// built with `go build` and run as processes of their own — what a learner
// gets from `go run main.go` — and, for reference, a server written with
// Go's net package inside the bench's own process. A program in its own
// process pays a wake-up of another process for every message, as a runner
// does; a server sharing the load generator's process and scheduler often
// does not (the goroutine that wrote runs the one that reads, on the same
// thread), so it sets a bar no separate process can reach.

// measureNative takes the echo figures of the compiled programs (compiled)
// and of the in-process net server (inProcess).
func measureNative(ctx context.Context, o options) (compiled, inProcess *figures, errs []error) {
	compiled, inProcess = &figures{}, &figures{}
	if err := measureCompiled(ctx, o, compiled); err != nil {
		errs = append(errs, fmt.Errorf("native, compiled: %w", err))
	}
	progress("native: Go's net package in the bench's own process, %s each", o.duration)
	native, err := startNativeEcho()
	if err != nil {
		return compiled, inProcess, append(errs, err)
	}
	defer native.close()
	in := echoServer{addr: native.addr()}
	if err := echoFigures(ctx, o, in, in, inProcess); err != nil {
		errs = append(errs, fmt.Errorf("native, in process: %w", err))
	}
	return compiled, inProcess, errs
}

// measureCompiled builds the default echo server and the goroutine-per-client
// one natively, and measures them as the runners running them are measured.
func measureCompiled(ctx context.Context, o options, f *figures) error {
	progress("native: the same programs built with go build, each a process of its own, %s each", o.duration)
	dir, err := os.MkdirTemp("", "sockstep-bench-native-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var servers [2]echoServer
	for i, program := range []func(int) string{echoOn, concurrentEchoOn} {
		port, err := freePort()
		if err != nil {
			return err
		}
		s, err := startCompiled(ctx, dir, fmt.Sprintf("echo%d", i), program(port), port)
		if err != nil {
			return err
		}
		defer s.stop()
		servers[i] = echoServer{addr: "127.0.0.1:" + strconv.Itoa(port), pid: s.cmd.Process.Pid}
	}
	return echoFigures(ctx, o, servers[0], servers[1], f)
}

// echoServer is a native server under load: its address, and its process
// when that is not the bench's own (0).
type echoServer struct {
	addr string
	pid  int
}

// cpuFrom reads the server process's CPU now; what it returns formats the
// CPU spent since, per echo ("" for the bench's own process).
func (s echoServer) cpuFrom() func(echoes float64) string {
	if s.pid == 0 {
		return func(float64) string { return "" }
	}
	stat := "/proc/" + strconv.Itoa(s.pid) + "/stat"
	before, err := procCPU(stat)
	return func(echoes float64) string {
		after, err2 := procCPU(stat)
		if err != nil || err2 != nil || echoes == 0 {
			return ""
		}
		return fmt.Sprintf("CPU per echo: the native process %.0f µs", float64(after-before)/float64(time.Microsecond)/echoes)
	}
}

// echoFigures runs the loads the runners get against native servers: the
// 1-client echo and a connection per request against one (a server taking
// one client at a time), 32 clients and bulk against many.
func echoFigures(ctx context.Context, o options, one, many echoServer, f *figures) error {
	cpu := one.cpuFrom()
	rate, err := pingPong(ctx, one.addr, 1, o.duration)
	if err != nil {
		return err
	}
	f.one, f.oneNote = rate, cpu(rate*o.duration.Seconds())
	cpu = one.cpuFrom()
	n, rate, err := perRequest(ctx, one.addr, o.duration)
	if err != nil {
		return err
	}
	f.perRequest, f.perRequestNote = rate, cpu(float64(n))
	cpu = many.cpuFrom()
	rate, err = pingPong(ctx, many.addr, 32, o.duration)
	if err != nil {
		return err
	}
	f.many, f.manyNote = rate, cpu(rate*o.duration.Seconds())
	f.bulk, err = bulk(ctx, many.addr, o.duration)
	return err
}

// compiledServer is a playground program built natively, running.
type compiledServer struct {
	cmd *exec.Cmd
}

// startCompiled builds source as its own module in dir/name and starts it,
// with no environment but PATH, and returns once it listens on port.
func startCompiled(ctx context.Context, dir, name, source string, port int) (*compiledServer, error) {
	src := filepath.Join(dir, name)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(source), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module "+name+"\n\ngo 1.22\n"), 0o644); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, name+".bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %v\n%s", name, err, out)
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &compiledServer{cmd: cmd}
	if _, err := waitListening(port, true, 10*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// stop ends the server's process group and waits for it.
func (s *compiledServer) stop() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd.Wait()
}
