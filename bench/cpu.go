package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuTimes is the CPU time used so far by each part a relayed call runs
// through: the engine's Web Worker thread, the page's main thread (the
// renderer process that hosts the worker) and the bridge process. On a
// 2-core machine they compete for the same cores, so CPU per echo says more
// about what limits throughput than any one thread's profile.
type cpuTimes struct{ worker, page, bridge time.Duration }

// userHZ is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

// readCPU reads cpuTimes from /proc: the worker is the renderer thread
// Chromium names DedicatedWorker (the bench's page has one).
func readCPU(bridgePid int) (cpuTimes, error) {
	var t cpuTimes
	var err error
	if t.bridge, err = procCPU(fmt.Sprintf("/proc/%d/stat", bridgePid)); err != nil {
		return t, err
	}
	threads, err := workerThreads()
	for _, th := range threads {
		t.worker += th.cpu
		t.page += th.page
	}
	return t, err
}

// workerThread is a DedicatedWorker thread's CPU time, and that of the main
// thread of the renderer that hosts it.
type workerThread struct{ cpu, page time.Duration }

// workerThreads reads every DedicatedWorker thread in /proc, by "pid/tid".
func workerThreads() (map[string]workerThread, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	found := map[string]workerThread{}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		threads, _ := os.ReadDir("/proc/" + p.Name() + "/task")
		for _, th := range threads {
			dir := "/proc/" + p.Name() + "/task/" + th.Name()
			comm, _ := os.ReadFile(dir + "/comm")
			if strings.TrimSpace(string(comm)) != "DedicatedWorker" {
				continue
			}
			cpu, err := procCPU(dir + "/stat")
			if err != nil {
				continue // it ended meanwhile
			}
			page, _ := procCPU("/proc/" + p.Name() + "/task/" + p.Name() + "/stat")
			found[p.Name()+"/"+th.Name()] = workerThread{cpu, page}
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no DedicatedWorker thread found")
	}
	return found, nil
}

// procCPU is utime+stime from a /proc stat file.
func procCPU(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the name may hold spaces
	if i < 0 {
		return 0, fmt.Errorf("%s: unreadable", path)
	}
	f := strings.Fields(s[i+1:])
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
	return fmt.Sprintf("worker %s, page %s, bridge %s µs", us(after.worker-before.worker), us(after.page-before.page), us(after.bridge-before.bridge))
}
