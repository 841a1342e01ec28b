package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuTimes is the CPU time used so far by each part an echo runs through:
// the runner process (the host runner), the engine's Web Worker thread (the
// in-page runner; with the host runner only the editor's compile checks use
// it), the page's main thread and the bridge process. On a 2-core machine
// they compete for the same cores, so CPU per echo says more about what
// limits throughput than any one thread's profile.
type cpuTimes struct {
	runner, worker, page, bridge time.Duration
	hasRunner                    bool
}

// userHZ is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

// readCPU reads cpuTimes from /proc, the worker and the page from the
// browser p's renderers; runnerPid is 0 when no runner process runs the
// program.
func readCPU(p *page, bridgePid, runnerPid int) (cpuTimes, error) {
	var t cpuTimes
	var err error
	if t.bridge, err = procCPU(fmt.Sprintf("/proc/%d/stat", bridgePid)); err != nil {
		return t, err
	}
	if t.hasRunner = runnerPid != 0; t.hasRunner {
		if t.runner, err = procCPU(fmt.Sprintf("/proc/%d/stat", runnerPid)); err != nil {
			return t, fmt.Errorf("the runner: %w", err)
		}
	}
	threads, err := p.rendererThreads()
	for _, th := range threads {
		if th.worker {
			t.worker += th.cpu
		} else {
			t.page += th.cpu
		}
	}
	return t, err
}

// rendererThread is a thread of one of the browser's renderer processes
// that bench reads: a Web Worker (Chromium names the thread DedicatedWorker)
// or a renderer's main thread, which runs its page.
type rendererThread struct {
	worker bool
	cpu    time.Duration
}

// rendererThreads reads, by "pid/tid", the worker and main threads of the
// renderers of this page's browser only: other browsers on the machine (a
// test running meanwhile) are not counted. Other renderers of the browser
// are idle; their threads count for nothing in a difference of two readings.
func (p *page) rendererThreads() (map[string]rendererThread, error) {
	found := map[string]rendererThread{}
	for _, pid := range descendants(p.browserPid) {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if !bytes.Contains(cmdline, []byte("--type=renderer")) {
			continue
		}
		threads, _ := os.ReadDir("/proc/" + pid + "/task")
		for _, th := range threads {
			dir := "/proc/" + pid + "/task/" + th.Name()
			comm, _ := os.ReadFile(dir + "/comm")
			worker := strings.TrimSpace(string(comm)) == "DedicatedWorker"
			if !worker && th.Name() != pid {
				continue
			}
			cpu, err := procCPU(dir + "/stat")
			if err != nil {
				continue // it ended meanwhile
			}
			found[pid+"/"+th.Name()] = rendererThread{worker, cpu}
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no renderer of the browser (pid %d) found in /proc", p.browserPid)
	}
	return found, nil
}

// descendants lists the processes under pid (children, their children, …)
// from /proc.
func descendants(pid int) []string {
	procs, _ := os.ReadDir("/proc")
	children := map[string][]string{}
	for _, e := range procs {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if f := statFields("/proc/" + e.Name() + "/stat"); len(f) > 1 {
			children[f[1]] = append(children[f[1]], e.Name())
		}
	}
	var all []string
	for queue := children[strconv.Itoa(pid)]; len(queue) > 0; queue = queue[1:] {
		all = append(all, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return all
}

// statFields are the fields of a /proc stat file after the name (which may
// hold spaces): state, ppid, …; nil when it cannot be read.
func statFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// procCPU is utime+stime from a /proc stat file.
func procCPU(path string) (time.Duration, error) {
	f := statFields(path)
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: unreadable", path)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: unreadable", path)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// perEcho formats the CPU each part spent between two readings, per echo.
func perEcho(before, after cpuTimes, echoes float64) string {
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond)/echoes) }
	s := ""
	if after.hasRunner {
		s = "runner " + us(after.runner-before.runner) + ", "
	}
	return s + fmt.Sprintf("worker %s, page %s, bridge %s µs", us(after.worker-before.worker), us(after.page-before.page), us(after.bridge-before.bridge))
}
